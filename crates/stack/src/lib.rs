//! The Eloquence stack: what runs, how it is read, and how it is kept running.
//!
//! Reading: [`manifest`] (Greenroom's own `greenroom.toml`) and [`compose`] (the
//! project's docker compose files, read as docker compose reads them, then turned into a
//! manifest), both on top of [`yaml`], [`interpolate`] and [`dotenv`].

pub mod breaker;
pub mod builtin;
pub mod compose;
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
pub mod restart;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod tokens;
pub mod yaml;
