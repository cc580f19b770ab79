//! The Eloquence stack: what runs, how it is read, and how it is kept running.
//!
//! Map of the modules, by layer (each module's own docs state its exact semantics):
//!
//! **Reading a stack definition**
//! - [`manifest`]: `greenroom.toml`, Greenroom's own stack manifest — its format, parsing
//!   and validation, with `file:line` in every error.
//! - [`compose`]: the project's docker compose files, read as `docker compose` reads them
//!   (merge, `include:`, profiles, interpolation), then turned into a manifest.
//! - [`yaml`]: a YAML reader that keeps the line and column of every node (for compose
//!   errors), with anchors, aliases and merge keys.
//! - [`interpolate`]: `${VAR}` interpolation with compose's exact forms and defaults.
//! - [`dotenv`]: `.env` files as compose reads them (quoting, escapes, interpolation).
//! - [`graph`]: the dependency graph — start levels, stop order, dependents, cycles.
//!
//! **Running a stack**
//! - [`supervisor`]: the handle on a running stack — `up` in dependency order, `down`,
//!   start / stop / restart of one service, status, re-attaching to what a previous
//!   Greenroom started; its errors ([`supervisor::SupervisorError`]) carry a kind.
//! - `runner` (internal): one task per service that owns its run and takes every
//!   decision — readiness, liveness, restart with backoff, breaker, stop with grace.
//! - `child` (internal): the seam between the runner and what it runs (a process, a
//!   re-attached process, a built-in task, a compose or external service) and probes, so
//!   that the runner's decisions are unit-tested with a scripted fake.
//! - `container` (internal): one run of a compose service — waiting for the engine, `up`,
//!   watching its container, following its log, stop with grace — and who restarts what
//!   (docker restarts exits, Greenroom restarts unhealthy containers).
//! - [`docker`]: the Docker engine through the `docker` CLI — containers, health, stats,
//!   and failures sorted by what a person can do.
//! - [`process`]: OS primitives for a service's process tree — spawn in its own group /
//!   Job Object, stop signal, kill, PID + start time identity, descendants.
//! - [`builtin`]: services that run inside Greenroom as tasks (wired in by the API).
//! - [`probe`]: one health probe (HTTP, TCP, WebSocket, Redis, command, log, compose),
//!   always within its timeout.
//! - [`restart`]: the restart policy — whether to restart, after which backoff, when to
//!   give up.
//! - [`breaker`]: the circuit breaker that stops hammering a service that keeps failing.
//! - `resources` (internal): CPU and memory of every service's process tree, once a second.
//! - [`logs`]: each service's log file, the in-memory ring of recent lines, rotation.
//! - [`state`]: what Greenroom remembers of a running stack across its own restarts.
//!
//! **Judging and repairing a stack**
//! - [`status`]: what the supervisor says about services and the stack (shared with the UI).
//! - [`health`]: the stack's health score and architecture type.
//! - [`preflight`]: what would make `up` fail (taken ports, missing programs, docker,
//!   unset variables, expired tokens), found before anything starts.
//! - [`repair`]: diagnosis of unwell services, the ranked repairs proposed, and running one.
//! - [`tokens`]: expired LiveKit tokens in env files, and their regeneration.
//! - [`report`]: the stack report written by `greenroom report`.
//!
//! Errors say what failed and implement [`greenroom_core::Classified`], so fronts map them
//! to codes by kind, never by text.

pub mod breaker;
pub mod builtin;
mod child;
pub mod compose;
mod container;
pub mod docker;
pub mod dotenv;
pub mod graph;
pub mod health;
pub mod interpolate;
pub mod logs;
pub mod manifest;
pub mod preflight;
pub mod probe;
pub mod process;
pub mod repair;
pub mod report;
mod resources;
pub mod restart;
mod runner;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod tokens;
pub mod venv;
pub mod yaml;
