//! The speaker: a rodio output as an [`AudioOut`] that stops at once (barge-in).
//!
//! Why: when the learner speaks over Marie, her voice must stop within
//! [`MAX_STOP_LATENCY`](crate::io::MAX_STOP_LATENCY). A rodio `Player` only notices a stop
//! every 5 ms and blocks the next `append` until the stop is flushed; so the speaker feeds the
//! device mixer one endless source of its own that checks a stop counter at every sample.
//!
//! Semantics:
//! - The device is opened with its default output configuration, asking for 25 ms
//!   callbacks (two of them buffered: about 50 ms between a sample leaving the speaker's feed
//!   and the loudspeaker), else rodio's own size.
//! - The feed is mono f32 at the **feed rate**: the first device's rate, for the speaker's
//!   life. [`AudioOut::play`] converts each clip to it (rubato, on the caller's thread), then
//!   queues it and returns; rodio's mixer spreads it over the device's channels (and converts
//!   it if a later device has another rate). Empty clips are accepted and play nothing.
//! - [`AudioOut::stop`] drops the clip sounding and everything queued: the feed gives
//!   silence from its very next sample, so what still sounds is what the device had buffered
//!   (about 50 ms). [`AudioOut::is_playing`] turns false at once.
//! - [`AudioOut::is_playing`] is true while a clip is queued or being fed, and for the
//!   device's buffer time after the last sample was fed.
//! - [`AudioOut::last_started_at`] is when the feed handed the device the first sample of the
//!   latest clip: it sounds about one device buffer later.
//! - A device switch (see [`super`]) carries on: the rest of the clip that was sounding and
//!   the queue play on the new device.
//! - While no device is open, [`AudioOut::play`] refuses with [`AudioError::NoSpeaker`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait};
use greenroom_core::lock_unpoisoned;
use rodio::{DeviceSinkBuilder, DeviceSinkError, MixerDeviceSink, Source};

use super::{
    Activity, DeviceChoice, DeviceInfo, DeviceNotice, Direction, Endpoint, ErrorSink, OpenOptions,
    WatcherHandle,
};
use crate::io::{AudioError, AudioOut, check_rate, duration_of, samples_in};
use crate::resample::resample;

/// The callback length asked of a device.
pub const CALLBACK: Duration = Duration::from_millis(25);

/// A live speaker. Share it in an `Arc`.
pub struct Speaker {
    feed: Arc<Feed>,
    watcher: WatcherHandle,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("feed_rate", &self.feed.rate())
            .field("device", &self.device())
            .field("playing", &self.is_playing())
            .finish()
    }
}

impl Speaker {
    /// Opens `choice` with the default options.
    pub fn open(choice: DeviceChoice) -> Result<Self, AudioError> {
        Self::open_with(choice, OpenOptions::default())
    }

    /// Opens `choice`; [`AudioError::NoSpeaker`] when no output device can be started.
    pub fn open_with(choice: DeviceChoice, options: OpenOptions) -> Result<Self, AudioError> {
        let feed = Arc::new(Feed::new());
        let endpoint = Playback { feed: feed.clone() };
        let watcher = WatcherHandle::spawn(endpoint, choice, options.on_notice)?;
        Ok(Self { feed, watcher })
    }

    /// The device in use now; `None` while none is open.
    pub fn device(&self) -> Option<DeviceInfo> {
        self.watcher.device()
    }

    /// The rate clips are converted to before they are queued.
    pub fn feed_rate(&self) -> u32 {
        self.feed.rate()
    }

    /// The notices since the last call, oldest first.
    pub fn take_notices(&self) -> Vec<DeviceNotice> {
        self.watcher.notices.take()
    }
}

impl AudioOut for Speaker {
    fn play(&self, samples: Vec<f32>, sample_rate: u32) -> Result<(), AudioError> {
        let sample_rate = check_rate(sample_rate)?;
        if self.device().is_none() {
            return Err(AudioError::NoSpeaker {
                reason: "none is connected right now".into(),
            });
        }
        let rate = self.feed.rate();
        let clip = resample(&samples, 1, sample_rate, rate).map_err(|e| AudioError::Device {
            device: "speaker".into(),
            message: e.to_string(),
        })?;
        if !clip.is_empty() {
            self.feed.push(clip);
        }
        Ok(())
    }

    fn stop(&self) {
        self.feed.stop();
    }

    fn is_playing(&self) -> bool {
        self.feed.is_playing()
    }

    fn last_started_at(&self) -> Option<Instant> {
        self.feed.last_started_at()
    }
}

/// What the speaker and the device's feed source share.
struct Feed {
    clips: Mutex<VecDeque<Vec<f32>>>,
    /// Clips in `clips`, readable without the lock.
    queued: AtomicUsize,
    /// Bumped by every stop: a feed that sees it change drops its clip.
    generation: AtomicU64,
    /// A clip is being fed.
    busy: AtomicBool,
    rate: AtomicU64,
    /// The device's buffer time, nanoseconds.
    drain: AtomicU64,
    epoch: Instant,
    /// Nanoseconds after `epoch` + 1 (0 = never): the latest clip's first sample fed.
    started: AtomicU64,
    /// Nanoseconds after `epoch`: the last sample fed will have sounded by then.
    sounding_until: AtomicU64,
}

impl Feed {
    fn new() -> Self {
        Self {
            clips: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            rate: AtomicU64::new(0),
            drain: AtomicU64::new(0),
            epoch: Instant::now(),
            started: AtomicU64::new(0),
            sounding_until: AtomicU64::new(0),
        }
    }

    fn rate(&self) -> u32 {
        u32::try_from(self.rate.load(Ordering::Acquire)).unwrap_or(0)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn push(&self, clip: Vec<f32>) {
        let mut clips = lock_unpoisoned(&self.clips);
        clips.push_back(clip);
        self.queued.store(clips.len(), Ordering::Release);
    }

    fn stop(&self) {
        let mut clips = lock_unpoisoned(&self.clips);
        clips.clear();
        self.queued.store(0, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.busy.store(false, Ordering::Release);
        self.sounding_until.store(0, Ordering::Release);
    }

    fn is_playing(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
            || self.busy.load(Ordering::Acquire)
            || self.sounding_until.load(Ordering::Acquire) > self.now()
    }

    fn last_started_at(&self) -> Option<Instant> {
        match self.started.load(Ordering::Acquire) {
            0 => None,
            n => Some(self.epoch + Duration::from_nanos(n - 1)),
        }
    }

    /// The next clip for a source of `generation`, if no stop came since; never blocks.
    fn take(&self, generation: u64) -> Option<Vec<f32>> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut clips = self.clips.try_lock().ok()?;
        if self.generation.load(Ordering::Acquire) != generation {
            return None;
        }
        let clip = clips.pop_front()?;
        self.queued.store(clips.len(), Ordering::Release);
        self.busy.store(true, Ordering::Release);
        self.started
            .store(self.now().saturating_add(1), Ordering::Release);
        Some(clip)
    }

    /// A clip of `generation` was fed to its end.
    fn finished(&self, generation: u64) {
        let clips = lock_unpoisoned(&self.clips);
        if self.generation.load(Ordering::Acquire) == generation {
            let until = self
                .now()
                .saturating_add(self.drain.load(Ordering::Acquire));
            self.sounding_until.store(until, Ordering::Release);
            self.busy.store(false, Ordering::Release);
        }
        drop(clips);
    }

    /// A source dropped mid-clip (its device went away): the rest goes back in front.
    fn give_back(&self, generation: u64, rest: Vec<f32>) {
        let mut clips = lock_unpoisoned(&self.clips);
        if self.generation.load(Ordering::Acquire) == generation {
            if !rest.is_empty() {
                clips.push_front(rest);
            }
            self.queued.store(clips.len(), Ordering::Release);
            self.busy.store(false, Ordering::Release);
        }
    }
}

/// The endless mono source a device's mixer pulls: queued clips, else silence.
struct FeedSource {
    feed: Arc<Feed>,
    activity: Arc<Activity>,
    rate: rodio::SampleRate,
    generation: u64,
    clip: Vec<f32>,
    pos: usize,
    pulled: u32,
}

impl FeedSource {
    fn new(feed: Arc<Feed>, activity: Arc<Activity>, rate: rodio::SampleRate) -> Self {
        let generation = feed.generation.load(Ordering::Acquire);
        Self {
            feed,
            activity,
            rate,
            generation,
            clip: Vec::new(),
            pos: 0,
            pulled: 0,
        }
    }
}

impl Iterator for FeedSource {
    type Item = rodio::Sample;

    fn next(&mut self) -> Option<rodio::Sample> {
        self.pulled = self.pulled.wrapping_add(1);
        if self.pulled.is_multiple_of(512) {
            self.activity.touch();
        }
        let generation = self.feed.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.generation = generation;
            self.clip = Vec::new();
            self.pos = 0;
        }
        if self.pos < self.clip.len() {
            let sample = self.clip[self.pos];
            self.pos += 1;
            if self.pos == self.clip.len() {
                self.feed.finished(self.generation);
                self.clip = Vec::new();
                self.pos = 0;
            }
            return Some(sample);
        }
        match self.feed.take(self.generation) {
            Some(clip) => {
                self.clip = clip;
                self.pos = 0;
                self.next()
            }
            None => Some(0.0),
        }
    }
}

impl Source for FeedSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        rodio::ChannelCount::MIN
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.rate
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

impl Drop for FeedSource {
    fn drop(&mut self) {
        if self.pos < self.clip.len() {
            let rest = self.clip.split_off(self.pos);
            self.feed.give_back(self.generation, rest);
        }
    }
}

/// The playback side of a watcher: opens rodio device sinks fed by the [`Feed`].
struct Playback {
    feed: Arc<Feed>,
}

impl Endpoint for Playback {
    const DIRECTION: Direction = Direction::Output;
    type Running = MixerDeviceSink;

    fn default_device(host: &cpal::Host) -> Option<cpal::Device> {
        host.default_output_device()
    }

    fn start(
        &mut self,
        device: &cpal::Device,
        activity: Arc<Activity>,
        on_error: ErrorSink,
    ) -> Result<MixerDeviceSink, cpal::Error> {
        let config = device.default_output_config()?;
        let rate = config.sample_rate();
        let period = u32::try_from(samples_in(CALLBACK, rate))
            .unwrap_or(u32::MAX)
            .max(1);
        let open = |fixed: bool| -> Result<MixerDeviceSink, cpal::Error> {
            let errors = on_error.clone();
            let mut builder = DeviceSinkBuilder::from_device(device.clone()).map_err(cpal_error)?;
            if fixed {
                builder = builder.with_buffer_size(cpal::BufferSize::Fixed(period));
            }
            builder
                .with_error_callback(move |e| errors(e))
                .open_stream()
                .map_err(cpal_error)
        };
        let (mut sink, buffered) = match open(true) {
            Ok(sink) => (sink, duration_of(period as usize * 2, rate)),
            Err(_) => (open(false)?, Duration::from_millis(100)),
        };
        sink.log_on_drop(false);
        let sink_rate = sink.config().sample_rate();
        if self.feed.rate() == 0 {
            self.feed
                .rate
                .store(u64::from(sink_rate.get()), Ordering::Release);
        }
        self.feed.drain.store(
            u64::try_from(buffered.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
        let feed_rate = rodio::SampleRate::new(self.feed.rate()).unwrap_or(sink_rate);
        sink.mixer()
            .add(FeedSource::new(self.feed.clone(), activity, feed_rate));
        Ok(sink)
    }

    fn none_error(reason: String) -> AudioError {
        AudioError::NoSpeaker { reason }
    }
}

/// rodio's open errors as the cpal error inside them.
fn cpal_error(e: DeviceSinkError) -> cpal::Error {
    match e {
        DeviceSinkError::PlayError(e)
        | DeviceSinkError::DefaultSinkConfigError(e)
        | DeviceSinkError::BuildError(e)
        | DeviceSinkError::SupportedConfigsError(e) => e,
        DeviceSinkError::NoDevice => cpal::Error::with_message(
            cpal::ErrorKind::DeviceNotAvailable,
            "there is no output device",
        ),
        DeviceSinkError::UnsupportedSampleFormat => cpal::Error::with_message(
            cpal::ErrorKind::UnsupportedConfig,
            "the device's sample format is not supported",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(feed: &Arc<Feed>) -> FeedSource {
        feed.rate.store(1000, Ordering::Release);
        FeedSource::new(
            feed.clone(),
            Arc::new(Activity::new()),
            rodio::SampleRate::new(1000).unwrap(),
        )
    }

    #[test]
    fn the_feed_plays_clips_in_order_then_silence() {
        let feed = Arc::new(Feed::new());
        let mut src = source(&feed);
        assert_eq!(src.next(), Some(0.0));
        assert!(!feed.is_playing());
        assert_eq!(feed.last_started_at(), None);
        feed.push(vec![0.1, 0.2]);
        feed.push(vec![0.3]);
        assert!(feed.is_playing());
        let got: Vec<f32> = src.by_ref().take(5).collect();
        assert_eq!(got, vec![0.1, 0.2, 0.3, 0.0, 0.0]);
        assert!(feed.last_started_at().is_some());
        assert!(!feed.busy.load(Ordering::Acquire));
    }

    #[test]
    fn a_stop_silences_the_next_sample_and_empties_the_queue() {
        let feed = Arc::new(Feed::new());
        let mut src = source(&feed);
        feed.drain.store(10_000_000_000, Ordering::Release);
        feed.push(vec![0.5; 100]);
        feed.push(vec![0.7; 100]);
        assert_eq!(src.next(), Some(0.5));
        feed.stop();
        assert!(!feed.is_playing(), "stop is immediate for is_playing");
        assert_eq!(src.next(), Some(0.0));
        assert!(src.by_ref().take(300).all(|s| s == 0.0));
        feed.push(vec![0.9]);
        assert_eq!(src.next(), Some(0.9), "a clip after a stop plays");
        assert!(
            feed.is_playing(),
            "sounds for the drain time after the last sample"
        );
    }

    #[test]
    fn a_source_dropped_mid_clip_gives_the_rest_back_to_the_next_device() {
        let feed = Arc::new(Feed::new());
        let mut first = source(&feed);
        feed.push(vec![1.0, 2.0, 3.0]);
        assert_eq!(first.next(), Some(1.0));
        drop(first);
        let mut second = source(&feed);
        let got: Vec<f32> = second.by_ref().take(3).collect();
        assert_eq!(got, vec![2.0, 3.0, 0.0]);
    }
}
