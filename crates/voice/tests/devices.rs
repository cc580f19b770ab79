//! The real devices against a real sound server: a private PulseAudio daemon with a fake
//! microphone and speaker (greenroom-test-support's `fake_mic`).
//!
//! Each test starts its own daemon, then runs its body in a child process of this binary
//! that is handed the daemon's variables at spawn: no test changes this process's
//! environment, and no test sees another's devices. The daemons run one at a time, so audio
//! timing is not measured on a machine busy with four other sound servers. Every wait polls
//! with a deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_test_support::fake_mic::{
    CHILD_WITHIN, FakeAudio, MIC_RATE, RECORD_RATE, dead_audio_env, in_child_test,
    run_test_in_child,
};
use greenroom_test_support::wait_until;
use greenroom_voice::io::{AudioChunk, AudioError, AudioIn, AudioOut, MAX_STOP_LATENCY, Next};
use greenroom_voice::meter::rms_dbfs;
use greenroom_voice::{DeviceChoice, DeviceNotice, Microphone, OpenOptions, Speaker, list_devices};

/// One daemon at a time in this binary.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `body` in a child process that sees a fresh fake microphone and speaker.
fn with_fake_audio(test: &str, body: impl FnOnce(&FakeAudio)) {
    if let Some(fake) = FakeAudio::attached() {
        return body(&fake);
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let fake = FakeAudio::start();
    fake.run_test_in_child(test);
}

fn tone(hz: f32, seconds: f32, rate: u32, amplitude: f32) -> Vec<f32> {
    let n = (seconds * rate as f32) as usize;
    (0..n)
        .map(|i| amplitude * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
        .collect()
}

/// The frequency of a tone from the median time between its upward zero crossings
/// (interpolated): a gap in the signal (an underrun of the fake mic's player on a busy
/// machine) makes one long interval and does not move the median.
fn zero_crossing_hz(samples: &[f32], rate: u32) -> f32 {
    let crossings: Vec<f64> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + f64::from(-w[0] / (w[1] - w[0])))
        .collect();
    let mut periods: Vec<f64> = crossings.windows(2).map(|c| c[1] - c[0]).collect();
    assert!(
        periods.len() >= 10,
        "not a tone: {} crossings",
        crossings.len()
    );
    periods.sort_by(f64::total_cmp);
    (f64::from(rate) / periods[periods.len() / 2]) as f32
}

/// The sample span where 10 ms windows are louder than -40 dBFS: (start, end).
fn loud_span(samples: &[f32], rate: u32) -> Option<(usize, usize)> {
    let window = (rate / 100) as usize;
    let loud: Vec<usize> = samples
        .chunks(window)
        .enumerate()
        .filter(|(_, w)| rms_dbfs(w) > -40.0)
        .map(|(i, _)| i)
        .collect();
    Some((*loud.first()? * window, (*loud.last()? + 1) * window))
}

/// How long a sine of `amplitude` sounds in `samples`, from their energy: gaps (underruns
/// on a busy machine pause a clip, they never drop any of it) add nothing.
fn tone_seconds(samples: &[f32], amplitude: f32, rate: u32) -> f64 {
    let energy: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    energy / (f64::from(amplitude) * f64::from(amplitude) / 2.0) / f64::from(rate)
}

/// The RMS in dBFS of the 10 ms windows louder than -20 dBFS: a tone's level, gaps left out.
fn tone_dbfs(samples: &[f32], rate: u32) -> f32 {
    let window = (rate / 100) as usize;
    let loud: Vec<f32> = samples
        .chunks(window)
        .filter(|w| rms_dbfs(w) > -20.0)
        .flatten()
        .copied()
        .collect();
    rms_dbfs(&loud)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(label: &str, mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let (p50, p95, max) = (at(0.5), at(0.95), at(1.0));
    println!(
        "{label}: p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms over {} chunks",
        values.len()
    );
    (p50, p95, max)
}

/// A chunk with when `next_chunk` handed it over.
struct Received {
    chunk: AudioChunk,
    at: Instant,
}

/// Reads the microphone until `done` says so about what was read, within `within`.
fn read_until(
    mic: &mut Microphone,
    what: &str,
    within: Duration,
    mut done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    let mut got = Vec::new();
    wait_until(what, within, || {
        // What is there (at most 64 chunks, so the deadline is looked at), then the check.
        let mut wait = Duration::from_millis(20);
        for _ in 0..64 {
            let Next::Chunk(chunk) = mic.next_chunk(wait).unwrap() else {
                break;
            };
            got.push(Received {
                chunk,
                at: Instant::now(),
            });
            wait = Duration::ZERO;
        }
        done(&got).then_some(())
    });
    got
}

fn samples_of(got: &[Received]) -> Vec<f32> {
    got.iter()
        .flat_map(|r| r.chunk.samples.iter().copied())
        .collect()
}

#[test]
fn the_microphone_captures_a_tone_spoken_into_the_fake_mic() {
    with_fake_audio(
        "the_microphone_captures_a_tone_spoken_into_the_fake_mic",
        |fake| {
            let opened = Instant::now();
            let mut mic = Microphone::open(DeviceChoice::Default).expect("the fake mic opens");
            assert_eq!(mic.device().unwrap().id, "pulseaudio:fakemic");
            assert_eq!(mic.sample_rate(), MIC_RATE, "the device's native rate");
            let first = read_until(&mut mic, "a first chunk", Duration::from_secs(10), |g| {
                !g.is_empty()
            });
            println!("first chunk {:.1} ms after open", ms(first[0].at - opened));

            let speech = fake.speak(&tone(440.0, 1.5, MIC_RATE, 0.5));
            let got = read_until(
                &mut mic,
                "1.5 s of tone captured",
                Duration::from_secs(20),
                |g| {
                    let s = samples_of(g);
                    loud_span(&s, MIC_RATE).is_some_and(|(a, b)| {
                        b - a >= MIC_RATE as usize * 14 / 10 && s.len() > b + 1600
                    })
                },
            );
            speech.wait(Duration::from_secs(10));

            let samples = samples_of(&got);
            let (start, end) = loud_span(&samples, MIC_RATE).unwrap();
            let middle = &samples[start + 1600..end - 1600];
            let hz = zero_crossing_hz(middle, MIC_RATE);
            let level = tone_dbfs(middle, MIC_RATE);
            let sounded = tone_seconds(&samples, 0.5, MIC_RATE);
            println!(
                "captured {sounded:.3} s of {hz:.2} Hz at {level:.2} dBFS ({} samples in the tone's middle)",
                middle.len()
            );
            assert!((hz - 440.0).abs() < 440.0 * 0.02, "{hz} Hz");
            assert!(level > -30.0, "{level} dBFS");
            assert!(
                (level + 9.03).abs() < 1.0,
                "a 0.5 sine reads -9 dBFS: {level}"
            );
            assert!(
                (sounded - 1.5).abs() < 0.075,
                "captured {sounded} s of a 1.5 s tone"
            );

            // Stamps: consecutive, and each chunk handed over soon after its first sample.
            for pair in got.windows(2) {
                let (a, b) = (&pair[0].chunk, &pair[1].chunk);
                assert!(b.captured_at >= a.captured_at, "stamps go forward");
            }
            let latency: Vec<f64> = got
                .iter()
                .map(|r| ms(r.at.saturating_duration_since(r.chunk.captured_at)))
                .collect();
            let (_, p95, _) = stats("capture-to-frame (first sample to next_chunk)", latency);
            assert!(p95 < 500.0, "chunks arrive late: p95 {p95} ms");
            // The chunk holding the tone's first sample.
            let mut offset = 0;
            let onset = got
                .iter()
                .find(|r| {
                    offset += r.chunk.samples.len();
                    offset > start
                })
                .unwrap();
            println!(
                "tone onset chunk: {} samples, handed over {:.1} ms after its first sample",
                onset.chunk.samples.len(),
                ms(onset.at - onset.chunk.captured_at)
            );
            assert_eq!(mic.dropped_chunks(), 0);
            assert!(
                mic.take_notices().is_empty(),
                "nothing happened to the device"
            );
        },
    );
}

#[test]
fn a_clip_played_on_the_speaker_is_heard_on_the_fake_speaker() {
    with_fake_audio(
        "a_clip_played_on_the_speaker_is_heard_on_the_fake_speaker",
        |fake| {
            let recording = fake.start_recording_speaker();
            let speaker = Speaker::open(DeviceChoice::Default).expect("the fake speaker opens");
            assert_eq!(speaker.device().unwrap().id, "pulseaudio:speaker");
            assert!(!speaker.is_playing());
            assert_eq!(speaker.last_started_at(), None);

            let clip = tone(660.0, 1.0, 24_000, 0.5);
            let asked = Instant::now();
            speaker
                .play(clip, 24_000)
                .expect("a clip at another rate is converted");
            println!(
                "play() (converting 1 s from 24 kHz to {} Hz) took {:.1} ms",
                speaker.feed_rate(),
                ms(asked.elapsed())
            );
            assert!(speaker.is_playing());
            wait_until("the clip to end", Duration::from_secs(10), || {
                (!speaker.is_playing()).then_some(())
            });
            let started = speaker.last_started_at().expect("the clip started");
            println!(
                "the feed took the first sample {:.1} ms after play()",
                ms(started - asked)
            );
            assert!(started >= asked && started - asked < Duration::from_secs(2));
            wait_until(
                "the tone and 300 ms after it on speaker.monitor",
                Duration::from_secs(15),
                || {
                    let heard = recording.snapshot();
                    let (_, end) = loud_span(&heard, RECORD_RATE)?;
                    (heard.len() > end + RECORD_RATE as usize * 3 / 10).then_some(())
                },
            );
            let heard = recording.stop();
            let (start, end) = loud_span(&heard, RECORD_RATE).unwrap();
            let duration = tone_seconds(&heard, 0.5, RECORD_RATE);
            let middle = &heard[start + 1600..end - 1600];
            let hz = zero_crossing_hz(middle, RECORD_RATE);
            let level = tone_dbfs(middle, RECORD_RATE);
            println!("heard {duration:.3} s of {hz:.2} Hz at {level:.2} dBFS");
            assert!(
                (duration - 1.0).abs() < 0.05,
                "heard {duration} s of a 1 s clip"
            );
            assert!(
                (level + 9.03).abs() < 1.0,
                "a 0.5 sine reads -9 dBFS: {level}"
            );
            assert!((hz - 660.0).abs() < 660.0 * 0.02, "{hz} Hz");
            assert!(level > -30.0, "{level} dBFS");
            assert!(speaker.take_notices().is_empty());
        },
    );
}

#[test]
fn stop_cuts_a_clip_mid_way_within_the_barge_in_bound() {
    with_fake_audio(
        "stop_cuts_a_clip_mid_way_within_the_barge_in_bound",
        |fake| {
            let recording = fake.start_recording_speaker();
            let speaker = Speaker::open(DeviceChoice::Default).unwrap();
            speaker.play(tone(500.0, 3.0, 48_000, 0.5), 48_000).unwrap();
            speaker.play(tone(800.0, 2.0, 48_000, 0.5), 48_000).unwrap();
            // Let 500 ms of the tone sound, then barge in.
            wait_until(
                "500 ms of tone on the speaker",
                Duration::from_secs(10),
                || (tone_seconds(&recording.snapshot(), 0.5, RECORD_RATE) >= 0.5).then_some(()),
            );
            let stopped = Instant::now();
            speaker.stop();
            assert!(!speaker.is_playing(), "is_playing is false at once");
            let started = speaker.last_started_at().expect("the clip started");

            let one_second_on = recording
                .index_at(stopped + Duration::from_secs(1))
                .unwrap();
            wait_until(
                "1 s of recording after the stop",
                Duration::from_secs(10),
                || (recording.len() > one_second_on).then_some(()),
            );
            let stop_at = recording.index_at(stopped).unwrap();
            let heard = recording.snapshot();
            let timeline: String = heard
                .chunks(RECORD_RATE as usize / 20)
                .map(|w| if rms_dbfs(w) > -40.0 { '#' } else { '.' })
                .collect();
            println!("the speaker, 50 ms a character: {timeline}");

            // The last loud 5 ms after the stop, on this process's clock.
            let window = (RECORD_RATE / 200) as usize;
            let last_loud = heard
                .chunks(window)
                .enumerate()
                .filter(|(_, w)| rms_dbfs(w) > -40.0)
                .map(|(i, _)| (i + 1) * window)
                .next_back()
                .expect("the tone was heard");
            let latency = recording
                .instant_of(last_loud)
                .unwrap()
                .saturating_duration_since(stopped);
            println!(
                "stop latency (stop() to the end of the last loud 5 ms): {:.1} ms ({} samples after the stop)",
                ms(latency),
                last_loud.saturating_sub(stop_at)
            );
            assert!(
                latency <= MAX_STOP_LATENCY,
                "still sounding {latency:?} after stop()"
            );

            let sounded = tone_seconds(&heard, 0.5, RECORD_RATE);
            let expected = (stopped - started).as_secs_f64();
            println!(
                "heard {sounded:.3} s of a 3 s clip stopped {expected:.3} s after the feed started it"
            );
            // Loud time, not span: a busy machine's underruns pause the clip, never lengthen it.
            assert!(
                (0.5..2.5).contains(&sounded),
                "the 3 s clip was cut after 0.5 s: {sounded} s"
            );
            assert!(
                sounded < expected + 0.1,
                "heard {sounded} s, stopped after {expected} s"
            );
            let (start, end) = loud_span(&heard, RECORD_RATE).unwrap();
            let hz = zero_crossing_hz(&heard[start + 800..end - 800], RECORD_RATE);
            assert!(
                (hz - 500.0).abs() < 10.0,
                "only the first clip sounded: {hz} Hz"
            );
            let tail = &heard[stop_at + RECORD_RATE as usize / 10..];
            assert!(tail.len() >= RECORD_RATE as usize * 8 / 10);
            assert!(
                rms_dbfs(tail) < -60.0,
                "the tail is silent: {} dBFS",
                rms_dbfs(tail)
            );
            drop(recording);

            // The speaker still plays after a stop.
            speaker.play(tone(300.0, 0.2, 16_000, 0.5), 16_000).unwrap();
            assert!(speaker.is_playing());
            wait_until("the short clip to end", Duration::from_secs(10), || {
                (!speaker.is_playing()).then_some(())
            });
            assert!(speaker.last_started_at().unwrap() > stopped);
            assert!(speaker.take_notices().is_empty());
        },
    );
}

#[test]
fn list_devices_shows_the_fake_microphone_and_speaker() {
    with_fake_audio("list_devices_shows_the_fake_microphone_and_speaker", |_| {
        let list = list_devices();
        println!("{list:#?}");
        assert_eq!(list.host.as_deref(), Some("PulseAudio"));
        let mic = list
            .inputs
            .iter()
            .find(|d| d.id == "pulseaudio:fakemic")
            .expect("the fake mic is listed");
        assert_eq!(mic.name, "Fake-microphone");
        assert!(
            list.inputs
                .iter()
                .any(|d| d.id == "pulseaudio:speaker.monitor")
        );
        assert!(
            list.outputs
                .iter()
                .any(|d| d.id == "pulseaudio:speaker" && d.name == "Fake-speaker")
        );
        assert!(list.outputs.iter().all(|d| !d.id.ends_with(".monitor")));
        assert_eq!(list.default_input.as_deref(), Some("pulseaudio:fakemic"));
        assert_eq!(list.default_output.as_deref(), Some("pulseaudio:speaker"));
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["default_input"], "pulseaudio:fakemic");
    });
}

#[test]
fn unplugging_the_microphone_switches_to_the_new_default_and_capture_goes_on() {
    with_fake_audio(
        "unplugging_the_microphone_switches_to_the_new_default_and_capture_goes_on",
        |fake| {
            let told: Arc<Mutex<Vec<DeviceNotice>>> = Arc::default();
            let sink = told.clone();
            let options = OpenOptions {
                on_notice: Some(Arc::new(move |n: &DeviceNotice| {
                    println!("notice: {n}");
                    sink.lock().unwrap().push(n.clone());
                })),
                ..OpenOptions::default()
            };
            let mut mic = Microphone::open_with(DeviceChoice::Default, options).unwrap();
            assert_eq!(mic.device().unwrap().id, "pulseaudio:fakemic");
            read_until(
                &mut mic,
                "chunks from the fake mic",
                Duration::from_secs(10),
                |g| g.len() >= 5,
            );

            let unplugged = Instant::now();
            fake.unplug_mic();
            let new_default = format!("pulseaudio:{}", fake.default_source());
            // Keep reading while the watcher notices: the reader never hangs.
            let after = read_until(
                &mut mic,
                "the switch to the new default, and chunks from it",
                Duration::from_secs(15),
                |g| {
                    let switched = told.lock().unwrap().iter().any(
                        |n| matches!(n, DeviceNotice::Switched { device, .. } if device.id == new_default),
                    );
                    switched && g.iter().filter(|r| r.chunk.captured_at > unplugged).count() >= 5
                },
            );
            let notices = told.lock().unwrap().clone();
            assert!(
                matches!(&notices[0], DeviceNotice::Lost { device, .. } if device.id == "pulseaudio:fakemic"),
                "{notices:?}"
            );
            assert!(
                notices[0].message().contains("is not working any more"),
                "{}",
                notices[0]
            );
            assert_eq!(mic.device().unwrap().id, new_default);
            assert_eq!(mic.sample_rate(), MIC_RATE, "the rate stays");
            assert!(after.iter().all(|r| r.chunk.sample_rate == MIC_RATE));
            println!(
                "switched to {new_default} {:.0} ms after the unplug",
                ms(unplugged.elapsed())
            );
            assert_eq!(mic.take_notices(), notices, "kept notices match those told");

            // Plugged back: the default follows, and what is spoken is heard again.
            fake.replug_mic();
            read_until(
                &mut mic,
                "the switch back to the fake mic",
                Duration::from_secs(15),
                |_| mic_is(&told, "pulseaudio:fakemic"),
            );
            let speech = fake.speak(&tone(440.0, 0.6, MIC_RATE, 0.5));
            let got = read_until(
                &mut mic,
                "the tone after the replug",
                Duration::from_secs(15),
                |g| loud_span(&samples_of(g), MIC_RATE).is_some_and(|(a, b)| b - a >= 8000),
            );
            speech.wait(Duration::from_secs(10));
            let s = samples_of(&got);
            let (a, b) = loud_span(&s, MIC_RATE).unwrap();
            let hz = zero_crossing_hz(&s[a + 800..b - 800], MIC_RATE);
            assert!((hz - 440.0).abs() < 440.0 * 0.02, "{hz} Hz");
        },
    );
}

#[test]
fn unplugging_the_speaker_moves_the_rest_of_the_clip_to_the_new_default() {
    with_fake_audio(
        "unplugging_the_speaker_moves_the_rest_of_the_clip_to_the_new_default",
        |fake| {
            // The only other sink is the microphone's input: what plays on it is heard by
            // the microphone, which shows that playback went on.
            let mut mic = Microphone::open(DeviceChoice::Default).unwrap();
            let told: Arc<Mutex<Vec<DeviceNotice>>> = Arc::default();
            let sink = told.clone();
            let options = OpenOptions {
                on_notice: Some(Arc::new(move |n: &DeviceNotice| {
                    println!("notice: {n}");
                    sink.lock().unwrap().push(n.clone());
                })),
                ..OpenOptions::default()
            };
            let speaker = Speaker::open_with(DeviceChoice::Default, options).unwrap();
            speaker.play(tone(600.0, 4.0, 48_000, 0.5), 48_000).unwrap();
            wait_until("the clip to start", Duration::from_secs(10), || {
                speaker.last_started_at()
            });
            let unplugged = Instant::now();
            fake.unplug_speaker();
            wait_until(
                "the speaker to switch to fakemic_in",
                Duration::from_secs(15),
                || {
                    (speaker
                        .device()
                        .is_some_and(|d| d.id == "pulseaudio:fakemic_in"))
                    .then_some(())
                },
            );
            println!(
                "playback switched {:.0} ms after the unplug",
                ms(unplugged.elapsed())
            );
            let notices = told.lock().unwrap().clone();
            assert!(
                matches!(&notices[0], DeviceNotice::Lost { device, .. } if device.id == "pulseaudio:speaker"),
                "{notices:?}"
            );
            assert!(
                notices.iter().any(|n| matches!(n, DeviceNotice::Switched { device, .. } if device.id == "pulseaudio:fakemic_in")),
                "{notices:?}"
            );
            assert!(speaker.is_playing(), "the rest of the clip is still queued");
            let got = read_until(
                &mut mic,
                "the clip's rest through the microphone",
                Duration::from_secs(15),
                |g| tone_seconds(&samples_of(g), 0.5, MIC_RATE) >= 0.3,
            );
            let s = samples_of(&got);
            let (a, b) = loud_span(&s, MIC_RATE).unwrap();
            let hz = zero_crossing_hz(&s[a + 400..b - 400], MIC_RATE);
            assert!((hz - 600.0).abs() < 600.0 * 0.02, "{hz} Hz");
            speaker.stop();
            assert!(!speaker.is_playing());
        },
    );
}

fn mic_is(told: &Mutex<Vec<DeviceNotice>>, id: &str) -> bool {
    matches!(told.lock().unwrap().last(), Some(DeviceNotice::Switched { device, .. }) if device.id == id)
}

#[test]
fn with_no_sound_server_opening_the_microphone_says_there_is_none() {
    let test = "with_no_sound_server_opening_the_microphone_says_there_is_none";
    if !in_child_test() {
        let dead = tempfile::tempdir().unwrap();
        return run_test_in_child(test, &dead_audio_env(dead.path()), CHILD_WITHIN);
    }
    let t0 = Instant::now();
    let err = Microphone::open(DeviceChoice::Default).expect_err("no microphone");
    println!("{err}");
    assert!(matches!(err, AudioError::NoMicrophone { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("No microphone is available: "),
        "{err}"
    );
    let err = Speaker::open(DeviceChoice::Default).expect_err("no speaker");
    println!("{err}");
    assert!(matches!(err, AudioError::NoSpeaker { .. }), "{err:?}");
    let err = Microphone::open(DeviceChoice::Id("pulseaudio:fakemic".into())).unwrap_err();
    assert!(matches!(err, AudioError::NoMicrophone { .. }), "{err:?}");
    let list = list_devices();
    println!("{list:?}");
    assert_eq!(list.default_input, None, "no usable default input");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "answered in {:?}",
        t0.elapsed()
    );
}
