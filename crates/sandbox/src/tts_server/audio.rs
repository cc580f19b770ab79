//! 16-bit mono audio in memory: reading the WAV an engine writes (including espeak-ng's
//! streamed header, whose sizes are placeholders), writing a correct WAV, and resampling
//! to OpenAI's 24 kHz `pcm`. Pure Rust, so Windows needs no sox.

use greenroom_core::{Classified, ErrorKind};

/// Mono 16-bit samples at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm16 {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

impl Pcm16 {
    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Why bytes could not be read as a WAV this module handles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF/WAVE file ({0} bytes)")]
    NotWav(usize),
    #[error("the WAV has no `fmt ` chunk before its data")]
    NoFormat,
    #[error("the WAV has no `data` chunk")]
    NoData,
    #[error("the WAV is {bits}-bit with format tag {tag}; only 16-bit integer PCM is read")]
    Unsupported { tag: u16, bits: u16 },
    #[error("the WAV declares {channels} channels at {rate} Hz (1 000 to 384 000 Hz are read)")]
    BadFormat { channels: u16, rate: u32 },
}

impl Classified for WavError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a 16-bit integer PCM WAV, any channel count (averaged to mono). A `data` chunk
/// whose declared size runs past the end (a streamed header, as `espeak-ng --stdout`
/// writes) is read to the end of the bytes.
pub fn parse_wav(bytes: &[u8]) -> Result<Pcm16, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::NotWav(bytes.len()));
    }
    let mut at = 12;
    let mut format: Option<(u16, u32)> = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let body = at + 8;
        match id {
            b"fmt " => {
                let tag = u16_at(bytes, body).ok_or(WavError::NoFormat)?;
                let channels = u16_at(bytes, body + 2).ok_or(WavError::NoFormat)?;
                let rate = u32_at(bytes, body + 4).ok_or(WavError::NoFormat)?;
                let bits = u16_at(bytes, body + 14).ok_or(WavError::NoFormat)?;
                // 0xFFFE is WAVE_FORMAT_EXTENSIBLE; at 16 bits it is integer PCM in practice.
                if !(tag == 1 || tag == 0xFFFE) || bits != 16 {
                    return Err(WavError::Unsupported { tag, bits });
                }
                // Resampling a 1 Hz WAV to 24 kHz would make 24 000 samples per sample.
                if channels == 0 || !(1_000..=384_000).contains(&rate) {
                    return Err(WavError::BadFormat { channels, rate });
                }
                format = Some((channels, rate));
            }
            b"data" => {
                let (channels, rate) = format.ok_or(WavError::NoFormat)?;
                let end = body.saturating_add(size as usize).min(bytes.len());
                let data = bytes.get(body..end).unwrap_or_default();
                let frame = 2 * usize::from(channels);
                let samples = data
                    .chunks_exact(frame)
                    .map(|f| {
                        let sum: i32 = f
                            .chunks_exact(2)
                            .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                            .sum();
                        (sum / i32::from(channels)) as i16
                    })
                    .collect();
                return Ok(Pcm16 {
                    sample_rate: rate,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    Err(WavError::NoData)
}

/// A canonical 44-byte-header WAV: PCM, mono, 16-bit.
pub fn encode_wav(pcm: &Pcm16) -> Vec<u8> {
    let data_len = (pcm.samples.len() * 2).min(u32::MAX as usize - 36) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&pcm.sample_rate.to_le_bytes());
    out.extend_from_slice(&(pcm.sample_rate.saturating_mul(2)).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(&pcm_bytes(&pcm.samples[..data_len as usize / 2]));
    out
}

/// Raw little-endian 16-bit samples.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Resamples with Catmull-Rom (cubic) interpolation. Good enough for speech going up
/// (16 or 22.05 kHz → 24 kHz, what this server does); going down, a moving average over
/// the ratio first keeps the worst aliasing out.
pub fn resample(pcm: &Pcm16, to: u32) -> Pcm16 {
    let from = pcm.sample_rate;
    if from == to || pcm.samples.is_empty() || from == 0 || to == 0 {
        return Pcm16 {
            sample_rate: if to == 0 { from } else { to },
            samples: pcm.samples.clone(),
        };
    }
    let source: Vec<f32> = if from > to {
        let width = from.div_ceil(to) as usize;
        let s = &pcm.samples;
        (0..s.len())
            .map(|i| {
                let lo = i.saturating_sub(width / 2);
                let hi = (lo + width).min(s.len());
                let sum: f32 = s[lo..hi].iter().map(|&v| f32::from(v)).sum();
                sum / (hi - lo) as f32
            })
            .collect()
    } else {
        pcm.samples.iter().map(|&v| f32::from(v)).collect()
    };
    let n_out = (source.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let last = source.len() as isize - 1;
    let at = |i: isize| source[i.clamp(0, last) as usize];
    let step = f64::from(from) / f64::from(to);
    let samples = (0..n_out)
        .map(|k| {
            let x = k as f64 * step;
            let i = x.floor() as isize;
            let t = (x - x.floor()) as f32;
            let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
            let v = p1
                + 0.5
                    * t
                    * (p2 - p0
                        + t * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3
                            + t * (3.0 * (p1 - p2) + p3 - p0)));
            v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
        })
        .collect();
    Pcm16 {
        sample_rate: to,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13.13: a 1 Hz WAV resampled to 24 kHz made 24 000 samples per sample.
    #[test]
    fn an_absurd_sample_rate_is_refused() {
        for rate in [1, 999, 1_000_000] {
            let wav = encode_wav(&Pcm16 {
                sample_rate: rate,
                samples: vec![0; 1000],
            });
            assert!(
                matches!(parse_wav(&wav), Err(WavError::BadFormat { .. })),
                "{rate} Hz"
            );
        }
        assert!(parse_wav(&encode_wav(&tone(8_000, 0.1))).is_ok());
    }

    fn tone(rate: u32, secs: f64) -> Pcm16 {
        let n = (f64::from(rate) * secs) as usize;
        Pcm16 {
            sample_rate: rate,
            samples: (0..n)
                .map(|i| {
                    ((i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0)
                        as i16
                })
                .collect(),
        }
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let pcm = tone(22_050, 0.3);
        assert_eq!(parse_wav(&encode_wav(&pcm)), Ok(pcm));
    }

    #[test]
    fn reads_a_streamed_header_to_the_end() {
        let pcm = tone(22_050, 0.1);
        let mut wav = encode_wav(&pcm);
        wav[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        wav[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(parse_wav(&wav), Ok(pcm));
    }

    #[test]
    fn downmixes_stereo_and_refuses_what_it_cannot_read() {
        let mut wav = encode_wav(&Pcm16 {
            sample_rate: 8000,
            samples: vec![100, 300, -50, -150],
        });
        wav[22] = 2; // two channels
        assert_eq!(parse_wav(&wav).map(|p| p.samples), Ok(vec![200, -100]));
        wav[34] = 8; // 8-bit
        assert!(matches!(
            parse_wav(&wav),
            Err(WavError::Unsupported { bits: 8, .. })
        ));
        assert_eq!(parse_wav(b"ID3\x03"), Err(WavError::NotWav(4)));
        let short = encode_wav(&Pcm16 {
            sample_rate: 8000,
            samples: vec![1],
        });
        assert_eq!(parse_wav(&short[..36]), Err(WavError::NoData));
    }

    #[test]
    fn resampling_keeps_duration_and_level() {
        for from in [16_000, 22_050, 48_000] {
            let pcm = tone(from, 0.5);
            let out = resample(&pcm, 24_000);
            assert_eq!(out.sample_rate, 24_000);
            assert!(
                (out.duration_secs() - 0.5).abs() < 0.01,
                "{from}: {}",
                out.duration_secs()
            );
            let peak = out
                .samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap_or(0);
            assert!((7000..=8200).contains(&peak), "{from}: peak {peak}");
        }
    }
}
