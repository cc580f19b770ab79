//! LiveKit rooms as the fronts see them: which server ([`Api::livekit_target`]), its rooms
//! and participants, tokens, and joining a room with our own participant's signalling.

use crate::{Api, ApiError, settings};
use greenroom_livekit::room_service::{self, ParticipantSummary, RoomInfo, Target};
use serde::Serialize;
use ts_rs::TS;

/// The LiveKit server in use (the secret is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
pub struct LiveKitInfo {
    pub url: String,
    pub api_key: String,
    /// Where each value comes from: `url from settings, key from LIVEKIT_API_KEY, …`.
    pub origin: String,
}

impl Api {
    /// The LiveKit server to talk to: `LIVEKIT_*` variables, then Settings, then the
    /// sandbox (see [`Target::resolve`]).
    pub fn livekit_target(&self) -> Target {
        let s = settings::load(&self.home.settings_file()).settings;
        Target::resolve((s.livekit_url, s.livekit_api_key, s.livekit_api_secret))
    }

    /// Which LiveKit server Greenroom talks to, and where that comes from (never the secret).
    pub async fn livekit_info(&self) -> Result<LiveKitInfo, ApiError> {
        let t = self.livekit_target();
        Ok(LiveKitInfo {
            url: t.url.clone(),
            api_key: t.api_key.clone(),
            origin: t.origin.clone(),
        })
    }

    pub async fn rooms_list(&self) -> Result<Vec<RoomInfo>, ApiError> {
        room_service::list_rooms(&self.livekit_target())
            .await
            .map_err(ApiError::of)
    }

    pub async fn room_create(&self, name: String, metadata: String) -> Result<RoomInfo, ApiError> {
        self.room_create_for(name, metadata, 300).await
    }

    /// Creates a room that lives `empty_timeout` seconds once empty.
    pub async fn room_create_for(
        &self,
        name: String,
        metadata: String,
        empty_timeout: u32,
    ) -> Result<RoomInfo, ApiError> {
        room_service::create_room(&self.livekit_target(), &name, &metadata, empty_timeout)
            .await
            .map_err(ApiError::of)
    }

    pub async fn room_delete(&self, name: String) -> Result<(), ApiError> {
        room_service::delete_room(&self.livekit_target(), &name)
            .await
            .map_err(ApiError::of)
    }

    pub async fn room_participants(
        &self,
        room: String,
    ) -> Result<Vec<ParticipantSummary>, ApiError> {
        room_service::list_participants(&self.livekit_target(), &room)
            .await
            .map_err(ApiError::of)
    }

    pub async fn participant_remove(&self, room: String, identity: String) -> Result<(), ApiError> {
        room_service::remove_participant(&self.livekit_target(), &room, &identity)
            .await
            .map_err(ApiError::of)
    }

    /// Sets a room's metadata (Eloquence: the exercise).
    pub async fn room_metadata(&self, room: String, metadata: String) -> Result<(), ApiError> {
        room_service::update_room_metadata(&self.livekit_target(), &room, &metadata)
            .await
            .map_err(ApiError::of)
    }

    /// A token for `request.identity` in `request.room`, signed with the target's keys.
    pub async fn token_mint(&self, request: TokenRequest) -> Result<String, ApiError> {
        let options = room_service::TokenOptions {
            name: request.name,
            metadata: request.metadata,
            ttl: Some(std::time::Duration::from_secs(request.ttl_seconds.max(1))),
            can_publish: request.can_publish,
            can_subscribe: request.can_subscribe,
            can_publish_data: request.can_publish_data,
            room_admin: request.room_admin,
            hidden: request.hidden,
            agents: request.agents,
            room_metadata: request.room_metadata,
        };
        room_service::token(
            &self.livekit_target(),
            &request.room,
            &request.identity,
            &options,
        )
        .map_err(ApiError::of)
    }

    /// Joins `room` as `identity` with our participant's signalling, stays `stay`, and
    /// leaves; what happens meanwhile goes to `on_event` (and out as
    /// `rooms://visit/<room>` events).
    pub async fn room_visit(
        &self,
        room: String,
        identity: String,
        stay: std::time::Duration,
        on_event: impl Fn(&RoomVisitEvent),
    ) -> Result<RoomVisit, ApiError> {
        use greenroom_rooms::protocol::participant_info::State;
        use greenroom_rooms::protocol::signal_response::Message;
        use greenroom_rooms::signal::{self, SignalEvent, SignalSession};
        let target = self.livekit_target();
        let emit = |event: RoomVisitEvent| {
            on_event(&event);
            self.emit(crate::ApiEvent::RoomVisit {
                room: room.clone(),
                event,
            });
        };
        let options = room_service::TokenOptions {
            ttl: Some(stay + std::time::Duration::from_secs(600)),
            ..room_service::TokenOptions::participant()
        };
        let jwt = room_service::token(&target, &room, &identity, &options).map_err(ApiError::of)?;
        let mut session = SignalSession::connect(&target.url, &jwt, &Default::default())
            .await
            .map_err(|e| ApiError::of(e).with_context(&target.origin))?;
        let (me, sid) = session.participant();
        let me = me.to_owned();
        emit(RoomVisitEvent::Joined {
            identity: me.clone(),
            sid: sid.to_owned(),
            join_ms: session.join_time.as_secs_f64() * 1000.0,
            server_version: session
                .join
                .server_info
                .as_ref()
                .map(|i| i.version.clone())
                .unwrap_or_default(),
            already_there: session
                .join
                .other_participants
                .iter()
                .map(|o| (o.identity.clone(), o.tracks.len() as u32))
                .collect(),
        });
        let until = tokio::time::Instant::now() + stay;
        let mut ended = None;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match session.next_event(left).await {
                Some(SignalEvent::Message(message)) => match *message {
                    Message::Update(update) => {
                        for (who, state) in signal::agent_states(&update) {
                            emit(RoomVisitEvent::AgentState {
                                identity: who,
                                state,
                            });
                        }
                        for p in update
                            .participants
                            .iter()
                            .filter(|p| p.identity != identity)
                        {
                            emit(RoomVisitEvent::Participant {
                                identity: p.identity.clone(),
                                here: p.state != State::Disconnected as i32,
                            });
                        }
                    }
                    Message::RoomUpdate(update) => {
                        if let Some(room) = update.room {
                            emit(RoomVisitEvent::Metadata {
                                metadata: room.metadata,
                            });
                        }
                    }
                    _ => {}
                },
                Some(SignalEvent::Reconnecting(reason)) => {
                    emit(RoomVisitEvent::Reconnecting {
                        reason: reason.to_string(),
                    });
                }
                Some(SignalEvent::Resumed { took, attempts }) => {
                    emit(RoomVisitEvent::Resumed {
                        took_ms: took.as_secs_f64() * 1000.0,
                        attempts,
                    });
                }
                Some(SignalEvent::Closed(closed)) => {
                    ended = Some(format!("the session ended: {closed:?}"));
                    break;
                }
                None => break,
            }
        }
        if let Some(why) = ended {
            return Err(ApiError::unavailable(format!("{why} ({})", target.origin)));
        }
        let rtt_ms = session.rtt().map(|rtt| rtt.as_secs_f64() * 1000.0);
        session.leave().await;
        emit(RoomVisitEvent::Left);
        Ok(RoomVisit {
            room: room.clone(),
            identity: me,
            rtt_ms,
        })
    }
}

/// What a token allows (see `greenroom token --help`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
pub struct TokenRequest {
    pub room: String,
    pub identity: String,
    pub name: Option<String>,
    pub metadata: Option<String>,
    #[ts(type = "number")]
    pub ttl_seconds: u64,
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub can_publish_data: bool,
    pub room_admin: bool,
    pub hidden: bool,
    /// Agents dispatched to the room when this participant's join creates it:
    /// (agent name, dispatch metadata).
    pub agents: Vec<(String, String)>,
    /// The room's metadata if this participant's join creates it.
    pub room_metadata: Option<String>,
}

/// What happened while visiting a room.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomVisitEvent {
    Joined {
        identity: String,
        sid: String,
        join_ms: f64,
        server_version: String,
        /// (identity, number of tracks) of those already there.
        already_there: Vec<(String, u32)>,
    },
    AgentState {
        identity: String,
        state: String,
    },
    Participant {
        identity: String,
        here: bool,
    },
    Metadata {
        metadata: String,
    },
    Reconnecting {
        reason: String,
    },
    Resumed {
        took_ms: f64,
        attempts: u32,
    },
    Left,
}

/// A visit that ended as planned.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct RoomVisit {
    pub room: String,
    pub identity: String,
    /// The signalling round trip, when a ping was answered.
    pub rtt_ms: Option<f64>,
}
