//! `token` and `rooms …`: tokens, the LiveKit server's rooms and participants, and
//! visiting a room with our own participant.

use crate::print_json;
use clap::Subcommand;
use greenroom_api::{Api, ApiError, AppHome, NullSink, RoomVisitEvent, TokenRequest};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub(crate) enum RoomsCommand {
    /// The server's rooms
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a room
    Create {
        name: String,
        /// Its metadata (Eloquence: the exercise type)
        #[arg(long, default_value = "")]
        metadata: String,
        /// Seconds an empty room lives
        #[arg(long, default_value_t = 300)]
        empty_timeout: u32,
    },
    /// Delete a room (disconnects its participants)
    Delete { name: String },
    /// A room's participants, their tracks, and an agent's state
    Participants {
        room: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a participant from a room
    Remove { room: String, identity: String },
    /// Replace a room's metadata
    Metadata { room: String, metadata: String },
    /// Join a room as our own participant (signalling only so far): prints the join time,
    /// who is there, arrivals and departures, agent states and the round trip, then leaves
    Join {
        room: String,
        #[arg(long, default_value = "greenroom-cli")]
        identity: String,
        /// How long to stay, in seconds
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

pub(crate) async fn rooms(home: AppHome, command: RoomsCommand) -> ExitCode {
    let api = Api::new(home, vec![], Arc::new(NullSink));
    let target = api
        .livekit_info()
        .await
        .unwrap_or_else(|_| unreachable_info());
    let fail_with = |e: ApiError| {
        eprintln!("error: {} ({})", e.message, target.origin);
        ExitCode::FAILURE
    };
    let done = |message: String| {
        println!("{message}");
        ExitCode::SUCCESS
    };
    match command {
        RoomsCommand::List { json } => match api.rooms_list().await {
            Ok(rooms) if json => print_json(&rooms),
            Ok(rooms) if rooms.is_empty() => done(format!("no room on {}", target.url)),
            Ok(rooms) => {
                println!(
                    "{:<28} {:>12}  {:>10}  METADATA",
                    "ROOM", "PARTICIPANTS", "PUBLISHERS"
                );
                for r in rooms {
                    println!(
                        "{:<28} {:>12}  {:>10}  {}",
                        r.name, r.num_participants, r.num_publishers, r.metadata
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail_with(e),
        },
        RoomsCommand::Create {
            name,
            metadata,
            empty_timeout,
        } => match api
            .room_create_for(name.clone(), metadata, empty_timeout)
            .await
        {
            Ok(r) => done(format!("created {} ({})", r.name, r.sid)),
            Err(e) => fail_with(e),
        },
        RoomsCommand::Delete { name } => match api.room_delete(name.clone()).await {
            Ok(()) => done(format!("deleted {name}")),
            Err(e) => fail_with(e),
        },
        RoomsCommand::Participants { room, json } => {
            match api.room_participants(room.clone()).await {
                Ok(list) if json => print_json(&list),
                Ok(list) if list.is_empty() => done(format!("nobody in {room}")),
                Ok(list) => {
                    for p in &list {
                        let agent = p
                            .agent_state
                            .as_deref()
                            .map(|s| format!(" agent:{s}"))
                            .unwrap_or_default();
                        println!("{} ({}, {}){agent}", p.identity, p.kind, p.state);
                        for t in &p.tracks {
                            println!(
                                "    {} {} {}{}",
                                t.kind,
                                t.sid,
                                t.name,
                                if t.muted { " (muted)" } else { "" }
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail_with(e),
            }
        }
        RoomsCommand::Remove { room, identity } => {
            match api.participant_remove(room.clone(), identity.clone()).await {
                Ok(()) => done(format!("removed {identity} from {room}")),
                Err(e) => fail_with(e),
            }
        }
        RoomsCommand::Join {
            room,
            identity,
            seconds,
        } => match api
            .room_visit(
                room.clone(),
                identity,
                std::time::Duration::from_secs(seconds),
                |event| narrate(&room, event),
            )
            .await
        {
            Ok(visit) => {
                if let Some(rtt) = visit.rtt_ms {
                    println!("signalling round trip: {rtt:.2} ms");
                }
                println!("left {room}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}", e.message);
                ExitCode::FAILURE
            }
        },
        RoomsCommand::Metadata { room, metadata } => {
            match api.room_metadata(room.clone(), metadata).await {
                Ok(()) => done(format!("{room}: metadata set")),
                Err(e) => fail_with(e),
            }
        }
    }
}

/// `greenroom rooms join`: what happens in the room, a line each.
fn narrate(room: &str, event: &RoomVisitEvent) {
    match event {
        RoomVisitEvent::Joined {
            identity,
            sid,
            join_ms,
            server_version,
            already_there,
        } => {
            println!(
                "joined {room} as {identity} ({sid}) in {join_ms:.1} ms · livekit-server {server_version}"
            );
            for (other, tracks) in already_there {
                println!("  already there: {other} ({tracks} tracks)");
            }
        }
        RoomVisitEvent::AgentState { identity, state } => println!("  agent {identity}: {state}"),
        RoomVisitEvent::Participant { identity, here } => {
            println!("  {} {identity}", if *here { "here:" } else { "left:" })
        }
        RoomVisitEvent::Metadata { metadata } => println!("  room metadata: {metadata}"),
        RoomVisitEvent::Reconnecting { reason } => {
            println!("  connection lost ({reason}); resuming…")
        }
        RoomVisitEvent::Resumed { took_ms, attempts } => println!(
            "  resumed in {took_ms:.1} ms ({attempts} attempt{})",
            if *attempts == 1 { "" } else { "s" }
        ),
        RoomVisitEvent::Left => {}
    }
}

/// `livekit_info` cannot fail; this keeps the types honest without a panic.
fn unreachable_info() -> greenroom_api::LiveKitInfo {
    greenroom_api::LiveKitInfo {
        url: String::new(),
        api_key: String::new(),
        origin: String::new(),
    }
}

/// `greenroom token`: the token on stdout, nothing else (scripts capture it).
pub(crate) async fn token(api: &Api, request: TokenRequest) -> ExitCode {
    match api.token_mint(request).await {
        Ok(jwt) => {
            println!("{jwt}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(2)
        }
    }
}
