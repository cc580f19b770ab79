//! The microphone: a cpal input stream as an [`AudioIn`].
//!
//! Why: the session loop wants mono f32 chunks stamped with when they were heard, whatever
//! the device delivers (stereo 48 kHz i16 from a headset, 24-bit from an interface), and it
//! must never be blocked by, nor block, the audio thread.
//!
//! Semantics:
//! - A device is opened with its default input configuration (its native rate, channels and
//!   sample format), asking for [`CALLBACK`] (20 ms) callbacks where it allows, else its own
//!   size. (Left to itself PulseAudio gives a record stream 2 s fragments.)
//! - The callback converts every PCM format cpal has (8 to 64-bit integers, signed or not,
//!   24-bit, f32, f64; DSD is refused) to f32 and averages each frame's channels into one
//!   mono sample (non-finite values count as 0).
//! - Each chunk is stamped with the [`Instant`] its **first** sample was captured, on the
//!   device's sample clock: `origin + samples before it / rate`, where `origin` is the
//!   latest start consistent with every callback of the last [`STAMP_WINDOW`] (no sample is
//!   delivered before it is captured: `origin ≤ callback instant − samples so far / rate`).
//!   Chunks of one stream are so stamped back to back; the origin follows clock drift and
//!   lost samples within the window, and stamps never go backwards. The device's own input
//!   latency (converters, a few ms) is not counted. cpal's capture timestamps are not used:
//!   on PulseAudio they jump between 0 and 100 ms from one callback to the next.
//! - Chunks go into a bounded queue ([`OpenOptions::max_queued`] of audio); when it is full
//!   the **oldest** chunks are dropped and counted ([`Microphone::dropped_chunks`]). The
//!   callback never waits on the reader beyond one short lock.
//! - [`AudioIn::sample_rate`] is the rate of the first device opened, for the microphone's
//!   whole life. A device switched to later is opened at that rate when it supports it (on
//!   PulseAudio always); otherwise [`AudioIn::next_chunk`] converts its chunks
//!   ([`StreamResampler`]), stamped back by the resampler's latency.
//! - [`AudioIn::next_chunk`] waits at most `timeout`: [`Next::Chunk`] or [`Next::Waiting`]
//!   (also while no device is open; the notices say why). It never returns [`Next::Ended`]:
//!   a microphone does not run out.
//! - Dropping the microphone stops its watcher and closes the stream before returning
//!   (waiting at most [`SHUTDOWN_WAIT`](super::SHUTDOWN_WAIT)).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use greenroom_core::lock_unpoisoned;

use super::{
    Activity, DeviceChoice, DeviceInfo, DeviceNotice, Direction, Endpoint, ErrorSink, OPEN_TIMEOUT,
    OpenOptions, WatcherHandle,
};
use crate::io::{AudioChunk, AudioError, AudioIn, Next, duration_of, samples_in};
use crate::resample::StreamResampler;

/// The callback length asked of a device.
pub const CALLBACK: Duration = Duration::from_millis(20);
/// How far back the stamp origin looks (see the module docs).
pub const STAMP_WINDOW: Duration = Duration::from_secs(2);

/// A live microphone. See the module docs for what it delivers.
pub struct Microphone {
    queue: Arc<ChunkQueue>,
    rate: u32,
    resampler: Option<StreamResampler>,
    watcher: WatcherHandle,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("rate", &self.rate)
            .field("device", &self.device())
            .field("dropped_chunks", &self.dropped_chunks())
            .finish()
    }
}

impl Microphone {
    /// Opens `choice` with the default options.
    pub fn open(choice: DeviceChoice) -> Result<Self, AudioError> {
        Self::open_with(choice, OpenOptions::default())
    }

    /// Opens `choice`; [`AudioError::NoMicrophone`] (or [`AudioError::MicrophoneBlocked`])
    /// when no input device can be started.
    pub fn open_with(choice: DeviceChoice, options: OpenOptions) -> Result<Self, AudioError> {
        let queue = Arc::new(ChunkQueue::new(options.max_queued));
        let rate = Arc::new(AtomicU32::new(0));
        let endpoint = Capture {
            queue: queue.clone(),
            rate: rate.clone(),
        };
        let watcher = WatcherHandle::spawn(endpoint, choice, options.on_notice)?;
        Ok(Self {
            queue,
            rate: rate.load(Ordering::Acquire),
            resampler: None,
            watcher,
        })
    }

    /// The device in use now; `None` while none is open.
    pub fn device(&self) -> Option<DeviceInfo> {
        self.watcher.device()
    }

    /// How many chunks were dropped because the reader fell behind.
    pub fn dropped_chunks(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }

    /// The notices since the last call, oldest first.
    pub fn take_notices(&self) -> Vec<DeviceNotice> {
        self.watcher.notices.take()
    }

    fn convert(&mut self, chunk: AudioChunk) -> Result<Next, AudioError> {
        let failed = |e: crate::resample::ResampleError| AudioError::Device {
            device: "microphone".into(),
            message: e.to_string(),
        };
        let resampler = match &mut self.resampler {
            Some(r) if r.rate_in() == chunk.sample_rate => r,
            slot => {
                slot.insert(StreamResampler::new(chunk.sample_rate, self.rate).map_err(failed)?)
            }
        };
        let samples = resampler.push(&chunk.samples).map_err(failed)?;
        if samples.is_empty() {
            return Ok(Next::Waiting);
        }
        // The output ends where the input ended, less the resampler's delay.
        let back = resampler.latency() + duration_of(samples.len(), self.rate);
        let captured_at = (chunk.captured_at + chunk.duration())
            .checked_sub(back)
            .unwrap_or(chunk.captured_at);
        Ok(Next::Chunk(AudioChunk {
            samples,
            sample_rate: self.rate,
            captured_at,
        }))
    }
}

impl AudioIn for Microphone {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn next_chunk(&mut self, timeout: Duration) -> Result<Next, AudioError> {
        let Some(chunk) = self.queue.pop(timeout) else {
            return Ok(Next::Waiting);
        };
        if chunk.sample_rate == self.rate {
            self.resampler = None;
            return Ok(Next::Chunk(chunk));
        }
        self.convert(chunk)
    }
}

/// A queue of at most `capacity` of audio that drops its oldest chunks when full.
struct ChunkQueue {
    state: Mutex<Queued>,
    ready: Condvar,
    capacity: Duration,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Queued {
    chunks: VecDeque<AudioChunk>,
    audio: Duration,
}

impl ChunkQueue {
    fn new(capacity: Duration) -> Self {
        Self {
            state: Mutex::new(Queued::default()),
            ready: Condvar::new(),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    fn push(&self, chunk: AudioChunk) {
        let mut state = lock_unpoisoned(&self.state);
        state.audio += chunk.duration();
        state.chunks.push_back(chunk);
        // The newest chunk always stays, even when it alone is over the capacity.
        while state.audio > self.capacity && state.chunks.len() > 1 {
            if let Some(old) = state.chunks.pop_front() {
                state.audio = state.audio.saturating_sub(old.duration());
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(state);
        self.ready.notify_one();
    }

    fn pop(&self, timeout: Duration) -> Option<AudioChunk> {
        let state = lock_unpoisoned(&self.state);
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |q| q.chunks.is_empty())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let chunk = state.chunks.pop_front()?;
        state.audio = state.audio.saturating_sub(chunk.duration());
        Some(chunk)
    }
}

/// The capture side of a watcher: opens input streams that feed the queue.
struct Capture {
    queue: Arc<ChunkQueue>,
    /// The microphone's rate: 0 until the first device opened.
    rate: Arc<AtomicU32>,
}

impl Endpoint for Capture {
    const DIRECTION: Direction = Direction::Input;
    type Running = cpal::Stream;

    fn default_device(host: &cpal::Host) -> Option<cpal::Device> {
        host.default_input_device()
    }

    fn start(
        &mut self,
        device: &cpal::Device,
        activity: Arc<Activity>,
        on_error: ErrorSink,
    ) -> Result<cpal::Stream, cpal::Error> {
        let default = device.default_input_config()?;
        let format = default.sample_format();
        let channels = default.channels();
        let mut rate = default.sample_rate();
        let wanted = self.rate.load(Ordering::Acquire);
        if wanted != 0 && wanted != rate {
            let supported = device.supported_input_configs().is_ok_and(|mut ranges| {
                ranges.any(|r| {
                    r.channels() == channels
                        && r.sample_format() == format
                        && r.contains_rate(wanted)
                })
            });
            if supported {
                rate = wanted;
            }
        }
        // 20 ms callbacks where the device allows: left to itself, PulseAudio treats the
        // stream as latency-tolerant (2 s fragments) and a real source then delivers in
        // bursts. Its own size where a fixed one fails (WASAPI shared mode may).
        let period = u32::try_from(samples_in(CALLBACK, rate))
            .unwrap_or(u32::MAX)
            .max(1);
        let fits = matches!(default.buffer_size(),
            cpal::SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&period));
        let mut sizes = vec![cpal::BufferSize::Default];
        if fits {
            sizes.insert(0, cpal::BufferSize::Fixed(period));
        }
        let mut last = None;
        for buffer_size in sizes {
            let config = cpal::StreamConfig {
                channels,
                sample_rate: rate,
                buffer_size,
            };
            let on_error = on_error.clone();
            let callback = callback(self.queue.clone(), activity.clone(), channels, rate);
            let built = device.build_input_stream_raw(
                config,
                format,
                callback,
                move |e| on_error(e),
                Some(OPEN_TIMEOUT),
            );
            match built.and_then(|stream| stream.play().map(|()| stream)) {
                Ok(stream) => {
                    if wanted == 0 {
                        self.rate.store(rate, Ordering::Release);
                    }
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| cpal::Error::new(cpal::ErrorKind::UnsupportedConfig)))
    }

    fn none_error(reason: String) -> AudioError {
        AudioError::NoMicrophone { reason }
    }
}

/// The audio callback: mono f32, stamped, into the queue.
fn callback(
    queue: Arc<ChunkQueue>,
    activity: Arc<Activity>,
    channels: u16,
    rate: u32,
) -> impl FnMut(&cpal::Data, &cpal::InputCallbackInfo) + Send + 'static {
    let mut stamper = Stamper::new(rate);
    move |data, _info| {
        let now = Instant::now();
        activity.touch();
        if let Some(samples) = to_mono(data, channels).filter(|s| !s.is_empty()) {
            let captured_at = stamper.stamp(now, samples.len());
            queue.push(AudioChunk {
                samples,
                sample_rate: rate,
                captured_at,
            });
        }
    }
}

/// Stamps the chunks of one stream on its sample clock (see the module docs).
struct Stamper {
    rate: u32,
    /// The first callback's instant: every other time is kept as nanoseconds from it.
    base: Option<Instant>,
    /// Samples stamped so far.
    samples: u64,
    /// (callback time, origin candidate) for the window, candidates increasing: the front
    /// is the window's minimum.
    candidates: VecDeque<(i128, i128)>,
    last: Option<i128>,
}

impl Stamper {
    fn new(rate: u32) -> Self {
        Self {
            rate: rate.max(1),
            base: None,
            samples: 0,
            candidates: VecDeque::new(),
            last: None,
        }
    }

    /// The capture instant of the first of `len` samples delivered at `now`.
    fn stamp(&mut self, now: Instant, len: usize) -> Instant {
        let base = *self.base.get_or_insert(now);
        let nanos = |samples: u64| i128::from(samples) * 1_000_000_000 / i128::from(self.rate);
        let at = i128::try_from(now.saturating_duration_since(base).as_nanos()).unwrap_or(0);
        let start = nanos(self.samples);
        self.samples += len as u64;
        // The stream's first sample can have been captured no later than this.
        let candidate = at - nanos(self.samples);
        while self.candidates.back().is_some_and(|(_, c)| *c >= candidate) {
            self.candidates.pop_back();
        }
        self.candidates.push_back((at, candidate));
        let window = i128::try_from(STAMP_WINDOW.as_nanos()).unwrap_or(i128::MAX);
        while self
            .candidates
            .front()
            .is_some_and(|(t, _)| *t < at - window)
        {
            self.candidates.pop_front();
        }
        let origin = self.candidates.front().map_or(candidate, |(_, c)| *c);
        let mut stamp = origin + start;
        if let Some(last) = self.last {
            stamp = stamp.max(last);
        }
        self.last = Some(stamp);
        if stamp >= 0 {
            base + Duration::from_nanos(u64::try_from(stamp).unwrap_or(u64::MAX))
        } else {
            let back = Duration::from_nanos(u64::try_from(-stamp).unwrap_or(u64::MAX));
            base.checked_sub(back).unwrap_or(base)
        }
    }
}

/// Any PCM buffer cpal hands over as mono f32; `None` for DSD and unknown formats.
fn to_mono(data: &cpal::Data, channels: u16) -> Option<Vec<f32>> {
    use cpal::SampleFormat as F;
    fn of<T: cpal::SizedSample>(data: &cpal::Data, channels: u16) -> Option<Vec<f32>>
    where
        f32: cpal::FromSample<T>,
    {
        data.as_slice::<T>().map(|s| mono_of(s, channels))
    }
    match data.sample_format() {
        F::I8 => of::<i8>(data, channels),
        F::I16 => of::<i16>(data, channels),
        F::I24 => of::<cpal::I24>(data, channels),
        F::I32 => of::<i32>(data, channels),
        F::I64 => of::<i64>(data, channels),
        F::U8 => of::<u8>(data, channels),
        F::U16 => of::<u16>(data, channels),
        F::U24 => of::<cpal::U24>(data, channels),
        F::U32 => of::<u32>(data, channels),
        F::U64 => of::<u64>(data, channels),
        F::F32 => of::<f32>(data, channels),
        F::F64 => of::<f64>(data, channels),
        _ => None,
    }
}

/// Interleaved samples of `channels` channels as mono f32: each frame's average, with
/// non-finite values as 0 (a trailing partial frame is averaged over what it has).
fn mono_of<T: Copy>(interleaved: &[T], channels: u16) -> Vec<f32>
where
    f32: cpal::FromSample<T>,
{
    let clean = |s: T| {
        let v = <f32 as cpal::FromSample<T>>::from_sample_(s);
        if v.is_finite() { v } else { 0.0 }
    };
    let n = usize::from(channels.max(1));
    if n == 1 {
        return interleaved.iter().map(|s| clean(*s)).collect();
    }
    interleaved
        .chunks(n)
        .map(|frame| frame.iter().map(|s| clean(*s)).sum::<f32>() / frame.len() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_integer_and_float_format_becomes_mono_f32() {
        assert_eq!(mono_of(&[i16::MIN, 0, 16384], 1), vec![-1.0, 0.0, 0.5]);
        assert_eq!(mono_of(&[0u8, 128, 255], 1)[1], 0.0);
        assert!((mono_of(&[255u8], 1)[0] - 0.992_187_5).abs() < 1e-6);
        let stereo = mono_of(&[0.5f32, -0.5, 1.0, 0.0], 2);
        assert_eq!(stereo, vec![0.0, 0.5]);
        let wide = mono_of(&[1.0f64, 1.0, 1.0, f64::NAN, 1.0, 0.0], 3);
        assert_eq!(wide, vec![1.0, 1.0 / 3.0]);
        let i24 = cpal::I24::new(1 << 22).unwrap();
        assert_eq!(mono_of(&[i24], 1), vec![0.5]);
        assert_eq!(mono_of(&[i32::MIN, i32::MIN], 2), vec![-1.0]);
        assert!(mono_of::<i16>(&[], 2).is_empty());
        assert_eq!(mono_of(&[0.25f32, 0.75, 1.0], 2), vec![0.5, 1.0]);
    }

    fn chunk(n: usize) -> AudioChunk {
        AudioChunk {
            samples: vec![n as f32],
            sample_rate: 16_000,
            captured_at: Instant::now(),
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_chunks_and_counts_them() {
        // Chunks of 1 sample at 16 kHz: 62.5 µs each; room for three.
        let queue = ChunkQueue::new(Duration::from_micros(190));
        for n in 0..5 {
            queue.push(chunk(n));
        }
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 2);
        let got: Vec<f32> = std::iter::from_fn(|| queue.pop(Duration::ZERO))
            .map(|c| c.samples[0])
            .collect();
        assert_eq!(got, vec![2.0, 3.0, 4.0]);
    }

    #[test]
    fn the_newest_chunk_stays_even_over_the_capacity() {
        let queue = ChunkQueue::new(Duration::ZERO);
        queue.push(chunk(1));
        queue.push(chunk(2));
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(queue.pop(Duration::ZERO).unwrap().samples, vec![2.0]);
    }

    #[test]
    fn chunks_are_stamped_back_to_back_on_the_sample_clock() {
        // 5 ms chunks at 16 kHz delivered with up to 7 ms of jitter.
        let mut stamper = Stamper::new(16_000);
        let t0 = Instant::now();
        let jitter = [3u64, 0, 7, 1, 5, 2, 6, 0, 4, 7];
        let mut stamps = Vec::new();
        for i in 0..400u64 {
            let delivered = t0 + Duration::from_millis(5 * (i + 1) + jitter[(i % 10) as usize]);
            stamps.push((stamper.stamp(delivered, 80), delivered));
        }
        for (i, pair) in stamps.windows(2).enumerate().skip(1) {
            let step = pair[1].0 - pair[0].0;
            assert!(step <= Duration::from_millis(5), "chunk {i}: {step:?}");
            assert!(pair[1].0 >= pair[0].0);
        }
        for (stamp, delivered) in &stamps {
            assert!(
                *stamp + Duration::from_millis(5) <= *delivered,
                "never after delivery"
            );
        }
        // Past the first callbacks the origin is the true one (t0) within a microsecond.
        let (late, _) = stamps[300];
        let err = late.duration_since(t0).as_secs_f64() - 1.5;
        assert!(err.abs() < 1e-6, "{err}");
    }

    #[test]
    fn the_stamps_follow_a_gap_in_the_stream() {
        let mut stamper = Stamper::new(1000);
        let t0 = Instant::now();
        for i in 0..10u64 {
            stamper.stamp(t0 + Duration::from_millis(10 * (i + 1)), 10);
        }
        // 500 ms of samples lost, then regular again: within the window the stamps lag by
        // the gap, after it they are right again.
        let mut last = t0;
        for i in 0..300u64 {
            last = stamper.stamp(t0 + Duration::from_millis(600 + 10 * (i + 1)), 10);
        }
        let expected = t0 + Duration::from_millis(600 + 10 * 299);
        let err = last.duration_since(t0).as_secs_f64() - expected.duration_since(t0).as_secs_f64();
        assert!(err.abs() < 1e-6, "{err}");
    }

    #[test]
    fn an_empty_queue_waits_at_most_the_timeout_and_wakes_on_a_push() {
        let queue = Arc::new(ChunkQueue::new(Duration::from_secs(1)));
        let t0 = Instant::now();
        assert!(queue.pop(Duration::from_millis(30)).is_none());
        assert!(t0.elapsed() >= Duration::from_millis(30));
        let pusher = queue.clone();
        let thread = std::thread::spawn(move || pusher.push(chunk(7)));
        let got = queue
            .pop(Duration::from_secs(10))
            .expect("woken by the push");
        assert_eq!(got.samples, vec![7.0]);
        thread.join().unwrap();
    }
}
