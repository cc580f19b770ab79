//! The end-of-speech detector on real speech: an English sentence spoken by espeak-ng,
//! resampled to 16 kHz and fed through a scripted microphone, makes exactly one utterance
//! that starts where the voice does; silence and white noise at -40 dBFS make none, from
//! the start of a stream or after digital silence.

use std::io::Cursor;
use std::process::Command;
use std::time::Duration;

use greenroom_voice::io::{AudioIn, Next, Script, ScriptedInput, add_white_noise, duration_of};
use greenroom_voice::resample::{STT_RATE, to_stt};
use greenroom_voice::{EndOfSpeech, VadConfig, VadEvent};

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog";

/// `text` spoken by espeak-ng, as mono f32 at its own rate.
fn espeak(text: &str) -> (Vec<f32>, u32) {
    let out = match Command::new("espeak-ng").args(["--stdout", text]).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("espeak-ng is missing: apt install espeak-ng")
        }
        Err(e) => panic!("espeak-ng did not start: {e}"),
    };
    assert!(
        out.status.success(),
        "espeak-ng failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = hound::WavReader::new(Cursor::new(out.stdout)).expect("espeak-ng's WAV header");
    let spec = reader.spec();
    assert_eq!(spec.channels, 1);
    // espeak-ng streams: its header claims ~2 GiB of data, so read until the bytes end
    let samples = reader
        .into_samples::<i16>()
        .map_while(Result::ok)
        .map(|s| f32::from(s) / 32768.0)
        .collect();
    (samples, spec.sample_rate)
}

/// Everything the detector says about `script`, with the scripted input's start instant.
fn detect(script: Script) -> (Vec<VadEvent>, ScriptedInput) {
    let mut input = ScriptedInput::new(script).unwrap();
    let mut vad = EndOfSpeech::new(VadConfig::default()).unwrap();
    let mut events = Vec::new();
    loop {
        match input.next_chunk(Duration::from_secs(1)).unwrap() {
            Next::Chunk(chunk) => events.extend(vad.push_chunk(&chunk).unwrap()),
            Next::Waiting => {}
            Next::Ended => break,
        }
    }
    events.extend(vad.finish());
    (events, input)
}

#[test]
fn a_spoken_sentence_is_one_utterance_starting_with_the_voice() {
    let (speech, rate) = espeak(SENTENCE);
    let speech = to_stt(&speech, 1, rate).unwrap();
    let peak = speech.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let first_loud = speech.iter().position(|s| s.abs() >= 0.1 * peak).unwrap();
    let last_loud = speech.iter().rposition(|s| s.abs() >= 0.1 * peak).unwrap();

    let script = Script {
        lead_in: Duration::from_secs(1),
        tail: Duration::from_secs(2),
        noise_dbfs: Some(-70.0),
        ..Script::new(STT_RATE, vec![speech])
    };
    let (events, input) = detect(script);
    let started = input.started_at().unwrap();
    let loud_at = started + input.utterance_spans()[0].0 + duration_of(first_loud, STT_RATE);

    assert_eq!(events.len(), 2, "one utterance: {events:#?}");
    let VadEvent::SpeechStarted { at } = events[0] else {
        panic!("{events:#?}")
    };
    let off = if at > loud_at {
        at - loud_at
    } else {
        loud_at - at
    };
    assert!(
        off <= Duration::from_millis(150),
        "started {off:?} away from the voice"
    );
    let VadEvent::SpeechEnded { utterance, .. } = &events[1] else {
        panic!("{events:#?}")
    };
    let voiced = last_loud - first_loud;
    assert!(
        utterance.len() >= voiced,
        "{} < {voiced} samples",
        utterance.len()
    );
}

#[test]
fn silence_and_white_noise_at_minus_40_dbfs_are_not_speech() {
    for noise in [None, Some(-40.0)] {
        let script = Script {
            lead_in: Duration::from_secs(5),
            noise_dbfs: noise,
            ..Script::new(STT_RATE, vec![])
        };
        let (events, _) = detect(script);
        assert!(events.is_empty(), "noise {noise:?}: {events:#?}");
    }
    // digital silence, then noise: the step must not read as speech either
    let mut hiss = vec![0.0f32; 3 * STT_RATE as usize];
    add_white_noise(&mut hiss, -40.0);
    let (events, _) = detect(Script::new(STT_RATE, vec![hiss]));
    assert!(events.is_empty(), "silence then noise: {events:#?}");
}
