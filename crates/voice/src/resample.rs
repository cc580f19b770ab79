//! Any sample rate and channel count to mono at the rate a consumer needs: 16 kHz
//! ([`STT_RATE`]) for speech recognition and the VAD, 48 kHz ([`OPUS_RATE`]) for Opus.
//!
//! Why: microphones deliver 44.1 or 48 kHz, often stereo; TTS engines speak at 16, 22.05
//! or 24 kHz; every consumer wants one rate. One place converts, with rubato's FFT
//! resampler (band-limited: no aliasing of the learner's sibilants into the VAD's band).
//!
//! Semantics:
//! - Down-mixing averages the channels of each frame; non-finite samples count as 0.
//! - [`resample`] converts a whole clip: its output has `ceil(frames × out / in)` samples,
//!   aligned with the input (rubato's start-up delay is trimmed). Equal rates copy.
//! - [`StreamResampler`] converts a live stream in chunks of any size. Its output is the
//!   same signal as [`resample`] of the concatenated input, delivered with a latency of
//!   [`StreamResampler::latency`]; [`StreamResampler::finish`] flushes the rest and
//!   makes the total length `ceil(frames × out / in)`.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use greenroom_core::{Classified, ErrorKind};

use crate::io::{check_rate, duration_of};

/// The rate speech recognition and the VAD take.
pub const STT_RATE: u32 = 16_000;
/// The rate Opus (LiveKit's audio tracks) carries.
pub const OPUS_RATE: u32 = 48_000;
/// The resampler's block, in input frames, rounded up to what the two rates allow
/// (1 323 from 44.1 kHz to 16 kHz: 30 ms, plus 15 ms of filter delay when streaming).
pub const BLOCK: usize = 1024;

/// What can go wrong converting PCM.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("a sample rate of {rate} Hz is not usable: give 1 ..= 384000 Hz")]
    BadRate { rate: u32 },
    #[error("{channels} channels is not usable: give 1 ..= 64")]
    BadChannels { channels: u16 },
    #[error("{samples} interleaved samples do not divide into frames of {channels} channels")]
    Ragged { samples: usize, channels: u16 },
    #[error("the resampler from {rate_in} Hz to {rate_out} Hz failed: {message}")]
    Engine {
        rate_in: u32,
        rate_out: u32,
        message: String,
    },
}

impl Classified for ResampleError {
    fn kind(&self) -> ErrorKind {
        match self {
            ResampleError::BadRate { .. }
            | ResampleError::BadChannels { .. }
            | ResampleError::Ragged { .. } => ErrorKind::InvalidInput,
            ResampleError::Engine { .. } => ErrorKind::Internal,
        }
    }
}

fn rate(rate: u32) -> Result<u32, ResampleError> {
    check_rate(rate).map_err(|_| ResampleError::BadRate { rate })
}

/// Averages each frame of `interleaved` (of `channels` channels) into one mono sample.
pub fn downmix(interleaved: &[f32], channels: u16) -> Result<Vec<f32>, ResampleError> {
    if !(1..=64).contains(&channels) {
        return Err(ResampleError::BadChannels { channels });
    }
    let n = usize::from(channels);
    if !interleaved.len().is_multiple_of(n) {
        return Err(ResampleError::Ragged {
            samples: interleaved.len(),
            channels,
        });
    }
    let clean = |s: &f32| if s.is_finite() { *s } else { 0.0 };
    if n == 1 {
        return Ok(interleaved.iter().map(clean).collect());
    }
    Ok(interleaved
        .chunks_exact(n)
        .map(|frame| frame.iter().map(clean).sum::<f32>() / n as f32)
        .collect())
}

/// A whole clip (`channels` interleaved at `rate_in`) as mono at `rate_out`.
pub fn resample(
    interleaved: &[f32],
    channels: u16,
    rate_in: u32,
    rate_out: u32,
) -> Result<Vec<f32>, ResampleError> {
    let (rate_in, rate_out) = (rate(rate_in)?, rate(rate_out)?);
    let mono = downmix(interleaved, channels)?;
    if rate_in == rate_out || mono.is_empty() {
        return Ok(mono);
    }
    let engine = |e: &dyn std::fmt::Display| ResampleError::Engine {
        rate_in,
        rate_out,
        message: e.to_string(),
    };
    let mut fft = Fft::<f32>::new(
        rate_in as usize,
        rate_out as usize,
        BLOCK,
        1,
        FixedSync::Both,
    )
    .map_err(|e| engine(&e))?;
    let input = InterleavedSlice::new(mono.as_slice(), 1, mono.len()).map_err(|e| engine(&e))?;
    let out = fft
        .process_all(&input, mono.len(), None)
        .map_err(|e| engine(&e))?;
    Ok(out.take_data())
}

/// A whole clip as mono 16 kHz, for the VAD and speech recognition.
pub fn to_stt(interleaved: &[f32], channels: u16, rate_in: u32) -> Result<Vec<f32>, ResampleError> {
    resample(interleaved, channels, rate_in, STT_RATE)
}

/// Converts a mono stream chunk by chunk (a microphone at 48 kHz into the VAD at 16 kHz).
pub struct StreamResampler {
    rate_in: u32,
    rate_out: u32,
    fft: Option<Fft<f32>>,
    pending: Vec<f32>,
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate_in", &self.rate_in)
            .field("rate_out", &self.rate_out)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl StreamResampler {
    /// Works in blocks of [`BLOCK`] input frames or a little more (much more when the two
    /// rates share no useful common divisor: 1 s for 44 101 Hz to 16 kHz).
    pub fn new(rate_in: u32, rate_out: u32) -> Result<Self, ResampleError> {
        let (rate_in, rate_out) = (rate(rate_in)?, rate(rate_out)?);
        let fft = if rate_in == rate_out {
            None
        } else {
            let fft = Fft::<f32>::new(
                rate_in as usize,
                rate_out as usize,
                BLOCK,
                1,
                FixedSync::Both,
            )
            .map_err(|e| ResampleError::Engine {
                rate_in,
                rate_out,
                message: e.to_string(),
            })?;
            Some(fft)
        };
        let to_trim = fft.as_ref().map_or(0, |f| f.output_delay());
        Ok(Self {
            rate_in,
            rate_out,
            fft,
            pending: Vec::new(),
            to_trim,
            frames_in: 0,
            frames_out: 0,
        })
    }

    pub fn rate_in(&self) -> u32 {
        self.rate_in
    }

    pub fn rate_out(&self) -> u32 {
        self.rate_out
    }

    /// How long a sample waits, at most, between [`push`](Self::push) and the output.
    pub fn latency(&self) -> std::time::Duration {
        match &self.fft {
            None => std::time::Duration::ZERO,
            Some(f) => {
                duration_of(f.input_frames_next(), self.rate_in)
                    + duration_of(f.output_delay(), self.rate_out)
            }
        }
    }

    /// Takes `mono` at the input rate; returns whatever output is ready.
    pub fn push(&mut self, mono: &[f32]) -> Result<Vec<f32>, ResampleError> {
        let clean = mono.iter().map(|s| if s.is_finite() { *s } else { 0.0 });
        self.frames_in += mono.len() as u64;
        let Some(block) = self.fft.as_ref().map(|f| f.input_frames_next()) else {
            let out: Vec<f32> = clean.collect();
            self.frames_out += out.len() as u64;
            return Ok(out);
        };
        self.pending.extend(clean);
        let mut out = Vec::new();
        let mut used = 0;
        while self.pending.len() - used >= block {
            let produced = self.run(used, block, None)?;
            out.extend(produced);
            used += block;
        }
        self.pending.drain(..used);
        Ok(out)
    }

    /// Flushes what is pending and the resampler's delay; the stream can then start again.
    pub fn finish(&mut self) -> Result<Vec<f32>, ResampleError> {
        let Some(fft) = self.fft.as_ref() else {
            self.reset();
            return Ok(Vec::new());
        };
        let ratio = fft.resample_ratio();
        let expected = (self.frames_in as f64 * ratio).ceil() as u64;
        let mut out = Vec::new();
        let rest = self.pending.len();
        if rest > 0 {
            out.extend(self.run(0, rest, Some(rest))?);
        }
        let mut guard = 0;
        while self.frames_out < expected && guard < 64 {
            out.extend(self.run(0, 0, Some(0))?);
            guard += 1;
        }
        let excess = self.frames_out.saturating_sub(expected) as usize;
        out.truncate(out.len().saturating_sub(excess));
        self.reset();
        Ok(out)
    }

    fn reset(&mut self) {
        if let Some(f) = self.fft.as_mut() {
            f.reset();
            self.to_trim = f.output_delay();
        }
        self.pending.clear();
        self.frames_in = 0;
        self.frames_out = 0;
    }

    /// Runs one block from `pending[from..from + len]` (`partial`: a short last block).
    fn run(
        &mut self,
        from: usize,
        len: usize,
        partial: Option<usize>,
    ) -> Result<Vec<f32>, ResampleError> {
        let (rate_in, rate_out) = (self.rate_in, self.rate_out);
        let engine = |e: &dyn std::fmt::Display| ResampleError::Engine {
            rate_in,
            rate_out,
            message: e.to_string(),
        };
        let Some(fft) = self.fft.as_mut() else {
            return Ok(Vec::new());
        };
        let slice = &self.pending[from..from + len];
        let input = InterleavedSlice::new(slice, 1, len).map_err(|e| engine(&e))?;
        let indexing = Indexing {
            partial_len: partial,
            ..Indexing::default()
        };
        let mut data = fft
            .process(&input, Some(&indexing))
            .map_err(|e| engine(&e))?
            .take_data();
        let trim = self.to_trim.min(data.len());
        data.drain(..trim);
        self.to_trim -= trim;
        self.frames_out += data.len() as u64;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: u32, seconds: f32, channels: usize) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .flat_map(|i| {
                let s = 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin();
                std::iter::repeat_n(s, channels)
            })
            .collect()
    }

    /// Frequency from the positive-going zero crossings, interpolated between samples.
    fn zero_crossing_hz(s: &[f32], rate: u32) -> f64 {
        let skip = s.len() / 10; // away from the edges
        let body = &s[skip..s.len() - skip];
        let mut crossings = Vec::new();
        for i in 1..body.len() {
            let (a, b) = (body[i - 1] as f64, body[i] as f64);
            if a < 0.0 && b >= 0.0 {
                crossings.push((i - 1) as f64 + a / (a - b));
            }
        }
        let periods = (crossings.len() - 1) as f64;
        rate as f64 * periods / (crossings[crossings.len() - 1] - crossings[0])
    }

    /// Goertzel power of `freq` relative to the signal's energy, 0 ..= 1.
    fn goertzel_share(s: &[f32], rate: u32, freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
        let coeff = 2.0 * w.cos();
        let (mut q1, mut q2) = (0.0f64, 0.0f64);
        for x in s {
            let q0 = coeff * q1 - q2 + *x as f64;
            q2 = q1;
            q1 = q0;
        }
        let power = q1 * q1 + q2 * q2 - coeff * q1 * q2;
        let energy: f64 = s.iter().map(|x| (*x as f64).powi(2)).sum();
        2.0 * power / (energy * s.len() as f64)
    }

    #[test]
    fn a_440_hz_tone_at_44_1_khz_keeps_its_pitch_and_length_at_16_khz() {
        let input = tone(440.0, 44_100, 2.0, 1);
        let out = to_stt(&input, 1, 44_100).unwrap();
        let seconds = out.len() as f64 / 16_000.0;
        assert!((seconds - 2.0).abs() / 2.0 < 0.01, "{seconds} s");
        let hz = zero_crossing_hz(&out, 16_000);
        assert!((hz - 440.0).abs() < 1.0, "{hz} Hz");
        assert!(goertzel_share(&out[1600..30_400], 16_000, 440.0) > 0.9);
        assert!(goertzel_share(&out[1600..30_400], 16_000, 480.0) < 0.05);
    }

    #[test]
    fn stereo_at_48_khz_becomes_mono_at_16_khz_and_back_up_to_opus() {
        let stereo = tone(1000.0, 48_000, 1.0, 2);
        let out = resample(&stereo, 2, 48_000, STT_RATE).unwrap();
        assert_eq!(out.len(), 16_000);
        assert!((zero_crossing_hz(&out, 16_000) - 1000.0).abs() < 1.0);
        let up = resample(&out, 1, STT_RATE, OPUS_RATE).unwrap();
        assert_eq!(up.len(), 48_000);
        assert!((zero_crossing_hz(&up, 48_000) - 1000.0).abs() < 1.0);
    }

    #[test]
    fn streaming_in_ragged_chunks_matches_the_whole_clip() {
        let input = tone(440.0, 44_100, 1.0, 1);
        let whole = resample(&input, 1, 44_100, STT_RATE).unwrap();
        let mut stream = StreamResampler::new(44_100, STT_RATE).unwrap();
        assert!(stream.latency() < std::time::Duration::from_millis(60));
        let mut out = Vec::new();
        let sizes = [1usize, 17, 441, 1000, 3, 4410];
        let (mut at, mut k) = (0, 0);
        while at < input.len() {
            let end = (at + sizes[k % sizes.len()]).min(input.len());
            out.extend(stream.push(&input[at..end]).unwrap());
            at = end;
            k += 1;
        }
        out.extend(stream.finish().unwrap());
        assert_eq!(out.len(), whole.len());
        let worst = out
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "streamed output differs by {worst}");
    }

    #[test]
    fn equal_rates_copy_and_bad_shapes_are_refused() {
        assert_eq!(resample(&[0.1, 0.3], 2, 16_000, 16_000).unwrap(), vec![0.2]);
        assert_eq!(resample(&[], 1, 44_100, 16_000).unwrap(), Vec::<f32>::new());
        let mut same = StreamResampler::new(16_000, 16_000).unwrap();
        assert_eq!(same.push(&[0.5, f32::NAN]).unwrap(), vec![0.5, 0.0]);
        assert!(matches!(
            resample(&[0.0; 3], 2, 16_000, 8_000),
            Err(ResampleError::Ragged { .. })
        ));
        assert!(matches!(
            resample(&[0.0], 0, 16_000, 8_000),
            Err(ResampleError::BadChannels { .. })
        ));
        let e = resample(&[0.0], 1, 0, 8_000).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(StreamResampler::new(16_000, 400_000).is_err());
    }
}
