//! The suites themselves: plan the clips (markers or phrases) and packets, join the
//! participants through the real server, send at the planned instants, and account for
//! what every receiver heard (see the parent module for what is measured and how).

use super::{
    AudioReport, Category, LatencyPath, LatencySample, LatencyStats, MARKER_FRAMES,
    MARKER_FREQUENCIES, NetworkReport, ONSET_LEVEL, PACKET_TOPIC, QUIET_LEVEL, REPORT_SCHEMA,
    Rating, StopSignal, StreamEvent, StreamReport, StreamTestConfig, StreamTestError, Suite,
    rate_latency, rate_loss,
};
use greenroom_livekit::room_service::{self as service, Target, TokenOptions};
use greenroom_rooms::audio::{self, FRAME_SAMPLES, Frame};
use greenroom_rooms::participant::{
    DataOptions, Participant, ParticipantEvent, ParticipantOptions,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One planned clip: at frame `start`, these samples; a data packet goes with it.
struct Clip {
    start_frame: u64,
    samples: Vec<i16>,
    marker: Option<f64>,
}

fn marker_burst(frequency: f64) -> Vec<i16> {
    let mut tone = audio::Tone::new(frequency, 0.5);
    let mut out = Vec::with_capacity(FRAME_SAMPLES * MARKER_FRAMES);
    let mut frame = [0i16; FRAME_SAMPLES];
    for _ in 0..MARKER_FRAMES {
        audio::PcmSource::next_frame(&mut tone, &mut frame);
        out.extend_from_slice(&frame);
    }
    out
}

/// Synthesises `text` with espeak-ng into 48 kHz mono samples.
pub fn speak(text: &str, voice: &str) -> Result<Vec<i16>, StreamTestError> {
    let output = greenroom_core::console::no_console_window(&mut std::process::Command::new(
        "espeak-ng",
    ))
    .args(["-v", voice, "--stdout", text])
        .output()
        .map_err(|e| {
            StreamTestError::Speech(format!(
                "espeak-ng did not start ({e}): the basic suite speaks its phrases with it. Debian: sudo apt install espeak-ng; Windows 11: winget install eSpeak-NG.eSpeak-NG"
            ))
        })?;
    if !output.status.success() {
        return Err(StreamTestError::Speech(format!(
            "espeak-ng failed on voice {voice:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    audio::decode_wav(&output.stdout)
        .map_err(|e| StreamTestError::Speech(format!("espeak-ng's audio: {e}")))
}

fn plan(suite: Suite, config: &StreamTestConfig) -> Result<Vec<Clip>, StreamTestError> {
    let frames_per_ms = |ms: u64| ms / 20;
    Ok(match suite {
        Suite::Stress | Suite::Latency | Suite::Load => {
            let (packets, interval) = match suite {
                Suite::Stress => (
                    config.packets.unwrap_or(50),
                    config.interval_ms.unwrap_or(500),
                ),
                Suite::Latency => (
                    config.packets.unwrap_or(20),
                    config.interval_ms.unwrap_or(200),
                ),
                _ => {
                    let interval = config.interval_ms.unwrap_or(500);
                    let duration = config.duration_seconds.unwrap_or(20.0);
                    (
                        ((duration * 1000.0) / f64::from(interval)).floor().max(1.0) as u32,
                        interval,
                    )
                }
            };
            (0..packets)
                .map(|seq| {
                    let frequency = MARKER_FREQUENCIES[seq as usize % MARKER_FREQUENCIES.len()];
                    Clip {
                        start_frame: 10 + frames_per_ms(u64::from(seq) * u64::from(interval)),
                        samples: marker_burst(frequency),
                        marker: Some(frequency),
                    }
                })
                .collect()
        }
        Suite::Basic => {
            let duration_frames =
                frames_per_ms((config.duration_seconds.unwrap_or(30.0) * 1000.0) as u64);
            let spoken: Vec<Vec<i16>> = config
                .phrases
                .iter()
                .map(|p| speak(p, &config.voice).map(|s| trim_leading_quiet(&s)))
                .collect::<Result<_, _>>()?;
            let mut clips = Vec::new();
            let mut at = 10u64;
            let mut seed = 0x2545_F491u64;
            while at < duration_frames {
                let samples = spoken[clips.len() % spoken.len()].clone();
                let length = (samples.len() / FRAME_SAMPLES) as u64 + 1;
                clips.push(Clip {
                    start_frame: at,
                    samples,
                    marker: None,
                });
                // 2–4 s of pause after each phrase.
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                at += length + 100 + (seed >> 33) % 101;
            }
            clips
        }
    })
}

/// One receiver's observations.
#[derive(Default)]
struct Heard {
    /// (seq, sender, at_ms, latency_ms)
    data_latencies: Vec<(u32, String, f64, f64)>,
    /// (at_ms, latency_ms)
    audio_latencies: Vec<(f64, f64)>,
    markers_heard: u64,
    frames: u64,
    concealed: u64,
    first_audio: Option<Instant>,
    errors: Vec<String>,
}

type Emit = Arc<dyn Fn(StreamEvent) + Send + Sync>;

/// Per sender, every marker it sent: (when, its frequency if it is a tone).
type SentMarkers = Arc<Mutex<HashMap<String, Vec<(Instant, Option<f64>)>>>>;

fn log(emit: &Emit, category: Category, rating: Option<Rating>, message: String) {
    emit(StreamEvent::Log {
        category,
        rating,
        message,
    });
}

/// Runs `suite` to its end and returns its report. `emit` receives logs, latencies and
/// progress.
pub async fn run(
    suite: Suite,
    config: &StreamTestConfig,
    emit: impl Fn(StreamEvent) + Send + Sync + 'static,
) -> Result<StreamReport, StreamTestError> {
    run_until_stopped(suite, config, &StopSignal::default(), emit).await
}

/// Like [`run`], ending early when `stop` is signalled.
pub async fn run_until_stopped(
    suite: Suite,
    config: &StreamTestConfig,
    stop_signal: &StopSignal,
    emit: impl Fn(StreamEvent) + Send + Sync + 'static,
) -> Result<StreamReport, StreamTestError> {
    config.validate(suite)?;
    let emit: Emit = Arc::new(emit);
    let clips = plan(suite, config)?;
    let (publishers, subscribers) = match suite {
        Suite::Load => (config.publishers, config.subscribers),
        _ => (1, 1),
    };
    let target = Target::new(&config.livekit_url, &config.api_key, &config.api_secret);
    let started_at_unix_ms = greenroom_core::unix_millis();
    let run_started = Instant::now();
    let options = ParticipantOptions {
        network: config.network,
        transport: config.transport,
        ..Default::default()
    };
    let join = async |identity: String| {
        let jwt = service::token(
            &target,
            &config.room_name,
            &identity,
            &TokenOptions::participant(),
        )
        .map_err(|e| StreamTestError::Token(e.to_string()))?;
        let p = Participant::join(&target.url, &jwt, &options)
            .await
            .map_err(|e| StreamTestError::Join {
                identity: identity.clone(),
                reason: e.to_string(),
            })?;
        let ms = p.ready_time.as_secs_f64() * 1000.0;
        let transport = p.stats().publisher_transport.unwrap_or_default();
        log(
            &emit,
            Category::Connection,
            None,
            format!(
                "connected: {identity} in room {} over {transport} ({ms:.0} ms)",
                config.room_name
            ),
        );
        Ok::<_, StreamTestError>((p, ms, transport))
    };

    // Receivers first, so nothing sent is missed.
    let mut join_ms = Vec::new();
    let mut transports = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..subscribers {
        let (p, ms, transport) = join(format!("greenroom-receiver-{i}")).await?;
        join_ms.push(ms);
        transports.push(transport);
        receivers.push(p);
    }
    let mut senders = Vec::new();
    for i in 0..publishers {
        let (p, ms, transport) = join(format!("greenroom-sender-{i}")).await?;
        join_ms.push(ms);
        transports.push(transport);
        let track =
            p.publish_audio("greenroom-stream")
                .await
                .map_err(|e| StreamTestError::Publish {
                    identity: p.identity.clone(),
                    reason: e.to_string(),
                })?;
        senders.push((p, track));
    }
    let published_at = Instant::now();

    // Marker send times, shared with the receivers: sender → [(instant, frequency)].
    let sent_markers: SentMarkers = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let sender_identities: HashSet<String> =
        senders.iter().map(|(p, _)| p.identity.clone()).collect();

    let arrived = Arc::new(AtomicU64::new(0));
    let mut receiver_tasks = Vec::new();
    for mut receiver in receivers {
        let arrived = arrived.clone();
        let stop = stop.clone();
        let emit = emit.clone();
        let sent_markers = sent_markers.clone();
        let senders = sender_identities.clone();
        receiver_tasks.push(tokio::spawn(async move {
            let mut heard = Heard::default();
            let mut loud: HashMap<String, bool> = HashMap::new();
            let mut matched_markers: HashSet<(String, usize)> = HashSet::new();
            let stopped = stop.notified();
            tokio::pin!(stopped);
            loop {
                let event = tokio::select! {
                    _ = &mut stopped => break,
                    e = receiver.next_event(Duration::from_secs(3600)) => e,
                };
                match event {
                    Some(ParticipantEvent::Data {
                        participant,
                        topic,
                        payload,
                        ..
                    }) if topic.as_deref() == Some(PACKET_TOPIC) => {
                        let now_us = greenroom_core::unix_micros();
                        match serde_json::from_slice::<PacketPayload>(&payload) {
                            Ok(p) => {
                                let ms = now_us.saturating_sub(p.sent_us) as f64 / 1000.0;
                                let at_ms = run_started.elapsed().as_secs_f64() * 1000.0;
                                emit(StreamEvent::Latency {
                                    path: LatencyPath::Data,
                                    seq: p.seq,
                                    at_ms,
                                    latency_ms: ms,
                                });
                                heard.data_latencies.push((p.seq, participant, at_ms, ms));
                                arrived.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => heard
                                .errors
                                .push(format!("a packet from {participant} does not parse: {e}")),
                        }
                    }
                    Some(ParticipantEvent::Audio(frame))
                        if senders.contains(&frame.participant) =>
                    {
                        heard.frames += 1;
                        heard.concealed += u64::from(frame.concealed);
                        heard.first_audio.get_or_insert(frame.played_at);
                        let level = audio::rms(&frame.samples);
                        let was_loud = loud.get(&frame.participant).copied().unwrap_or(false);
                        let is_loud = if was_loud {
                            level > QUIET_LEVEL
                        } else {
                            level > ONSET_LEVEL
                        };
                        loud.insert(frame.participant.clone(), is_loud);
                        if is_loud && !was_loud {
                            let frequency =
                                audio::dominant_frequency(&frame.samples, 500.0, 2000.0);
                            let matched = sent_markers.lock().ok().and_then(|m| {
                                let sent = m.get(&frame.participant)?;
                                match_marker(sent, frame.played_at, frequency)
                            });
                            // A second onset of the same marker (a pause inside a phrase) is
                            // not a new one.
                            if let Some((index, at)) = matched
                                && matched_markers.insert((frame.participant.clone(), index))
                            {
                                let ms = frame.played_at.duration_since(at).as_secs_f64() * 1000.0;
                                heard.markers_heard += 1;
                                let at_ms = run_started.elapsed().as_secs_f64() * 1000.0;
                                heard.audio_latencies.push((at_ms, ms));
                                emit(StreamEvent::Latency {
                                    path: LatencyPath::Audio,
                                    seq: heard.markers_heard as u32,
                                    at_ms,
                                    latency_ms: ms,
                                });
                            }
                        }
                    }
                    Some(ParticipantEvent::Reconnecting(reason)) => log(
                        &emit,
                        Category::Connection,
                        Some(Rating::Acceptable),
                        format!(
                            "{}: connection lost ({reason}); resuming",
                            receiver.identity
                        ),
                    ),
                    Some(ParticipantEvent::Reconnected { took, .. }) => {
                        let ms = took.as_secs_f64() * 1000.0;
                        log(
                            &emit,
                            Category::Connection,
                            Some(rate_latency(ms)),
                            format!("{}: resumed in {ms:.1} ms", receiver.identity),
                        );
                    }
                    Some(ParticipantEvent::Closed(closed)) => {
                        heard.errors.push(format!(
                            "{} left the room early: {closed:?}",
                            receiver.identity
                        ));
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            (receiver, heard)
        }));
    }

    // Senders: every 20 ms one frame per publisher; a clip's first frame goes with its packet.
    let total_packets = clips.len() as u32;
    let last_frame = clips
        .iter()
        .map(|c| c.start_frame + (c.samples.len() / FRAME_SAMPLES) as u64 + 1)
        .max()
        .unwrap_or(0);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut errors = Vec::new();
    let mut frames_sent = 0u64;
    let mut packets_sent = 0u64;
    let mut next_clip = 0usize;
    let mut playing: Option<(usize, usize)> = None; // (clip, sample offset)
    let mut frame: Frame = [0; FRAME_SAMPLES];
    let mut stopped_early = false;
    for index in 0..last_frame + 10 {
        ticker.tick().await;
        if !stopped_early && stop_signal.is_stopped() {
            stopped_early = true;
            log(
                &emit,
                Category::Connection,
                None,
                format!(
                    "stopped on request after {next_clip} of {total_packets} packets; waiting for those in flight"
                ),
            );
        }
        if stopped_early && playing.is_none() {
            break;
        }
        if !stopped_early && next_clip < clips.len() && clips[next_clip].start_frame == index {
            playing = Some((next_clip, 0));
            let seq = next_clip as u32;
            next_clip += 1;
            let now = Instant::now();
            for (p, _) in &senders {
                if let Ok(mut m) = sent_markers.lock() {
                    m.entry(p.identity.clone())
                        .or_default()
                        .push((now, clips[seq as usize].marker));
                }
                let payload = serde_json::to_vec(&PacketPayload {
                    seq,
                    sent_us: greenroom_core::unix_micros(),
                    from: p.identity.clone(),
                })
                .unwrap_or_default();
                match p.send_data(
                    payload,
                    DataOptions {
                        topic: Some(PACKET_TOPIC.into()),
                        reliable: true,
                        destinations: vec![],
                    },
                ) {
                    Ok(()) => packets_sent += 1,
                    Err(e) => errors.push(format!("{}: {e}", p.identity)),
                }
            }
            emit(StreamEvent::Progress {
                done: seq + 1,
                total: total_packets,
            });
        }
        frame.fill(0);
        if let Some((clip, offset)) = playing {
            let samples = &clips[clip].samples;
            let end = (offset + FRAME_SAMPLES).min(samples.len());
            frame[..end - offset].copy_from_slice(&samples[offset..end]);
            playing = (end < samples.len()).then_some((clip, end));
        }
        for (p, track) in &senders {
            match track.send(&frame) {
                Ok(()) => frames_sent += 1,
                Err(e) => {
                    errors.push(format!("{}: {e}", p.identity));
                    break;
                }
            }
        }
    }
    // Let the last frames through the jitter buffer, and wait for the last packets: with
    // injected loss the reliable channel retransmits (SCTP waits ≥ 1 s), so give it time.
    let expected = packets_sent * u64::from(subscribers);
    // SCTP's retransmission timer starts at 1 s and doubles: 15 s covers a packet lost
    // four times in a row. The wait ends as soon as everything arrived.
    let grace = Duration::from_millis(300)
        + config.network_delay()
        + if config.network.loss > 0.0 {
            Duration::from_secs(16)
        } else {
            Duration::from_secs(1)
        };
    let drain_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    while arrived.load(Ordering::Relaxed) < expected && drain_started.elapsed() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.notify_waiters();
    let duration_seconds = run_started.elapsed().as_secs_f64();

    let mut data = Vec::new();
    let mut audio_latencies = Vec::new();
    let mut samples: Vec<LatencySample> = Vec::new();
    let mut audio = AudioReport {
        // Every clip is a marker: a tone burst, or (basic) a phrase.
        markers_sent: next_clip as u64 * u64::from(publishers) * u64::from(subscribers),
        frames_sent,
        ..Default::default()
    };
    let mut received = HashSet::new();
    let mut dropped_by_conditions = 0;
    let mut reconnections_ms = Vec::new();
    let mut jitter = 0.0f64;
    for task in receiver_tasks {
        let (receiver, heard) = task
            .await
            .map_err(|e| StreamTestError::Receiver(e.to_string()))?;
        let stats = receiver.stats();
        dropped_by_conditions += stats.packets_dropped_by_conditions;
        reconnections_ms.extend(stats.reconnections_ms);
        jitter = jitter.max(stats.ingress_jitter_ms);
        for (seq, from, at_ms, ms) in heard.data_latencies {
            if received.insert((receiver.identity.clone(), from, seq)) {
                data.push(ms);
                samples.push(LatencySample {
                    path: LatencyPath::Data,
                    at_ms,
                    latency_ms: ms,
                });
            }
        }
        for &(at_ms, ms) in &heard.audio_latencies {
            samples.push(LatencySample {
                path: LatencyPath::Audio,
                at_ms,
                latency_ms: ms,
            });
        }
        audio.markers_heard += heard.markers_heard;
        audio.frames_received += heard.frames;
        audio.frames_concealed += heard.concealed;
        audio_latencies.extend(heard.audio_latencies.iter().map(|&(_, ms)| ms));
        if let Some(first) = heard.first_audio {
            audio
                .first_audio_ms
                .push(first.saturating_duration_since(published_at).as_secs_f64() * 1000.0);
        }
        errors.extend(heard.errors);
        receiver.leave().await;
    }
    for (p, _) in senders {
        let stats = p.stats();
        dropped_by_conditions += stats.packets_dropped_by_conditions;
        reconnections_ms.extend(stats.reconnections_ms);
        p.leave().await;
    }
    audio.ingress_jitter_ms = jitter;
    audio.latency_stats = LatencyStats::from_samples(&audio_latencies);
    let packets_received = received.len() as u64;
    let packet_loss_rate = if expected == 0 {
        0.0
    } else {
        1.0 - packets_received as f64 / expected as f64
    };
    let latency_stats = LatencyStats::from_samples(&data);
    let latency_rating = rate_latency(latency_stats.p95_ms.max(audio.latency_stats.p95_ms));
    let loss_rating = rate_loss(packet_loss_rate);
    log(
        &emit,
        Category::Latency,
        Some(rate_latency(latency_stats.p95_ms)),
        format!(
            "data end to end: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} packets)",
            latency_stats.p50_ms, latency_stats.p95_ms, latency_stats.max_ms, latency_stats.count
        ),
    );
    log(
        &emit,
        Category::Audio,
        Some(rate_latency(audio.latency_stats.p95_ms)),
        format!(
            "audio markers heard {}/{}: p50 {:.1} ms, p95 {:.1} ms (includes the {} ms playout delay); {} of {} frames concealed",
            audio.markers_heard,
            audio.markers_sent,
            audio.latency_stats.p50_ms,
            audio.latency_stats.p95_ms,
            ParticipantOptions::default().jitter_delay.as_millis(),
            audio.frames_concealed,
            audio.frames_received
        ),
    );
    log(
        &emit,
        Category::Network,
        Some(loss_rating),
        format!(
            "packet loss {:.1} % ({packets_received}/{expected}); jitter {:.1} ms",
            packet_loss_rate * 100.0,
            latency_stats.jitter_ms
        ),
    );
    samples.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    Ok(StreamReport {
        test_name: format!("{}_test", suite.name()),
        duration_seconds,
        packets_sent,
        packets_received,
        packet_loss_rate,
        latency_stats,
        errors_count: errors.len() as u64,
        throughput_pps: packets_received as f64 / duration_seconds.max(1e-9),
        schema: REPORT_SCHEMA.into(),
        suite,
        started_at_unix_ms,
        server: config.livekit_url.clone(),
        room: config.room_name.clone(),
        publishers,
        subscribers,
        network: NetworkReport {
            loss: config.network.loss,
            latency_ms: config.network.latency_ms,
            jitter_ms: config.network.jitter_ms,
            block_udp: config.network.block_udp,
            dropped_by_conditions,
        },
        audio,
        join_ms,
        transports,
        errors,
        latency_rating,
        loss_rating,
        samples,
        stopped_early,
        reconnections_ms,
    })
}

#[derive(Debug, Serialize, Deserialize)]
struct PacketPayload {
    seq: u32,
    sent_us: u64,
    from: String,
}

/// Drops the quiet frames before the first loud one, so a phrase's onset is its first frame.
fn trim_leading_quiet(samples: &[i16]) -> Vec<i16> {
    let first_loud = samples
        .chunks(FRAME_SAMPLES)
        .position(|frame| audio::rms(frame) > ONSET_LEVEL)
        .unwrap_or(0);
    samples[first_loud * FRAME_SAMPLES..].to_vec()
}

/// The latest marker sent at or before `heard_at` whose frequency matches the one heard
/// (a phrase, or an onset whose frequency we cannot tell, matches any): (index, sent at).
fn match_marker(
    sent: &[(Instant, Option<f64>)],
    heard_at: Instant,
    frequency: Option<f64>,
) -> Option<(usize, Instant)> {
    sent.iter()
        .enumerate()
        .rev()
        .find(|(_, (at, f))| {
            *at <= heard_at
                && match (f, frequency) {
                    (Some(f), Some(heard)) => nearest_marker(heard) == *f,
                    _ => true,
                }
        })
        .map(|(index, (at, _))| (index, *at))
}

fn nearest_marker(frequency: f64) -> f64 {
    MARKER_FREQUENCIES
        .iter()
        .copied()
        .min_by(|a, b| (a - frequency).abs().total_cmp(&(b - frequency).abs()))
        .unwrap_or(frequency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_onset_matches_the_latest_earlier_marker_of_its_frequency() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let sent = [
            (ms(0), Some(700.0)),
            (ms(200), Some(1000.0)),
            (ms(400), Some(1300.0)),
        ];
        assert_eq!(
            match_marker(&sent, ms(250), Some(1010.0)),
            Some((1, ms(200)))
        );
        // Heard late, after the next marker went out: the frequency says which one it was.
        assert_eq!(
            match_marker(&sent, ms(450), Some(995.0)),
            Some((1, ms(200)))
        );
        assert_eq!(match_marker(&sent, ms(450), None), Some((2, ms(400))));
        assert_eq!(match_marker(&sent, ms(100), Some(1600.0)), None);
        let phrases = [(ms(0), None), (ms(3000), None)];
        assert_eq!(
            match_marker(&phrases, ms(3050), Some(440.0)),
            Some((1, ms(3000)))
        );
    }

    #[test]
    fn markers_are_planned_at_the_interval_with_rotating_frequencies() {
        let config = StreamTestConfig {
            packets: Some(5),
            interval_ms: Some(200),
            ..Default::default()
        };
        let clips = plan(Suite::Latency, &config).unwrap();
        assert_eq!(clips.len(), 5);
        assert_eq!(clips[1].start_frame - clips[0].start_frame, 10);
        assert_eq!(clips[4].marker, Some(MARKER_FREQUENCIES[0]));
        assert_eq!(clips[1].marker, Some(MARKER_FREQUENCIES[1]));
        let heard = audio::dominant_frequency(&clips[2].samples, 500.0, 2000.0).unwrap();
        assert_eq!(nearest_marker(heard), MARKER_FREQUENCIES[2]);
    }
}
