//! One turn: speech to text, the reply streamed and cut into sentences, each sentence
//! spoken as soon as it is written, then waiting for the reply to be heard to its end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use greenroom_core::lock_unpoisoned;
use greenroom_voice::resample::STT_RATE;
use tokio::sync::mpsc;

use super::{ReplyStrategy, Shared, TurnInputs, TurnState, play};
use crate::clients::Line;
use crate::events::{NoticeLevel, Side, TalkEvent, TalkState};
use crate::sentences::SentenceSplitter;
use crate::services::ServiceError;

pub(super) async fn run_turn(
    shared: Arc<Shared>,
    inputs: Arc<TurnInputs>,
    turn: Arc<TurnState>,
    history: Vec<Line>,
) {
    let result = turn_pipeline(&shared, &inputs, &turn, history).await;
    if let Err(e) = result {
        shared.notice(NoticeLevel::Error, e.to_string(), Some(e.service()));
        *lock_unpoisoned(&turn.error) = Some(e);
        inputs.output.stop();
        lock_unpoisoned(&shared.playing).clear();
    }
}

async fn turn_pipeline(
    shared: &Shared,
    inputs: &TurnInputs,
    turn: &TurnState,
    mut history: Vec<Line>,
) -> Result<(), ServiceError> {
    let index = Some(turn.index);
    // 1. Speech to text.
    shared.set_state(TalkState::Transcribing, index);
    let wav = crate::clients::wav_bytes(&turn.utterance, STT_RATE);
    turn.mark(|m| m.stt_sent = Some(Instant::now()));
    let heard = inputs.pipeline.stt.transcribe_wav(wav).await?;
    let now = Instant::now();
    turn.mark(|m| m.stt_done = Some(now));
    *lock_unpoisoned(&turn.learner_text) = heard.text.clone();
    *lock_unpoisoned(&turn.confidence) = heard.confidence;
    shared.sink.emit(TalkEvent::Text {
        turn: index,
        side: Side::Learner,
        text: heard.text.clone(),
        is_final: true,
    });
    if heard.text.trim().is_empty() {
        shared.notice(
            NoticeLevel::Info,
            "nothing was understood in that utterance; Marie waits for the next one".into(),
            None,
        );
        return Ok(());
    }
    history.push(Line {
        speaker: Side::Learner,
        text: heard.text,
    });

    // 2. The reply, streamed; sentences go to 3 as they complete.
    shared.set_state(TalkState::Thinking, index);
    let (sentences_tx, mut sentences_rx) = mpsc::unbounded_channel::<String>();
    let writer = async {
        turn.mark(|m| m.llm_sent = Some(Instant::now()));
        let mut stream = inputs
            .pipeline
            .chat
            .stream_reply(&inputs.system_prompt, &history, inputs.seed)
            .await?;
        let mut splitter = SentenceSplitter::new();
        let mut text = String::new();
        let mut sent_any = false;
        let send = |sentence: String, sent_any: &mut bool| {
            if !*sent_any {
                turn.mark(|m| m.llm_first_sentence = Some(Instant::now()));
                *sent_any = true;
            }
            let _ = sentences_tx.send(sentence);
        };
        let mut whole = Vec::new();
        while let Some(piece) = stream.next().await? {
            if text.is_empty() {
                let at = stream.first_token().unwrap_or_else(Instant::now);
                turn.mark(|m| m.llm_first_token = Some(at));
            }
            text.push_str(&piece);
            *lock_unpoisoned(&turn.marie_text) = text.trim().to_string();
            shared.sink.emit(TalkEvent::Text {
                turn: index,
                side: Side::Marie,
                text: text.trim().to_string(),
                is_final: false,
            });
            for sentence in splitter.push(&piece) {
                match inputs.strategy {
                    ReplyStrategy::FirstSentence => send(sentence, &mut sent_any),
                    ReplyStrategy::WholeReply => whole.push(sentence),
                }
            }
        }
        let now = Instant::now();
        turn.mark(|m| m.llm_done = Some(now));
        whole.extend(splitter.finish());
        if inputs.strategy == ReplyStrategy::WholeReply && !whole.is_empty() {
            send(whole.join(" "), &mut sent_any);
        } else {
            for s in whole {
                send(s, &mut sent_any);
            }
        }
        shared.sink.emit(TalkEvent::Text {
            turn: index,
            side: Side::Marie,
            text: text.trim().to_string(),
            is_final: true,
        });
        if text.trim().is_empty() {
            return Err(ServiceError::BadAnswer {
                service: crate::services::Service::Llm,
                url: inputs.pipeline.chat.url().to_string(),
                detail: "an empty reply".into(),
            });
        }
        drop(sentences_tx);
        Ok::<(), ServiceError>(())
    };
    // 3. Each sentence spoken as soon as it is written.
    let (played_tx, played_rx) = tokio::sync::oneshot::channel::<Instant>();
    let mut played_tx = Some(played_tx);
    let speaker = async {
        let mut queued_until: Option<Instant> = None;
        let mut first = true;
        while let Some(sentence) = sentences_rx.recv().await {
            let sent = Instant::now();
            if first {
                turn.mark(|m| m.tts_sent = Some(sent));
            }
            let clip = inputs
                .pipeline
                .tts
                .synthesize(&sentence, &inputs.voice)
                .await?;
            let now = Instant::now();
            if first {
                turn.mark(|m| {
                    m.tts_first_byte = Some(clip.first_byte);
                    m.tts_done = Some(clip.done);
                    m.play_requested = Some(now);
                });
            }
            let samples = Arc::new(clip.samples);
            let duration = greenroom_voice::io::duration_of(samples.len(), clip.sample_rate);
            play(shared, inputs, samples, clip.sample_rate, now);
            let start = queued_until.filter(|u| *u > now).unwrap_or(now);
            queued_until = Some(start + duration);
            if first {
                // Nothing was playing: the clip starts now, give or take the device's
                // buffer; the watcher below refines it when the output knows.
                turn.mark(|m| m.first_audio = Some(start));
                if let Some(tx) = played_tx.take() {
                    let _ = tx.send(now);
                }
                *lock_unpoisoned(&turn.spoke) = true;
                shared.set_state(TalkState::Speaking, index);
                first = false;
            }
        }
        Ok::<Option<Instant>, ServiceError>(queued_until)
    };
    // When the first sample actually sounded, if the output can say (a sound device can;
    // its buffer is part of the time to first audio).
    let watcher = async {
        if let Ok(requested) = played_rx.await {
            let deadline = requested + Duration::from_secs(1);
            while Instant::now() < deadline {
                if let Some(at) = inputs
                    .output
                    .last_started_at()
                    .filter(|at| *at >= requested)
                {
                    turn.mark(|m| m.first_audio = Some(at));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        Ok::<(), ServiceError>(())
    };
    let ((), queued_until, ()) = tokio::try_join!(writer, speaker, watcher)?;
    // 4. Wait for the reply to be heard to its end.
    if let Some(until) = queued_until {
        let deadline = until + Duration::from_secs(2);
        while inputs.output.is_playing() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let now = Instant::now();
        turn.mark(|m| m.playback_ended = Some(now));
        lock_unpoisoned(&shared.playing).clear();
    }
    Ok(())
}
