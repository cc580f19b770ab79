//! The capture thread: microphone chunks → 16 kHz → level meter, recorder and the
//! end-of-speech detector, whose events go to the session task. It reads its controls
//! (mode, push-to-talk key, delay, go, stop) between chunks, at least every 20 ms.
//! In LiveKit mode each chunk also goes, as it came, to the room ([`crate::livekit::Uplink`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use greenroom_core::lock_unpoisoned;
use greenroom_voice::meter::LevelMeter;
use greenroom_voice::resample::StreamResampler;
use greenroom_voice::vad::EndOfSpeech;
use greenroom_voice::{AudioIn, Next};
use tokio::sync::mpsc;

use super::{CAPTURE_POLL, CaptureControl, CaptureMsg, CaptureStats, LEVELS_PER_SECOND, Shared};
use crate::events::{Side, TalkEvent};

pub(super) struct Capture {
    pub(super) input: Box<dyn AudioIn>,
    pub(super) resampler: Option<StreamResampler>,
    pub(super) vad: EndOfSpeech,
    pub(super) control: std::sync::mpsc::Receiver<CaptureControl>,
    pub(super) tx: mpsc::UnboundedSender<CaptureMsg>,
    pub(super) shared: Arc<Shared>,
    pub(super) stats: Arc<Mutex<CaptureStats>>,
    pub(super) hold: bool,
    /// LiveKit mode: where the microphone's chunks go into the room.
    pub(super) uplink: Option<crate::livekit::Uplink>,
    pub(super) push_to_talk: bool,
    pub(super) key_held: bool,
}

impl Capture {
    /// Applies pending controls; false when asked to stop.
    fn apply_controls(&mut self, block: bool) -> bool {
        loop {
            let message = if block {
                match self.control.recv_timeout(CAPTURE_POLL) {
                    Ok(m) => Some(m),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return true,
                    Err(_) => return false,
                }
            } else {
                match self.control.try_recv() {
                    Ok(m) => Some(m),
                    Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                    Err(_) => return false,
                }
            };
            match message {
                Some(CaptureControl::Mode(m)) => {
                    self.push_to_talk = m == greenroom_voice::vad::VadMode::PushToTalk;
                    self.vad.set_mode(m)
                }
                Some(CaptureControl::Key(held)) => {
                    self.key_held = held;
                    self.vad.set_key_held(held)
                }
                Some(CaptureControl::Delay(d)) => {
                    let _ = self.vad.set_end_of_speech_delay(d);
                }
                Some(CaptureControl::Go) => self.hold = false,
                Some(CaptureControl::Stop) => return false,
                None => return true,
            }
            if block {
                return true;
            }
        }
    }

    pub(super) fn run(mut self) {
        let mut meter = LevelMeter::new(LEVELS_PER_SECOND).unwrap_or_default();
        loop {
            if self.hold {
                if !self.apply_controls(true) {
                    return;
                }
                continue;
            }
            if !self.apply_controls(false) {
                return;
            }
            let chunk = match self.input.next_chunk(CAPTURE_POLL) {
                Ok(Next::Chunk(c)) => c,
                Ok(Next::Waiting) => continue,
                Ok(Next::Ended) => {
                    for e in self.vad.finish() {
                        let _ = self.tx.send(CaptureMsg::Vad(e));
                    }
                    let _ = self.tx.send(CaptureMsg::Ended);
                    return;
                }
                Err(e) => {
                    let _ = self.tx.send(CaptureMsg::Failed(e.to_string()));
                    return;
                }
            };
            let received = Instant::now();
            {
                let mut stats = lock_unpoisoned(&self.stats);
                stats.chunks += 1;
                let last_sample = chunk.captured_at + chunk.duration();
                if stats.delays_ms.len() < 100_000 {
                    stats.delays_ms.push(
                        received
                            .saturating_duration_since(last_sample)
                            .as_secs_f64()
                            * 1000.0,
                    );
                }
            }
            if let Some(uplink) = self.uplink.as_mut() {
                uplink.push(&chunk.samples, self.push_to_talk && !self.key_held);
            }
            let (samples, at) = match self.resampler.as_mut() {
                None => (chunk.samples, chunk.captured_at),
                Some(r) => {
                    let latency = r.latency();
                    match r.push(&chunk.samples) {
                        Ok(out) => (
                            out,
                            chunk
                                .captured_at
                                .checked_sub(latency)
                                .unwrap_or(chunk.captured_at),
                        ),
                        Err(e) => {
                            let _ = self.tx.send(CaptureMsg::Failed(e.to_string()));
                            return;
                        }
                    }
                }
            };
            if samples.is_empty() {
                continue;
            }
            if let Some(level) = meter.push(&samples, at) {
                self.shared.sink.emit(TalkEvent::Level {
                    side: Side::Learner,
                    rms_dbfs: level.rms_dbfs,
                    peak_dbfs: level.peak_dbfs,
                    at_ms: self.shared.ms(at),
                });
            }
            self.shared.record(|r| r.write_learner(&samples, at));
            for event in self.vad.push(&samples, at) {
                if self.tx.send(CaptureMsg::Vad(event)).is_err() {
                    return;
                }
            }
        }
    }
}
