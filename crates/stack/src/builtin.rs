//! Services that run inside Greenroom (`kind = "builtin"`).
//!
//! The stack crate does not know what they are: the API wires them in through
//! [`Builtins`], so that the sandbox's token service (and later the TTS fallback, the
//! offline coach, Marie-lite) are supervised, probed and logged like any other service.
//! A built-in runs as a task; it gets the service's `env` and its first port, and must
//! stop when asked. What it logs goes to the service's log file.

use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What a built-in gets to run with.
pub struct BuiltinContext {
    pub env: BTreeMap<String, String>,
    /// The service's first published TCP port, if any.
    pub port: Option<u16>,
    /// Writes a line to the service's log.
    pub log: Arc<dyn Fn(&str) + Send + Sync>,
}

/// A running built-in: send on `stop` to ask it to end; `finished` resolves when it has.
pub struct BuiltinRun {
    pub stop: oneshot::Sender<()>,
    pub finished: tokio::task::JoinHandle<Result<(), String>>,
}

pub trait Builtin: Send + Sync {
    /// Starts it; fails fast (e.g. the port is taken) with a reason for people.
    fn start(&self, context: BuiltinContext) -> Result<BuiltinRun, String>;
}

pub type Builtins = BTreeMap<String, Arc<dyn Builtin>>;
