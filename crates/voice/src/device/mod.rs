//! Real sound devices behind [`AudioIn`](crate::AudioIn) and [`AudioOut`](crate::AudioOut):
//! the microphone on cpal ([`Microphone`]), the speaker on rodio ([`Speaker`]), the list of
//! devices ([`list_devices`]), and following the default device when one goes away.
//!
//! Why: a coach talks with Marie through whatever headset is plugged in today. Headsets are
//! unplugged mid-session, Bluetooth drops, a laptop has no sound server, Windows blocks the
//! microphone in its privacy settings. The session must say so in words a coach understands
//! and carry on with the device that is there, never panic or hang.
//!
//! Semantics:
//! - **Host**: the first cpal host that starts, in cpal's order: on Linux PulseAudio (also
//!   served by PipeWire) when its socket is found, then ALSA; WASAPI on Windows; CoreAudio on
//!   macOS. Nothing else in the crate knows which.
//! - **Ids**: cpal's `host:device` strings (`pulseaudio:alsa_input.usb-…`, `wasapi:{…}`,
//!   `alsa:default`), stable across runs: store them in settings. Names are what the system
//!   shows. [`list_devices`] never fails: a machine without sound lists nothing.
//! - **Opening**: [`DeviceChoice::Default`] opens the system default;
//!   [`DeviceChoice::Id`] opens that device or, when it is not connected, the default (a
//!   [`DeviceNotice::Lost`] then [`DeviceNotice::Switched`] say so). A device that exists but
//!   cannot be started counts as none: [`AudioError::NoMicrophone`] /
//!   [`AudioError::NoSpeaker`] ([`AudioError::MicrophoneBlocked`] when the system refuses
//!   access). Nothing here panics on a device error.
//! - **Following**: a watcher thread per open device looks every [`WATCH_EVERY`], and at once
//!   when cpal reports a stream error. When the device in use is gone (a stream error, no
//!   longer listed, or no audio callback for [`STALL_AFTER`]) it posts
//!   [`DeviceNotice::Lost`], reopens on the device wanted now and posts
//!   [`DeviceNotice::Switched`]; with nothing to open it posts [`DeviceNotice::Unavailable`]
//!   once and tries again each look. The device wanted is the chosen one when it is
//!   connected, else the system default; so [`DeviceChoice::Default`] also moves to a new
//!   system default, and [`DeviceChoice::Id`] returns to its device when it is back.
//! - **Notices** are kept (oldest first, the last [`KEPT_NOTICES`]) until taken with
//!   `take_notices()`, and handed as they happen to [`OpenOptions::on_notice`], if set (on
//!   the watcher thread: return quickly).
//! - **Bounded**: `open` waits at most [`FIRST_OPEN_WAIT`] for the first device (a hung
//!   sound server counts as none), and dropping a device at most [`SHUTDOWN_WAIT`] for its
//!   stream to close; cpal calls that could block longer stay on the watcher thread.
//! - Capture and playback details: [`capture`] and [`playback`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait};
use greenroom_core::lock_unpoisoned;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::io::AudioError;

pub mod capture;
pub mod playback;

pub use capture::Microphone;
pub use playback::Speaker;

/// How often a watcher looks at its device.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);
/// A device whose stream made no callback for this long is taken as gone.
pub const STALL_AFTER: Duration = Duration::from_secs(3);
/// How many notices are kept until taken.
pub const KEPT_NOTICES: usize = 64;
/// How long building one stream may take before it counts as failed.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `open` waits for the first device before it says there is none.
pub const FIRST_OPEN_WAIT: Duration = Duration::from_secs(10);
/// How long dropping a device waits for its stream to close.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Which device to open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum DeviceChoice {
    /// The system default, following it when it changes.
    #[default]
    Default,
    /// The device with this id (from [`list_devices`]); the default while it is away.
    Id(String),
}

/// Microphone or speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Input,
    Output,
}

/// One device as a person picks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceInfo {
    /// Stable `host:device` id, to store and give back in [`DeviceChoice::Id`].
    pub id: String,
    /// The name the system shows.
    pub name: String,
}

/// What [`list_devices`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceList {
    /// The sound system in use (`PulseAudio`, `ALSA`, `WASAPI`…); `None` when there is none.
    pub host: Option<String>,
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
    /// The id of the default input, when it is one of `inputs`.
    pub default_input: Option<String>,
    /// The id of the default output, when it is one of `outputs`.
    pub default_output: Option<String>,
}

/// Something a coach should know about a device while a session runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceNotice {
    /// The device in use (or the one chosen) is gone; `reason` says how it looked.
    Lost {
        direction: Direction,
        device: DeviceInfo,
        reason: String,
    },
    /// Now using `device`; `reason` says why this one.
    Switched {
        direction: Direction,
        device: DeviceInfo,
        reason: String,
    },
    /// Nothing can be opened now; the watcher keeps trying.
    Unavailable {
        direction: Direction,
        reason: String,
    },
}

impl DeviceNotice {
    pub fn direction(&self) -> Direction {
        match self {
            DeviceNotice::Lost { direction, .. }
            | DeviceNotice::Switched { direction, .. }
            | DeviceNotice::Unavailable { direction, .. } => *direction,
        }
    }

    /// The notice in a sentence for a coach.
    pub fn message(&self) -> String {
        let thing = |d: Direction| match d {
            Direction::Input => "microphone",
            Direction::Output => "speaker",
        };
        match self {
            DeviceNotice::Lost {
                direction,
                device,
                reason,
            } => format!(
                "The {} “{}” is not working any more ({reason}); Greenroom switches to another one.",
                thing(*direction),
                device.name
            ),
            DeviceNotice::Switched {
                direction: Direction::Input,
                device,
                reason,
            } => format!("Now listening through “{}” ({reason}).", device.name),
            DeviceNotice::Switched {
                direction: Direction::Output,
                device,
                reason,
            } => format!("Now speaking through “{}” ({reason}).", device.name),
            DeviceNotice::Unavailable { direction, reason } => format!(
                "No {} is available ({reason}). Plug one in: Greenroom picks it up by itself.",
                thing(*direction)
            ),
        }
    }
}

impl std::fmt::Display for DeviceNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Called with each notice as it happens, on the watcher thread.
pub type NoticeCallback = Arc<dyn Fn(&DeviceNotice) + Send + Sync>;

/// How a [`Microphone`] or [`Speaker`] is opened beyond the device choice.
#[derive(Clone)]
pub struct OpenOptions {
    /// Told each [`DeviceNotice`] as it happens (they are kept for `take_notices()` too).
    pub on_notice: Option<NoticeCallback>,
    /// Capture only: how much audio waits for `next_chunk` before the oldest chunks are
    /// dropped (default 5 s; the newest chunk always stays).
    pub max_queued: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            on_notice: None,
            max_queued: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("on_notice", &self.on_notice.is_some())
            .field("max_queued", &self.max_queued)
            .finish()
    }
}

/// Every input and output device of the sound system, with the defaults.
pub fn list_devices() -> DeviceList {
    let Ok(host) = open_host() else {
        return DeviceList::default();
    };
    let mut list = DeviceList {
        host: Some(host.id().name().to_string()),
        ..DeviceList::default()
    };
    if let Ok(devices) = host.devices() {
        for device in devices {
            let Some(info) = info_of(&device) else {
                continue;
            };
            let direction = device
                .description()
                .map(|d| d.direction())
                .unwrap_or_default();
            let (input, output) = match direction {
                cpal::DeviceDirection::Input => (true, false),
                cpal::DeviceDirection::Output => (false, true),
                cpal::DeviceDirection::Duplex => (true, true),
                _ => (device.supports_input(), device.supports_output()),
            };
            if input {
                list.inputs.push(info.clone());
            }
            if output {
                list.outputs.push(info);
            }
        }
    }
    let default_in = host.default_input_device().and_then(|d| info_of(&d));
    let default_out = host.default_output_device().and_then(|d| info_of(&d));
    list.default_input = default_in
        .map(|d| d.id)
        .filter(|id| list.inputs.iter().any(|i| &i.id == id));
    list.default_output = default_out
        .map(|d| d.id)
        .filter(|id| list.outputs.iter().any(|o| &o.id == id));
    list
}

/// The first cpal host that starts, in cpal's order (never cpal's `default_host`, which
/// panics when even ALSA cannot start).
fn open_host() -> Result<cpal::Host, String> {
    let mut reason = "this computer has no sound system".to_string();
    for id in cpal::available_hosts() {
        match cpal::host_from_id(id) {
            Ok(host) => return Ok(host),
            Err(e) => reason = format!("the sound system {} does not answer ({e})", id.name()),
        }
    }
    Err(reason)
}

/// A device's id and name; `None` for a device already gone.
fn info_of(device: &cpal::Device) -> Option<DeviceInfo> {
    let id = device.id().ok()?.to_string();
    let name = device
        .description()
        .map(|d| d.name().to_string())
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| id.clone());
    Some(DeviceInfo { id, name })
}

/// The device with this id string, if the host has it now.
fn find_device(host: &cpal::Host, id: &str) -> Option<cpal::Device> {
    let id: cpal::DeviceId = id.parse().ok()?;
    if id.host() != host.id() {
        return None;
    }
    host.device_by_id(&id)
}

/// Notices kept until taken, and told to the caller's callback.
struct Notices {
    kept: Mutex<VecDeque<DeviceNotice>>,
    callback: Option<NoticeCallback>,
}

impl Notices {
    fn new(callback: Option<NoticeCallback>) -> Self {
        Self {
            kept: Mutex::new(VecDeque::new()),
            callback,
        }
    }

    fn post(&self, notice: DeviceNotice) {
        if let Some(callback) = &self.callback {
            callback(&notice);
        }
        let mut kept = lock_unpoisoned(&self.kept);
        if kept.len() == KEPT_NOTICES {
            kept.pop_front();
        }
        kept.push_back(notice);
    }

    fn take(&self) -> Vec<DeviceNotice> {
        lock_unpoisoned(&self.kept).drain(..).collect()
    }
}

/// When the stream last called back, as nanoseconds after `epoch` (lock-free for callbacks).
pub(crate) struct Activity {
    epoch: Instant,
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(nanos, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

/// What a watcher thread hears.
enum Event {
    /// cpal reported an error on the stream started `generation`-th.
    StreamError {
        generation: u64,
        error: cpal::Error,
    },
    Shutdown,
}

/// Where a stream's error callback sends what cpal reports.
type ErrorSink = Arc<dyn Fn(cpal::Error) + Send + Sync>;

/// One direction's device handling, run by a [`Watcher`] on its own thread.
trait Endpoint: Send + 'static {
    const DIRECTION: Direction;
    /// The open stream; it lives and dies on the watcher thread.
    type Running;

    fn default_device(host: &cpal::Host) -> Option<cpal::Device>;

    /// Starts streaming from/to `device`; errors on the stream go to `on_error`, and every
    /// audio callback touches `activity`.
    fn start(
        &mut self,
        device: &cpal::Device,
        activity: Arc<Activity>,
        on_error: ErrorSink,
    ) -> Result<Self::Running, cpal::Error>;

    /// "There is no such device", in the words of this direction.
    fn none_error(reason: String) -> AudioError;

    /// A start failure as the error the caller gets.
    fn start_error(device: &DeviceInfo, error: &cpal::Error) -> AudioError {
        let reason = format!("“{}” cannot be opened ({error})", device.name);
        match (Self::DIRECTION, error.kind()) {
            (Direction::Input, cpal::ErrorKind::PermissionDenied) => {
                AudioError::MicrophoneBlocked { reason }
            }
            _ => Self::none_error(reason),
        }
    }
}

/// The handle a [`Microphone`] or [`Speaker`] keeps on its watcher thread.
struct WatcherHandle {
    events: Sender<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Disconnects when the thread has ended (in a mutex: a speaker is shared).
    ended: Mutex<Receiver<()>>,
    notices: Arc<Notices>,
    current: Arc<Mutex<Option<DeviceInfo>>>,
}

impl WatcherHandle {
    /// Starts a watcher thread and returns once its first device is open (or failed).
    fn spawn<E: Endpoint>(
        endpoint: E,
        choice: DeviceChoice,
        on_notice: Option<NoticeCallback>,
    ) -> Result<Self, AudioError> {
        let (events, receiver) = std::sync::mpsc::channel();
        let notices = Arc::new(Notices::new(on_notice));
        let current = Arc::new(Mutex::new(None));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        // Never sent on: it disconnects when the thread ends.
        let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
        let (sender, kept, shown) = (events.clone(), notices.clone(), current.clone());
        let name = match E::DIRECTION {
            Direction::Input => "greenroom-microphone",
            Direction::Output => "greenroom-speaker",
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Built here: the stream it holds may not cross threads.
                let mut watcher = Watcher {
                    endpoint,
                    choice,
                    host: None,
                    running: None,
                    generation: 0,
                    activity: Arc::new(Activity::new()),
                    events: sender,
                    notices: kept,
                    current: shown,
                    told_unavailable: false,
                    refused: None,
                };
                let _ended = ended_tx;
                let first = watcher.open_first();
                let ok = first.is_ok();
                // Nobody waits any more when the open took too long: close again.
                if ready_tx.send(first).is_ok() && ok {
                    watcher.run(&receiver);
                }
            })
            .map_err(|e| E::none_error(format!("the audio thread cannot start ({e})")))?;
        let first = ready_rx.recv_timeout(FIRST_OPEN_WAIT).unwrap_or_else(|e| {
            Err(E::none_error(match e {
                RecvTimeoutError::Timeout => format!(
                    "the sound system did not answer within {} s",
                    FIRST_OPEN_WAIT.as_secs()
                ),
                RecvTimeoutError::Disconnected => "the audio thread stopped".into(),
            }))
        });
        let mut handle = Self {
            events,
            thread: Some(thread),
            ended: Mutex::new(ended),
            notices,
            current,
        };
        match first {
            Ok(()) => Ok(handle),
            Err(e) => {
                handle.shutdown();
                Err(e)
            }
        }
    }

    fn device(&self) -> Option<DeviceInfo> {
        lock_unpoisoned(&self.current).clone()
    }

    /// Stops the watcher and waits for its stream to close, at most [`SHUTDOWN_WAIT`]: a
    /// thread stuck in a hung sound server is left behind rather than hanging the caller.
    fn shutdown(&mut self) {
        let _ = self.events.send(Event::Shutdown);
        if let Some(thread) = self.thread.take() {
            let ended = lock_unpoisoned(&self.ended).recv_timeout(SHUTDOWN_WAIT);
            if let Err(RecvTimeoutError::Disconnected) = ended {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for WatcherHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The watcher thread's state: the device in use and how to replace it.
struct Watcher<E: Endpoint> {
    endpoint: E,
    choice: DeviceChoice,
    host: Option<cpal::Host>,
    running: Option<(DeviceInfo, E::Running)>,
    /// How many streams were started: errors from an older one are ignored.
    generation: u64,
    activity: Arc<Activity>,
    events: Sender<Event>,
    notices: Arc<Notices>,
    current: Arc<Mutex<Option<DeviceInfo>>>,
    told_unavailable: bool,
    /// A device wanted that failed to start: not tried again while the one in use lasts.
    refused: Option<String>,
}

impl<E: Endpoint> Watcher<E> {
    /// The first open: the chosen device, else the default; an error when neither starts.
    fn open_first(&mut self) -> Result<(), AudioError> {
        let host = open_host().map_err(E::none_error)?;
        let mut missing = None;
        let chosen = match &self.choice {
            DeviceChoice::Default => None,
            DeviceChoice::Id(id) => {
                let found = find_device(&host, id);
                if found.is_none() {
                    missing = Some(DeviceInfo {
                        id: id.clone(),
                        name: id.clone(),
                    });
                }
                found
            }
        };
        let device = chosen
            .or_else(|| E::default_device(&host))
            .ok_or_else(|| E::none_error("none is connected".into()))?;
        let info = info_of(&device).ok_or_else(|| E::none_error("it went away".into()))?;
        self.host = Some(host);
        self.start(&device, info.clone())
            .map_err(|e| E::start_error(&info, &e))?;
        if let Some(missing) = missing {
            self.notices.post(DeviceNotice::Lost {
                direction: E::DIRECTION,
                device: missing,
                reason: "the one chosen is not connected".into(),
            });
            self.notices.post(DeviceNotice::Switched {
                direction: E::DIRECTION,
                device: info,
                reason: "the system default, until the one chosen is back".into(),
            });
        }
        Ok(())
    }

    fn start(&mut self, device: &cpal::Device, info: DeviceInfo) -> Result<(), cpal::Error> {
        self.generation += 1;
        let generation = self.generation;
        let events = self.events.clone();
        let on_error: ErrorSink = Arc::new(move |error: cpal::Error| {
            let _ = events.send(Event::StreamError { generation, error });
        });
        self.activity.touch();
        let running = self
            .endpoint
            .start(device, self.activity.clone(), on_error)?;
        self.running = Some((info.clone(), running));
        *lock_unpoisoned(&self.current) = Some(info);
        self.told_unavailable = false;
        Ok(())
    }

    fn run(&mut self, events: &Receiver<Event>) {
        loop {
            match events.recv_timeout(WATCH_EVERY) {
                Ok(Event::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Event::StreamError { generation, error }) => {
                    if generation == self.generation {
                        self.on_stream_error(error);
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.look(),
            }
        }
        // The stream stops here, on the thread that started it.
        self.running = None;
        *lock_unpoisoned(&self.current) = None;
    }

    fn on_stream_error(&mut self, error: cpal::Error) {
        match error.kind() {
            // Glitches and advice: the stream goes on.
            cpal::ErrorKind::Xrun | cpal::ErrorKind::RealtimeDenied => {}
            // The backend already moved a default stream to the new default (WASAPI).
            cpal::ErrorKind::DeviceChanged => {
                if let Some(info) = self
                    .host
                    .as_ref()
                    .and_then(E::default_device)
                    .and_then(|d| info_of(&d))
                {
                    if let Some((current, _)) = &mut self.running {
                        *current = info.clone();
                    }
                    *lock_unpoisoned(&self.current) = Some(info.clone());
                    self.notices.post(DeviceNotice::Switched {
                        direction: E::DIRECTION,
                        device: info,
                        reason: "it is the system default now".into(),
                    });
                }
            }
            _ => self.lose(&format!("the sound system reported: {error}")),
        }
    }

    /// The periodic look: is the device still there, still alive, still the one wanted?
    fn look(&mut self) {
        let Some((info, _)) = &self.running else {
            self.reopen();
            return;
        };
        let current = info.id.clone();
        let Some(host) = &self.host else {
            self.lose("the sound system went away");
            return;
        };
        let default = E::default_device(host).and_then(|d| info_of(&d).map(|i| (d, i)));
        let present = default.as_ref().is_some_and(|(_, i)| i.id == current)
            || find_device(host, &current).is_some();
        if !present {
            self.lose("it was unplugged or switched off");
            return;
        }
        if self.activity.idle_for() > STALL_AFTER {
            self.lose("it stopped exchanging sound");
            return;
        }
        let wanted = match &self.choice {
            DeviceChoice::Id(id) if *id != current => find_device(host, id)
                .and_then(|d| info_of(&d).map(|i| (d, i, "the one chosen is back"))),
            DeviceChoice::Default => default
                .filter(|(_, i)| i.id != current)
                .map(|(d, i)| (d, i, "it is the system default now")),
            DeviceChoice::Id(_) => None,
        }
        .filter(|(_, i, _)| self.refused.as_ref() != Some(&i.id));
        let Some((device, info, reason)) = wanted else {
            return;
        };
        // One stream at a time: two would feed the same queue.
        let previous = self.running.take().map(|(info, running)| {
            drop(running);
            info
        });
        match self.start(&device, info.clone()) {
            Ok(()) => self.notices.post(DeviceNotice::Switched {
                direction: E::DIRECTION,
                device: info,
                reason: reason.into(),
            }),
            Err(_) => {
                // Stay on the device that works, and do not try that one again until the
                // device in use changes.
                self.refused = Some(info.id);
                let Some(previous) = previous else {
                    return self.reopen();
                };
                let back = self
                    .host
                    .as_ref()
                    .and_then(|host| find_device(host, &previous.id))
                    .is_some_and(|device| self.start(&device, previous.clone()).is_ok());
                if !back {
                    self.notices.post(DeviceNotice::Lost {
                        direction: E::DIRECTION,
                        device: previous,
                        reason: "it could not be reopened".into(),
                    });
                    self.reopen();
                }
            }
        }
    }

    /// The device in use is gone: say so, then open what is wanted now.
    fn lose(&mut self, reason: &str) {
        self.refused = None;
        if let Some((info, running)) = self.running.take() {
            drop(running);
            *lock_unpoisoned(&self.current) = None;
            self.notices.post(DeviceNotice::Lost {
                direction: E::DIRECTION,
                device: info,
                reason: reason.into(),
            });
        }
        self.reopen();
    }

    /// Opens the chosen device if connected, else the default, on a fresh host connection
    /// (the old one may be what died); one [`DeviceNotice::Unavailable`] while nothing opens.
    fn reopen(&mut self) {
        self.host = None;
        let host = match open_host() {
            Ok(host) => host,
            Err(reason) => return self.unavailable(&reason),
        };
        let chosen = match &self.choice {
            DeviceChoice::Id(id) => find_device(&host, id).map(|d| (d, "the one chosen")),
            DeviceChoice::Default => None,
        };
        let picked = chosen.or_else(|| E::default_device(&host).map(|d| (d, "the system default")));
        self.host = Some(host);
        let Some((device, reason)) = picked else {
            return self.unavailable("none is connected");
        };
        let Some(info) = info_of(&device) else {
            return self.unavailable("the default went away");
        };
        match self.start(&device, info.clone()) {
            Ok(()) => self.notices.post(DeviceNotice::Switched {
                direction: E::DIRECTION,
                device: info,
                reason: reason.into(),
            }),
            Err(e) => self.unavailable(&format!("“{}” cannot be opened: {e}", info.name)),
        }
    }

    fn unavailable(&mut self, reason: &str) {
        if !self.told_unavailable {
            self.told_unavailable = true;
            self.notices.post(DeviceNotice::Unavailable {
                direction: E::DIRECTION,
                reason: reason.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> DeviceInfo {
        DeviceInfo {
            id: format!("test:{name}"),
            name: name.into(),
        }
    }

    #[test]
    fn notices_read_as_sentences_and_serialise_tagged() {
        let lost = DeviceNotice::Lost {
            direction: Direction::Input,
            device: info("USB Headset"),
            reason: "it was unplugged or switched off".into(),
        };
        assert_eq!(
            lost.to_string(),
            "The microphone “USB Headset” is not working any more (it was unplugged or \
             switched off); Greenroom switches to another one."
        );
        let json = serde_json::to_value(&lost).unwrap();
        assert_eq!(json["kind"], "lost");
        assert_eq!(json["direction"], "input");
        let switched = DeviceNotice::Switched {
            direction: Direction::Output,
            device: info("Speakers"),
            reason: "the system default".into(),
        };
        assert!(
            switched
                .message()
                .starts_with("Now speaking through “Speakers”")
        );
        let none = DeviceNotice::Unavailable {
            direction: Direction::Input,
            reason: "none is connected".into(),
        };
        assert!(
            none.message().contains("No microphone is available"),
            "{none}"
        );
        assert_eq!(none.direction(), Direction::Input);
    }

    #[test]
    fn a_choice_round_trips_through_json() {
        for choice in [
            DeviceChoice::Default,
            DeviceChoice::Id("pulseaudio:mic".into()),
        ] {
            let json = serde_json::to_string(&choice).unwrap();
            assert_eq!(
                serde_json::from_str::<DeviceChoice>(&json).unwrap(),
                choice,
                "{json}"
            );
        }
        assert_eq!(
            serde_json::to_string(&DeviceChoice::Id("a:b".into())).unwrap(),
            r#"{"kind":"id","id":"a:b"}"#
        );
    }

    #[test]
    fn notices_are_kept_up_to_a_bound_and_told_as_they_happen() {
        let told = Arc::new(Mutex::new(0usize));
        let count = told.clone();
        let notices = Notices::new(Some(Arc::new(move |_: &DeviceNotice| {
            *lock_unpoisoned(&count) += 1;
        })));
        for i in 0..KEPT_NOTICES + 3 {
            notices.post(DeviceNotice::Unavailable {
                direction: Direction::Output,
                reason: i.to_string(),
            });
        }
        let kept = notices.take();
        assert_eq!(kept.len(), KEPT_NOTICES);
        assert!(matches!(&kept[0], DeviceNotice::Unavailable { reason, .. } if reason == "3"));
        assert!(notices.take().is_empty());
        assert_eq!(*lock_unpoisoned(&told), KEPT_NOTICES + 3);
    }

    #[test]
    fn no_device_errors_say_what_to_do() {
        let e = AudioError::NoMicrophone {
            reason: "“Default Audio Device” cannot be opened (connection refused)".into(),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("No microphone is available: “Default"),
            "{text}"
        );
        assert!(
            text.contains("Windows Settings › Privacy › Microphone"),
            "{text}"
        );
        assert!(text.contains("PulseAudio or PipeWire"), "{text}");
        use greenroom_core::{Classified, ErrorKind};
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e = AudioError::NoSpeaker {
            reason: "none is connected".into(),
        };
        assert!(
            e.to_string()
                .starts_with("No speaker or headphones are available")
        );
    }
}
