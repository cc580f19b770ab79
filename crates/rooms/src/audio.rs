//! Audio for our participant: PCM sources to publish, and what we measure on what we hear.
//!
//! Everything here is 48 kHz mono signed 16-bit PCM in 20 ms frames ([`FRAME_SAMPLES`]),
//! the format LiveKit's Opus tracks carry. Sources:
//! - [`Tone`]: a sine at a given frequency (interop tests check it arrives at that
//!   frequency), optionally in bursts (the latency suite's audio markers);
//! - [`WavSource`]: a RIFF/WAVE file, 8/16/24/32-bit integer or 32-bit float, any rate and
//!   channel count, mixed to mono and resampled to 48 kHz (linear), looped or not;
//! - [`PcmReader`]: raw s16le 48 kHz mono from any reader, e.g. PulseAudio's
//!   `parec --format=s16le --rate=48000 --channels=1` on a microphone.
//!
//! Measurements: [`dominant_frequency`] (Goertzel scan) and [`rms`].

use std::io::Read;
use std::path::Path;

pub const SAMPLE_RATE: u32 = 48_000;
/// 20 ms at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;

pub type Frame = [i16; FRAME_SAMPLES];

/// Something that yields 20 ms frames of 48 kHz mono PCM.
pub trait PcmSource: Send {
    /// Fills `frame`; `false` when the source is exhausted (the frame is then undefined).
    fn next_frame(&mut self, frame: &mut Frame) -> bool;
}

/// A sine wave, continuous or in bursts.
#[derive(Debug, Clone)]
pub struct Tone {
    pub frequency: f64,
    /// 0.0 ..= 1.0 of full scale.
    pub amplitude: f64,
    /// `Some((on, period))` in frames: sound for `on` frames out of every `period`.
    pub bursts: Option<(u32, u32)>,
    /// Frames to produce; `None` is endless.
    pub frames: Option<u64>,
    phase: f64,
    produced: u64,
}

impl Tone {
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Self {
            frequency,
            amplitude: amplitude.clamp(0.0, 1.0),
            bursts: None,
            frames: None,
            phase: 0.0,
            produced: 0,
        }
    }

    /// Whether frame number `index` (from 0) of this tone is sounding.
    pub fn sounding(&self, index: u64) -> bool {
        match self.bursts {
            Some((on, period)) if period > 0 => index % u64::from(period) < u64::from(on),
            _ => true,
        }
    }
}

impl PcmSource for Tone {
    fn next_frame(&mut self, frame: &mut Frame) -> bool {
        if self.frames.is_some_and(|n| self.produced >= n) {
            return false;
        }
        let on = self.sounding(self.produced);
        let step = std::f64::consts::TAU * self.frequency / f64::from(SAMPLE_RATE);
        let scale = self.amplitude * f64::from(i16::MAX);
        for sample in frame.iter_mut() {
            *sample = if on {
                (self.phase.sin() * scale) as i16
            } else {
                0
            };
            self.phase = (self.phase + step) % std::f64::consts::TAU;
        }
        self.produced += 1;
        true
    }
}

/// Raw s16le 48 kHz mono from a reader (a file, a child's stdout).
pub struct PcmReader<R> {
    reader: R,
    bytes: Vec<u8>,
}

impl<R: Read + Send> PcmReader<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            bytes: vec![0; FRAME_SAMPLES * 2],
        }
    }
}

impl<R: Read + Send> PcmSource for PcmReader<R> {
    fn next_frame(&mut self, frame: &mut Frame) -> bool {
        if self.reader.read_exact(&mut self.bytes).is_err() {
            return false;
        }
        for (sample, pair) in frame.iter_mut().zip(self.bytes.chunks_exact(2)) {
            *sample = i16::from_le_bytes([pair[0], pair[1]]);
        }
        true
    }
}

/// A WAV file, decoded at once to 48 kHz mono.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: Vec<i16>,
    position: usize,
    pub looped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WavError {
    pub path: String,
    pub message: String,
}

impl WavSource {
    pub fn open(path: &Path, looped: bool) -> Result<Self, WavError> {
        let error = |message: String| WavError {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        let samples = decode_wav(&bytes).map_err(error)?;
        Ok(Self {
            samples,
            position: 0,
            looped,
        })
    }

    pub fn from_samples(samples: Vec<i16>, looped: bool) -> Self {
        Self {
            samples,
            position: 0,
            looped,
        }
    }

    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

impl PcmSource for WavSource {
    fn next_frame(&mut self, frame: &mut Frame) -> bool {
        if self.samples.is_empty() || (!self.looped && self.position >= self.samples.len()) {
            return false;
        }
        for sample in frame.iter_mut() {
            if self.position >= self.samples.len() {
                if !self.looped {
                    *sample = 0;
                    continue;
                }
                self.position = 0;
            }
            *sample = self.samples[self.position];
            self.position += 1;
        }
        true
    }
}

/// RIFF/WAVE bytes → 48 kHz mono i16. Errors say what is wrong and what we accept.
pub fn decode_wav(bytes: &[u8]) -> Result<Vec<i16>, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a WAV file (no RIFF/WAVE header): convert it with `sox in.mp3 -r 48000 -c 1 out.wav`".into());
    }
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut data: Option<&[u8]> = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body_start = at + 8;
        // A truncated last chunk (a recording cut short) keeps what is there.
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " if body.len() >= 16 => {
                let tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                // WAVE_FORMAT_EXTENSIBLE: the real tag is the sub-format's first two bytes.
                let tag = if tag == 0xFFFE && body.len() >= 26 {
                    u16::from_le_bytes([body[24], body[25]])
                } else {
                    tag
                };
                format = Some((tag, channels, rate, bits));
            }
            b"data" => data = Some(body),
            _ => {}
        }
        at = body_start.saturating_add(size + (size & 1));
    }
    let (tag, channels, rate, bits) = format.ok_or("no `fmt ` chunk: the file is damaged")?;
    let data = data.ok_or("no `data` chunk: the file has no audio")?;
    // Below 1 kHz, resampling to 48 kHz makes 48 000 samples per input sample.
    if channels == 0 || !(1_000..=384_000).contains(&rate) {
        return Err(format!(
            "{channels} channels at {rate} Hz is not audio Greenroom plays (1 000 to 384 000 Hz): convert it with `sox in.wav -r 48000 out.wav`"
        ));
    }
    let width = match (tag, bits) {
        (1, 8) => 1,
        (1, 16) => 2,
        (1, 24) => 3,
        (1, 32) | (3, 32) => 4,
        _ => {
            return Err(format!(
                "{bits}-bit samples in format {tag} are not supported (we read 8/16/24/32-bit PCM and 32-bit float): convert with `sox in.wav -b 16 out.wav`"
            ));
        }
    };
    let frame_bytes = width * channels as usize;
    let mono: Vec<f32> = data
        .chunks_exact(frame_bytes)
        .map(|frame| {
            let sum: f32 = frame
                .chunks_exact(width)
                .map(|s| match (tag, width) {
                    (1, 1) => (f32::from(s[0]) - 128.0) / 128.0,
                    (1, 2) => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
                    (1, 3) => (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32 / 8_388_608.0,
                    (1, _) => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f32 / 2_147_483_648.0,
                    _ => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                })
                .sum();
            sum / f32::from(channels)
        })
        .collect();
    Ok(resample_linear(&mono, rate, SAMPLE_RATE)
        .into_iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect())
}

fn resample_linear(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let x = i as f64 * step;
            let j = x as usize;
            let frac = (x - j as f64) as f32;
            let a = input[j.min(input.len() - 1)];
            let b = input[(j + 1).min(input.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// 16-bit mono WAV bytes (48 kHz), for tests and for saving what we heard.
pub fn encode_wav(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Root mean square, 0.0 ..= 1.0 of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| (f64::from(s) / 32768.0).powi(2))
        .sum();
    (sum / samples.len() as f64).sqrt()
}

/// Goertzel power of `frequency` in `samples` (48 kHz).
pub fn goertzel_power(samples: &[i16], frequency: f64) -> f64 {
    let coefficient = 2.0 * (std::f64::consts::TAU * frequency / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

/// The strongest frequency in `low..=high` Hz, to within 1 Hz: a 10 Hz scan, then a 1 Hz
/// refinement around the best bin (the resolution is about 1 / duration: 50 Hz for one
/// 20 ms frame). `None` for silence or too little audio (< 10 ms).
pub fn dominant_frequency(samples: &[i16], low: f64, high: f64) -> Option<f64> {
    if samples.len() < SAMPLE_RATE as usize / 100 || rms(samples) < 1e-4 {
        return None;
    }
    let scan = |from: f64, to: f64, step: f64| {
        let mut best = (from, f64::MIN);
        let mut f = from;
        while f <= to {
            let p = goertzel_power(samples, f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best.0
    };
    let coarse = scan(low, high, 10.0);
    Some(scan(
        (coarse - 10.0).max(low),
        (coarse + 10.0).min(high),
        1.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Issue 13.13: resampling a 1 Hz WAV to 48 kHz made 48 000 samples per sample.
    #[test]
    fn an_absurd_sample_rate_is_refused() {
        let mut wav = encode_wav(&[0; 4800]);
        wav[24..28].copy_from_slice(&1u32.to_le_bytes());
        let e = decode_wav(&wav).unwrap_err();
        assert!(e.contains("1 Hz") && e.contains("sox"), "{e}");
    }

    fn collect(source: &mut dyn PcmSource, frames: usize) -> Vec<i16> {
        let mut out = Vec::new();
        let mut frame = [0; FRAME_SAMPLES];
        for _ in 0..frames {
            if !source.next_frame(&mut frame) {
                break;
            }
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn a_tone_is_found_at_its_frequency() {
        for f in [220.0, 440.0, 997.0, 3000.0] {
            let samples = collect(&mut Tone::new(f, 0.3), 25);
            let found = dominant_frequency(&samples, 100.0, 4000.0).unwrap();
            assert!((found - f).abs() <= 2.0, "{f} Hz found as {found}");
            assert!((rms(&samples) - 0.3 / 2f64.sqrt()).abs() < 0.01);
        }
        assert_eq!(dominant_frequency(&[0; 9600], 100.0, 4000.0), None);
    }

    #[test]
    fn bursts_sound_only_in_their_frames_and_a_finite_tone_ends() {
        let mut tone = Tone::new(1000.0, 0.5);
        tone.bursts = Some((2, 10));
        tone.frames = Some(20);
        let mut frame = [0; FRAME_SAMPLES];
        let loud: Vec<bool> = (0..25)
            .map_while(|_| tone.next_frame(&mut frame).then(|| rms(&frame) > 0.1))
            .collect();
        assert_eq!(loud.len(), 20);
        assert_eq!(loud.iter().filter(|&&l| l).count(), 4);
        assert!(loud[0] && loud[1] && !loud[2] && loud[10]);
    }

    #[test]
    fn a_wav_round_trips_and_other_rates_are_resampled() {
        let samples = collect(&mut Tone::new(440.0, 0.3), 10);
        let decoded = decode_wav(&encode_wav(&samples)).unwrap();
        assert_eq!(decoded.len(), samples.len());
        assert!(
            decoded
                .iter()
                .zip(&samples)
                .all(|(a, b)| (a - b).abs() <= 1)
        );

        // 16 kHz stereo 16-bit: resampled to 48 kHz mono, the tone keeps its pitch.
        let mut wav = encode_wav(&[]);
        let stereo: Vec<u8> = (0..16_000)
            .flat_map(|i| {
                let s =
                    ((std::f64::consts::TAU * 440.0 * i as f64 / 16_000.0).sin() * 8000.0) as i16;
                [s.to_le_bytes(), s.to_le_bytes()].concat()
            })
            .collect();
        wav[22..24].copy_from_slice(&2u16.to_le_bytes());
        wav[24..28].copy_from_slice(&16_000u32.to_le_bytes());
        wav[40..44].copy_from_slice(&(stereo.len() as u32).to_le_bytes());
        wav.extend_from_slice(&stereo);
        let decoded = decode_wav(&wav).unwrap();
        assert_eq!(decoded.len(), 48_000);
        let found = dominant_frequency(&decoded, 100.0, 4000.0).unwrap();
        assert!((found - 440.0).abs() <= 2.0, "{found}");
    }

    #[test]
    fn bad_wavs_say_what_is_wrong() {
        assert!(decode_wav(b"ID3 not a wav").unwrap_err().contains("sox"));
        let mut wav = encode_wav(&[1, 2, 3]);
        wav[34..36].copy_from_slice(&12u16.to_le_bytes());
        assert!(decode_wav(&wav).unwrap_err().contains("12-bit"));
        assert!(
            decode_wav(&encode_wav(&[])[..36])
                .unwrap_err()
                .contains("data")
        );
    }

    #[test]
    fn pcm_from_a_reader_is_framed() {
        let bytes: Vec<u8> = (0..FRAME_SAMPLES as i16 * 2)
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut reader = PcmReader::new(&bytes[..]);
        let mut frame = [0; FRAME_SAMPLES];
        assert!(reader.next_frame(&mut frame));
        assert_eq!(frame[5], 5);
        assert!(reader.next_frame(&mut frame));
        assert_eq!(frame[0], FRAME_SAMPLES as i16);
        assert!(!reader.next_frame(&mut frame));
    }

    proptest! {
        /// Whatever the bytes, decoding a WAV never panics.
        #[test]
        fn decode_wav_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), riff in any::<bool>()) {
            let mut input = bytes;
            if riff && input.len() >= 12 {
                input[0..4].copy_from_slice(b"RIFF");
                input[8..12].copy_from_slice(b"WAVE");
            }
            let _ = decode_wav(&input);
        }
    }
}
