//! What the room tells the participant, turned into [`ParticipantEvent`]s: who is in it
//! (participant updates) and what they send (LiveKit data packets), with the text streams
//! reassembled.
//!
//! Why it exists: the media loop owns sockets and timers; this is the part of its work that
//! is plain bookkeeping over LiveKit's protobuf messages, so it is kept pure (bytes and
//! messages in, events out, no I/O and no clock) and tested on its own, including against
//! arbitrary bytes.
//!
//! Exact semantics of [`RoomState`]:
//! - Roster: starts with the others the `JoinResponse` listed. In a participant update,
//!   every participant but us that is `DISCONNECTED` and known is removed
//!   ([`ParticipantEvent::ParticipantLeft`]); every other one not yet known is added
//!   ([`ParticipantEvent::ParticipantJoined`]). Then, for every participant of the update
//!   that carries the [`crate::signal::AGENT_STATE_ATTRIBUTE`] attribute (us included),
//!   one [`ParticipantEvent::AgentState`] with its value, in the update's order, whether or
//!   not it changed since the last update.
//! - A data packet's sender is its `participant_identity`, else the identity the roster
//!   knows for its `participant_sid`, else that sid.
//! - User packets come out at once as [`ParticipantEvent::Data`] (an empty sender is
//!   replaced by the user packet's own, deprecated, identity).
//! - Text streams (LiveKit's data streams, as agents publish `lk.transcription`): a header
//!   opens the stream under its id (replacing a stream open under the same id); each chunk
//!   of an open stream is kept under its index (a repeated index replaces the content);
//!   the trailer closes it and emits one [`ParticipantEvent::Text`]: the chunks' bytes in
//!   index order, decoded as UTF-8 (lossily, once the whole stream is in, so a character
//!   split across chunks survives), with the header's attributes, then the trailer's on
//!   top. Chunks and trailers of a stream that is not open are ignored, as are packets
//!   that do not decode and every other kind of packet.

use super::ParticipantEvent;
use crate::signal;
use livekit_protocol as proto;
use prost::Message as _;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// The roster and the text streams in progress.
pub(super) struct RoomState {
    own_sid: String,
    /// sid → identity of everyone else in the room.
    participants: HashMap<String, String>,
    /// Text streams whose header came and whose trailer did not yet, by stream id.
    text_streams: HashMap<String, TextStream>,
}

/// The sender of a data packet as the server filled it in (one field may be empty).
#[derive(Debug, Clone, Default)]
struct Sender {
    identity: String,
    sid: String,
}

impl Sender {
    /// Whether two packets come from the same participant: compared by sid when both carry
    /// one (the server fills it in from the connection that sent the packet), else by
    /// identity when both carry one; else the server said too little to tell, and they are
    /// taken as the same. Not by identity first: an agent writes the learner's transcript
    /// *on their behalf* (the header names the learner, its chunks the agent, both with the
    /// agent's sid), as livekit-agents 1.8 does.
    fn same_as(&self, other: &Sender) -> bool {
        if !self.sid.is_empty() && !other.sid.is_empty() {
            self.sid == other.sid
        } else if !self.identity.is_empty() && !other.identity.is_empty() {
            self.identity == other.identity
        } else {
            true
        }
    }
}

struct TextStream {
    /// The header's sender: only it may add chunks or close the stream.
    sender: Sender,
    participant: String,
    topic: String,
    attributes: HashMap<String, String>,
    chunks: BTreeMap<u64, Vec<u8>>,
    /// Bytes of `chunks` so far.
    bytes: usize,
}

/// Text streams one participant may have open at once; a header beyond this is ignored.
/// Any peer in the room can send them, so what they hold is bounded.
pub const MAX_OPEN_STREAMS_PER_PARTICIPANT: usize = 16;
/// Text streams open at once in the room.
pub const MAX_OPEN_STREAMS: usize = 256;
/// The most text one stream may carry; a stream that grows past it is dropped.
pub const MAX_STREAM_BYTES: usize = 1024 * 1024;

impl RoomState {
    /// We are `own_sid`; `others` are (sid, identity) of those already in the room.
    pub(super) fn new(own_sid: &str, others: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            own_sid: own_sid.to_string(),
            participants: others.into_iter().collect(),
            text_streams: HashMap::new(),
        }
    }

    /// The identity of participant `sid`, or `sid` itself if we do not know it.
    pub(super) fn identity_of(&self, sid: &str) -> String {
        self.participants
            .get(sid)
            .cloned()
            .unwrap_or_else(|| sid.to_string())
    }

    /// A participant update: who joined, who left, the agents' states.
    pub(super) fn on_update(&mut self, update: &proto::ParticipantUpdate) -> Vec<ParticipantEvent> {
        let mut events = Vec::new();
        for p in &update.participants {
            if p.sid == self.own_sid {
                continue;
            }
            let gone = p.state == proto::participant_info::State::Disconnected as i32;
            if gone {
                if let Some(identity) = self.participants.remove(&p.sid) {
                    events.push(ParticipantEvent::ParticipantLeft {
                        sid: p.sid.clone(),
                        identity,
                    });
                }
            } else if !self.participants.contains_key(&p.sid) {
                self.participants.insert(p.sid.clone(), p.identity.clone());
                events.push(ParticipantEvent::ParticipantJoined {
                    sid: p.sid.clone(),
                    identity: p.identity.clone(),
                });
            }
        }
        for (participant, state) in signal::agent_states(update) {
            events.push(ParticipantEvent::AgentState { participant, state });
        }
        events
    }

    /// One data packet, received at `now` on a reliable channel or not: the event it
    /// completes, if any.
    pub(super) fn on_data_packet(
        &mut self,
        bytes: &[u8],
        reliable: bool,
        now: Instant,
    ) -> Option<ParticipantEvent> {
        let Ok(packet) = proto::DataPacket::decode(bytes) else {
            tracing::debug!("a data packet we cannot read ({} bytes)", bytes.len());
            return None;
        };
        // Who sent it, as the server says: identity and sid, either may be empty.
        let sender = Sender {
            identity: packet.participant_identity.clone(),
            sid: packet.participant_sid.clone(),
        };
        let from = if packet.participant_identity.is_empty() {
            self.identity_of(&packet.participant_sid)
        } else {
            packet.participant_identity
        };
        use proto::data_packet::Value;
        match packet.value? {
            Value::User(user) => {
                #[allow(deprecated)]
                let participant = if from.is_empty() {
                    user.participant_identity
                } else {
                    from
                };
                Some(ParticipantEvent::Data {
                    participant,
                    topic: user.topic,
                    payload: user.payload,
                    reliable,
                    received_at: now,
                })
            }
            Value::StreamHeader(header) => {
                // Bounded (any peer may open streams), and a stream id another peer uses
                // is not taken over.
                let theirs = self
                    .text_streams
                    .values()
                    .filter(|s| s.participant == from)
                    .count();
                let existing = self.text_streams.get(&header.stream_id);
                let restarts_own = existing.is_some_and(|s| s.sender.same_as(&sender));
                if existing.is_some_and(|s| !s.sender.same_as(&sender))
                    || (!restarts_own
                        && (theirs >= MAX_OPEN_STREAMS_PER_PARTICIPANT
                            || self.text_streams.len() >= MAX_OPEN_STREAMS))
                {
                    tracing::debug!(
                        "a text stream from {from} is ignored (too many open, or a reused id)"
                    );
                    return None;
                }
                self.text_streams.insert(
                    header.stream_id,
                    TextStream {
                        sender,
                        participant: from,
                        topic: header.topic,
                        attributes: header.attributes,
                        chunks: BTreeMap::new(),
                        bytes: 0,
                    },
                );
                None
            }
            Value::StreamChunk(chunk) => {
                let stream = self.text_streams.get_mut(&chunk.stream_id)?;
                if !stream.sender.same_as(&sender) {
                    return None; // only the stream's sender writes to it
                }
                let previous = stream
                    .chunks
                    .insert(chunk.chunk_index, chunk.content)
                    .map_or(0, |c| c.len());
                let added = stream.chunks[&chunk.chunk_index].len();
                stream.bytes = stream.bytes - previous + added;
                if stream.bytes > MAX_STREAM_BYTES {
                    tracing::debug!(
                        "a text stream from {from} passed {MAX_STREAM_BYTES} bytes: dropped"
                    );
                    self.text_streams.remove(&chunk.stream_id);
                }
                None
            }
            Value::StreamTrailer(trailer) => {
                if self
                    .text_streams
                    .get(&trailer.stream_id)
                    .is_some_and(|s| !s.sender.same_as(&sender))
                {
                    return None;
                }
                let stream = self.text_streams.remove(&trailer.stream_id)?;
                let bytes: Vec<u8> = stream.chunks.into_values().flatten().collect();
                let mut attributes = stream.attributes;
                attributes.extend(trailer.attributes);
                Some(ParticipantEvent::Text {
                    participant: stream.participant,
                    topic: stream.topic,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    attributes,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participant::TRANSCRIPTION_TOPIC;
    use proptest::prelude::*;
    use proto::data_packet::Value;
    use proto::data_stream::{Chunk, Header, Trailer};

    fn packet(from: &str, value: Value) -> Vec<u8> {
        proto::DataPacket {
            participant_identity: from.into(),
            value: Some(value),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn header(from: &str, id: &str, attributes: &[(&str, &str)]) -> Vec<u8> {
        packet(
            from,
            Value::StreamHeader(Header {
                stream_id: id.into(),
                topic: TRANSCRIPTION_TOPIC.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }),
        )
    }

    fn chunk(from: &str, id: &str, index: u64, content: &[u8]) -> Vec<u8> {
        packet(
            from,
            Value::StreamChunk(Chunk {
                stream_id: id.into(),
                chunk_index: index,
                content: content.to_vec(),
                ..Default::default()
            }),
        )
    }

    fn trailer(from: &str, id: &str, attributes: &[(&str, &str)]) -> Vec<u8> {
        packet(
            from,
            Value::StreamTrailer(Trailer {
                stream_id: id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }),
        )
    }

    fn feed(room: &mut RoomState, packets: &[Vec<u8>]) -> Vec<ParticipantEvent> {
        let now = Instant::now();
        packets
            .iter()
            .filter_map(|p| room.on_data_packet(p, true, now))
            .collect()
    }

    /// (participant, topic, text, attributes) of each text event.
    fn texts(
        events: &[ParticipantEvent],
    ) -> Vec<(String, String, String, HashMap<String, String>)> {
        events
            .iter()
            .map(|e| match e {
                ParticipantEvent::Text {
                    participant,
                    topic,
                    text,
                    attributes,
                } => (
                    participant.clone(),
                    topic.clone(),
                    text.clone(),
                    attributes.clone(),
                ),
                other => panic!("not a text: {other:?}"),
            })
            .collect()
    }

    fn info(
        sid: &str,
        identity: &str,
        state: proto::participant_info::State,
    ) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            sid: sid.into(),
            identity: identity.into(),
            state: state as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_text_stream_in_chunks_comes_out_once_complete_and_in_order() {
        let mut room = RoomState::new("PA_me", []);
        let mut events = feed(
            &mut room,
            &[
                header("agent", "s1", &[("lk.segment_id", "seg"), ("final", "no")]),
                chunk("agent", "s1", 2, b" monde"),
                chunk("agent", "s1", 0, b"Bonj"),
                // "ou" then "r," and a repeated index: the last content counts.
                chunk("agent", "s1", 1, b"xx"),
                chunk("agent", "s1", 1, "our,".as_bytes()),
            ],
        );
        assert!(events.is_empty(), "nothing before the trailer: {events:?}");
        events.extend(feed(
            &mut room,
            &[
                trailer("agent", "s1", &[("final", "yes")]),
                trailer("agent", "s1", &[]),
                chunk("agent", "s1", 3, b"late"),
            ],
        ));
        let texts = texts(&events);
        assert_eq!(texts.len(), 1, "once: {events:?}");
        let (participant, topic, text, attributes) = &texts[0];
        assert_eq!(participant, "agent");
        assert_eq!(topic, TRANSCRIPTION_TOPIC);
        assert_eq!(text, "Bonjour, monde");
        assert_eq!(attributes["lk.segment_id"], "seg");
        assert_eq!(attributes["final"], "yes", "the trailer's attributes win");
    }

    #[test]
    fn a_character_split_across_chunks_survives() {
        let mut room = RoomState::new("PA_me", []);
        let bytes = "été".as_bytes();
        let events = feed(
            &mut room,
            &[
                header("agent", "s", &[]),
                chunk("agent", "s", 0, &bytes[..1]),
                chunk("agent", "s", 1, &bytes[1..3]),
                chunk("agent", "s", 2, &bytes[3..]),
                trailer("agent", "s", &[]),
            ],
        );
        assert_eq!(texts(&events)[0].2, "été");
    }

    #[test]
    fn interleaved_streams_are_kept_apart() {
        let mut room = RoomState::new("PA_me", []);
        let events = feed(
            &mut room,
            &[
                header("agent", "a", &[("n", "a")]),
                header("learner", "b", &[("n", "b")]),
                chunk("agent", "a", 0, b"one "),
                chunk("learner", "b", 0, b"deux "),
                chunk("learner", "b", 1, b"trois"),
                chunk("agent", "a", 1, b"two"),
                trailer("learner", "b", &[]),
                trailer("agent", "a", &[]),
            ],
        );
        let texts = texts(&events);
        assert_eq!(texts.len(), 2);
        assert_eq!(
            (
                texts[0].0.as_str(),
                texts[0].2.as_str(),
                texts[0].3["n"].as_str()
            ),
            ("learner", "deux trois", "b")
        );
        assert_eq!(
            (
                texts[1].0.as_str(),
                texts[1].2.as_str(),
                texts[1].3["n"].as_str()
            ),
            ("agent", "one two", "a")
        );
    }

    #[test]
    fn chunks_and_trailers_without_a_header_are_ignored() {
        let mut room = RoomState::new("PA_me", []);
        let events = feed(
            &mut room,
            &[
                chunk("agent", "ghost", 0, b"boo"),
                trailer("agent", "ghost", &[]),
                trailer("", "", &[]),
                vec![0xff, 0xff, 0xff],
                Vec::new(),
            ],
        );
        assert!(events.is_empty(), "{events:?}");
        // A stream opened later under that id starts empty.
        let events = feed(
            &mut room,
            &[
                header("agent", "ghost", &[]),
                trailer("agent", "ghost", &[]),
            ],
        );
        assert_eq!(texts(&events)[0].2, "");
    }

    /// Issue 13.13: text streams from any peer were held without bound, and a peer could
    /// write into another's stream.
    #[test]
    fn text_streams_are_bounded_and_only_their_sender_writes_them() {
        let mut room = RoomState::new("PA_me", []);
        // Too many streams from one peer: the extra headers are ignored.
        for i in 0..MAX_OPEN_STREAMS_PER_PARTICIPANT + 5 {
            feed(&mut room, &[header("spammer", &format!("s{i}"), &[])]);
        }
        assert_eq!(room.text_streams.len(), MAX_OPEN_STREAMS_PER_PARTICIPANT);
        // Another peer still gets its stream through, and nobody else writes into it.
        let events = feed(
            &mut room,
            &[
                header("agent", "mine", &[]),
                chunk("agent", "mine", 0, b"Bonjour"),
                chunk("spammer", "mine", 1, b" INJECTED"),
                header("spammer", "mine", &[]),
                trailer("spammer", "mine", &[]),
                trailer("agent", "mine", &[]),
            ],
        );
        let texts: Vec<String> = events
            .into_iter()
            .filter_map(|e| match e {
                ParticipantEvent::Text {
                    text, participant, ..
                } => Some(format!("{participant}: {text}")),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["agent: Bonjour"]);
        // A stream that grows too big is dropped, not kept.
        let big = vec![b'x'; 512 * 1024];
        feed(&mut room, &[header("agent", "big", &[])]);
        for i in 0..3 {
            feed(&mut room, &[chunk("agent", "big", i, &big)]);
        }
        assert!(!room.text_streams.contains_key("big"));
        assert!(feed(&mut room, &[trailer("agent", "big", &[])]).is_empty());
    }

    /// The server may name a packet's sender by identity on one packet and by sid only on
    /// the next: the same sender either way.
    #[test]
    fn a_stream_whose_chunks_name_their_sender_by_sid_only_is_read() {
        let mut room = RoomState::new("PA_me", []);
        let with = |identity: &str, sid: &str, value: Value| {
            proto::DataPacket {
                participant_identity: identity.into(),
                participant_sid: sid.into(),
                value: Some(value),
                ..Default::default()
            }
            .encode_to_vec()
        };
        let chunk_of = |sid: &str, index: u64, text: &str| {
            with(
                "",
                sid,
                Value::StreamChunk(Chunk {
                    stream_id: "t1".into(),
                    chunk_index: index,
                    content: text.as_bytes().to_vec(),
                    ..Default::default()
                }),
            )
        };
        let events = feed(
            &mut room,
            &[
                with(
                    "agent",
                    "PA_agent",
                    Value::StreamHeader(Header {
                        stream_id: "t1".into(),
                        topic: TRANSCRIPTION_TOPIC.into(),
                        ..Default::default()
                    }),
                ),
                chunk_of("PA_agent", 0, "Bonjour"),
                chunk_of("PA_other", 1, " INJECTED"),
                with(
                    "",
                    "PA_agent",
                    Value::StreamTrailer(Trailer {
                        stream_id: "t1".into(),
                        ..Default::default()
                    }),
                ),
            ],
        );
        let texts = texts(&events);
        assert_eq!(texts.len(), 1, "{events:?}");
        assert_eq!(texts[0].2, "Bonjour");
    }

    /// As livekit-agents 1.8.9 sends the learner's transcript through livekit-server
    /// 1.13.5 (seen on the wire): the header names the learner (`sender_identity`, written
    /// on their behalf), its chunks and trailer name the agent, all with the agent's sid.
    /// Compared by identity, the chunks were dropped and the learner's words lost.
    #[test]
    fn a_transcript_written_on_the_learners_behalf_is_read() {
        let mut room = RoomState::new(
            "PA_me",
            [("PA_agent".to_string(), "agent-AJ_1".to_string())],
        );
        let with = |identity: &str, sid: &str, value: Value| {
            proto::DataPacket {
                participant_identity: identity.into(),
                participant_sid: sid.into(),
                value: Some(value),
                ..Default::default()
            }
            .encode_to_vec()
        };
        let chunk = |sid: &str, index: u64, text: &str| {
            with(
                "agent-AJ_1",
                sid,
                Value::StreamChunk(Chunk {
                    stream_id: "u1".into(),
                    chunk_index: index,
                    content: text.as_bytes().to_vec(),
                    ..Default::default()
                }),
            )
        };
        let events = feed(
            &mut room,
            &[
                with(
                    "coach-1",
                    "PA_agent",
                    Value::StreamHeader(Header {
                        stream_id: "u1".into(),
                        topic: TRANSCRIPTION_TOPIC.into(),
                        ..Default::default()
                    }),
                ),
                chunk("PA_agent", 0, "Je m'appelle Ana"),
                // Another connection claiming the agent's identity does not write into it.
                chunk("PA_intruder", 1, " INJECTED"),
                with(
                    "agent-AJ_1",
                    "PA_agent",
                    Value::StreamTrailer(Trailer {
                        stream_id: "u1".into(),
                        ..Default::default()
                    }),
                ),
            ],
        );
        let texts = texts(&events);
        assert_eq!(texts.len(), 1, "{events:?}");
        assert_eq!(
            (texts[0].0.as_str(), texts[0].2.as_str()),
            ("coach-1", "Je m'appelle Ana")
        );
    }

    #[test]
    fn user_packets_come_out_at_once_from_their_sender() {
        let mut room = RoomState::new("PA_me", [("PA_bob".to_string(), "bob".to_string())]);
        let now = Instant::now();
        let user = |topic: Option<&str>| {
            Value::User(proto::UserPacket {
                payload: b"salut".to_vec(),
                topic: topic.map(Into::into),
                ..Default::default()
            })
        };
        let by_sid = proto::DataPacket {
            participant_sid: "PA_bob".into(),
            value: Some(user(Some("t"))),
            ..Default::default()
        }
        .encode_to_vec();
        let Some(ParticipantEvent::Data {
            participant,
            topic,
            payload,
            reliable,
            received_at,
        }) = room.on_data_packet(&by_sid, false, now)
        else {
            panic!("a data event")
        };
        assert_eq!(participant, "bob");
        assert_eq!(topic.as_deref(), Some("t"));
        assert_eq!(payload, b"salut");
        assert!(!reliable);
        assert_eq!(received_at, now);

        let unknown = proto::DataPacket {
            participant_sid: "PA_new".into(),
            value: Some(user(None)),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(matches!(
            room.on_data_packet(&unknown, true, now),
            Some(ParticipantEvent::Data { participant, .. }) if participant == "PA_new"
        ));
    }

    #[test]
    fn updates_say_who_joined_and_left_and_the_agent_states() {
        use proto::participant_info::State;
        let mut room = RoomState::new("PA_me", [("PA_bob".to_string(), "bob".to_string())]);
        let mut marie = info("PA_marie", "agent-marie", State::Active);
        marie
            .attributes
            .insert(signal::AGENT_STATE_ATTRIBUTE.into(), "listening".into());
        let events = room.on_update(&proto::ParticipantUpdate {
            participants: vec![info("PA_me", "me", State::Active), marie.clone()],
        });
        assert!(
            matches!(
                &events[..],
                [
                    ParticipantEvent::ParticipantJoined { sid, identity },
                    ParticipantEvent::AgentState { participant, state },
                ] if sid == "PA_marie" && identity == "agent-marie"
                    && participant == "agent-marie" && state == "listening"
            ),
            "{events:?}"
        );

        marie
            .attributes
            .insert(signal::AGENT_STATE_ATTRIBUTE.into(), "thinking".into());
        let events = room.on_update(&proto::ParticipantUpdate {
            participants: vec![marie.clone()],
        });
        assert!(
            matches!(
                &events[..],
                [ParticipantEvent::AgentState { participant, state }]
                    if participant == "agent-marie" && state == "thinking"
            ),
            "a known participant is not announced again: {events:?}"
        );
        assert_eq!(room.identity_of("PA_marie"), "agent-marie");

        let events = room.on_update(&proto::ParticipantUpdate {
            participants: vec![
                info("PA_bob", "bob", State::Disconnected),
                info("PA_ghost", "ghost", State::Disconnected),
            ],
        });
        assert!(
            matches!(
                &events[..],
                [ParticipantEvent::ParticipantLeft { sid, identity }]
                    if sid == "PA_bob" && identity == "bob"
            ),
            "{events:?}"
        );
        assert_eq!(room.identity_of("PA_bob"), "PA_bob");
    }

    proptest! {
        /// Whatever arrives on a data channel, the participant does not panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 0..20),
        ) {
            let mut room = RoomState::new("PA_me", []);
            let now = Instant::now();
            for p in &packets {
                let _ = room.on_data_packet(p, true, now);
            }
        }

        /// Any order of headers, chunks and trailers over a few stream ids: one text per
        /// trailer of an open stream, made of that stream's chunks.
        #[test]
        fn any_order_of_stream_packets_gives_one_text_per_closed_stream(
            steps in proptest::collection::vec((0u8..3, 0u8..3, 0u64..4), 0..60),
        ) {
            let mut room = RoomState::new("PA_me", []);
            let now = Instant::now();
            let mut open: HashMap<String, BTreeMap<u64, Vec<u8>>> = HashMap::new();
            for (kind, id, index) in steps {
                let id = format!("s{id}");
                let content = format!("{id}.{index};").into_bytes();
                let bytes = match kind {
                    0 => header("agent", &id, &[]),
                    1 => chunk("agent", &id, index, &content),
                    _ => trailer("agent", &id, &[]),
                };
                let event = room.on_data_packet(&bytes, true, now);
                match kind {
                    0 => {
                        open.insert(id, BTreeMap::new());
                        prop_assert!(event.is_none());
                    }
                    1 => {
                        if let Some(chunks) = open.get_mut(&id) {
                            chunks.insert(index, content);
                        }
                        prop_assert!(event.is_none());
                    }
                    _ => match open.remove(&id) {
                        Some(chunks) => {
                            let expected: Vec<u8> = chunks.into_values().flatten().collect();
                            let texts = texts(&event.into_iter().collect::<Vec<_>>());
                            prop_assert_eq!(texts.len(), 1);
                            prop_assert_eq!(texts[0].2.as_bytes(), &expected[..]);
                        }
                        None => prop_assert!(event.is_none()),
                    },
                }
            }
        }
    }
}
