//! Service logs: a file per service, a ring buffer per service, and live lines.
//!
//! A service writes straight into `logs/<service>.log` (its stdout and stderr, appended),
//! so that its output survives Greenroom and a restarted Greenroom can go on reading it.
//! Greenroom follows the file from where it last read: new lines go into an in-memory ring
//! ([`RING_LINES`] per service) and out as events. When a file grows past
//! [`MAX_LOG_BYTES`] it is rotated: copied to `<service>.log.1` (older copies shift up to
//! `.3`) and truncated in place, which is safe while the service writes in append mode.
//!
//! A compose service's log is written by Greenroom itself, from `docker compose logs
//! --follow --timestamps` ([`crate::container`]): each line starts with docker's RFC 3339
//! time. For such services ([`LogBook::mark_timestamped`]) a line's time is docker's, the
//! stamp is not shown, and the last stamp in the file ([`LogBook::last_timestamp`]) is where
//! a restarted Greenroom resumes, so that no line is read twice.
//!
//! Levels are read from the text (`ERROR`, `WARN`, `DEBUG`… as words, case-insensitive);
//! anything else is `info`.
//!
//! Every line Greenroom reads from a log ([`LogBook::poll`], [`LogBook::tail_file`]) has its
//! access tokens replaced by `<token>` ([`greenroom_core::redact_tokens`]): livekit-server
//! logs the whole token of a request it refuses, and these lines reach the UI, events,
//! reports and error messages. The file itself is the service's own and is left as it wrote
//! it.

use greenroom_core::lock_unpoisoned;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use ts_rs::TS;

pub const RING_LINES: usize = 2000;
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
pub const ROTATED_COPIES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct LogLine {
    pub service: String,
    #[ts(type = "number")]
    pub at_ms: u64,
    pub level: LogLevel,
    pub text: String,
}

pub fn level_of(text: &str) -> LogLevel {
    let upper = text.to_ascii_uppercase();
    let has = |word: &str| {
        upper.match_indices(word).any(|(i, _)| {
            let before = upper[..i].chars().next_back();
            let after = upper[i + word.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    };
    if has("ERROR") || has("FATAL") || has("PANIC") || has("CRITICAL") || has("TRACEBACK") {
        LogLevel::Error
    } else if has("WARN") || has("WARNING") {
        LogLevel::Warn
    } else if has("DEBUG") || has("TRACE") {
        LogLevel::Debug
    } else {
        LogLevel::Info
    }
}

/// Where each service's log is, and what was read of it.
pub struct LogBook {
    dir: PathBuf,
    rings: Mutex<HashMap<String, VecDeque<LogLine>>>,
    offsets: Mutex<HashMap<String, u64>>,
    /// Services whose lines start with docker's timestamp.
    timestamped: Mutex<std::collections::HashSet<String>>,
}

impl LogBook {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            rings: Mutex::new(HashMap::new()),
            offsets: Mutex::new(HashMap::new()),
            timestamped: Mutex::new(Default::default()),
        })
    }

    pub fn path(&self, service: &str) -> PathBuf {
        self.dir.join(format!("{service}.log"))
    }

    /// Starts following a service's file at its current end (only new output is read).
    pub fn follow_from_end(&self, service: &str) {
        let size = std::fs::metadata(self.path(service)).map_or(0, |m| m.len());
        lock_unpoisoned(&self.offsets).insert(service.to_owned(), size);
    }

    /// Reads what the service wrote since the last call; rotates when the file is too big.
    pub fn poll(&self, service: &str) -> Vec<LogLine> {
        let path = self.path(service);
        let mut offset = lock_unpoisoned(&self.offsets)
            .get(service)
            .copied()
            .unwrap_or(0);
        // Most polls find nothing new: a stat is far cheaper than an open and a read.
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if size == offset {
            return Vec::new();
        }
        let Ok(mut file) = std::fs::File::open(&path) else {
            return Vec::new();
        };
        if size < offset {
            offset = 0; // truncated (rotated) under us
        }
        let mut buf = Vec::new();
        if file.seek(SeekFrom::Start(offset)).is_err()
            || file.take(4 * 1024 * 1024).read_to_end(&mut buf).is_err()
        {
            return Vec::new();
        }
        // Only whole lines; a partial last line waits for its end.
        let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        offset += complete as u64;
        let now = now_ms();
        let timestamped = self.is_timestamped(service);
        let lines: Vec<LogLine> = String::from_utf8_lossy(&buf[..complete])
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (at_ms, text) = match crate::docker::split_timestamp(line) {
                    Some((_, ms, text)) if timestamped => (ms, text),
                    _ => (now, line),
                };
                LogLine {
                    service: service.to_owned(),
                    at_ms,
                    level: level_of(text),
                    text: greenroom_core::redact_tokens(text),
                }
            })
            .collect();
        if offset >= MAX_LOG_BYTES && rotate(&path).is_ok() {
            offset = 0;
        }
        lock_unpoisoned(&self.offsets).insert(service.to_owned(), offset);
        if !lines.is_empty() {
            let mut rings = lock_unpoisoned(&self.rings);
            let ring = rings.entry(service.to_owned()).or_default();
            for line in &lines {
                if ring.len() == RING_LINES {
                    ring.pop_front();
                }
                ring.push_back(line.clone());
            }
        }
        lines
    }

    /// Marks a service whose log lines start with docker's timestamp (compose services).
    pub fn mark_timestamped(&self, service: &str) {
        lock_unpoisoned(&self.timestamped).insert(service.to_owned());
    }

    fn is_timestamped(&self, service: &str) -> bool {
        lock_unpoisoned(&self.timestamped).contains(service)
    }

    /// The last docker timestamp written to a service's log (its file, or the newest
    /// rotated copy when the file was just rotated): where following it resumes.
    pub fn last_timestamp(&self, service: &str) -> Option<String> {
        let path = self.path(service);
        let rotated = PathBuf::from(format!("{}.1", path.display()));
        [path, rotated].iter().find_map(|p| {
            let mut file = std::fs::File::open(p).ok()?;
            let len = file.metadata().ok()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))
                .ok()?;
            let mut buf = Vec::new();
            file.read_to_end(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf);
            text.lines().rev().find_map(|l| {
                crate::docker::split_timestamp(l).map(|(stamp, _, _)| stamp.to_owned())
            })
        })
    }

    /// Appends lines to a service's log as they are (compose services' lines, which
    /// Greenroom writes itself).
    pub fn append(&self, service: &str, lines: &[String]) {
        use std::io::Write;
        if lines.is_empty() {
            return;
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(service))
        {
            let mut text = lines.join("\n");
            text.push('\n');
            let _ = f.write_all(text.as_bytes());
        }
    }

    /// Appends a line of Greenroom's own to a service's log (e.g. why it was killed).
    pub fn note(&self, service: &str, text: &str) {
        self.append(service, &[text.to_owned()]);
    }

    /// The last `n` lines of one service, or of all of them merged by time.
    pub fn recent(&self, service: Option<&str>, n: usize) -> Vec<LogLine> {
        let rings = lock_unpoisoned(&self.rings);
        let mut lines: Vec<LogLine> = match service {
            Some(s) => rings
                .get(s)
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
            None => rings.values().flat_map(|r| r.iter().cloned()).collect(),
        };
        lines.sort_by_key(|l| l.at_ms);
        let skip = lines.len().saturating_sub(n);
        lines.split_off(skip)
    }

    /// The last `n` lines of a service's file (for error messages, even without a ring).
    pub fn tail_file(&self, service: &str, n: usize) -> Vec<String> {
        let Ok(text) = std::fs::read(self.path(service)) else {
            return Vec::new();
        };
        let text =
            String::from_utf8_lossy(&text[text.len().saturating_sub(64 * 1024)..]).into_owned();
        let timestamped = self.is_timestamped(service);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match crate::docker::split_timestamp(l) {
                Some((_, _, text)) if timestamped => text,
                _ => l,
            })
            .collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| greenroom_core::redact_tokens(l))
            .collect()
    }
}

/// Copies `path` to `path.1` (shifting older copies up to `.3`) and truncates it.
pub fn rotate(path: &Path) -> std::io::Result<()> {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    for n in (1..ROTATED_COPIES).rev() {
        if numbered(n).exists() {
            std::fs::rename(numbered(n), numbered(n + 1))?;
        }
    }
    std::fs::copy(path, numbered(1))?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(0)
}

pub use greenroom_core::unix_millis as now_ms;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn levels_are_words() {
        assert_eq!(level_of("2024 ERROR boom"), LogLevel::Error);
        assert_eq!(level_of("[warn] slow"), LogLevel::Warn);
        assert_eq!(
            level_of("Traceback (most recent call last):"),
            LogLevel::Error
        );
        assert_eq!(level_of("no errors found"), LogLevel::Info);
        assert_eq!(level_of("debug: x"), LogLevel::Debug);
        assert_eq!(level_of("terrorist"), LogLevel::Info);
    }

    #[test]
    fn follows_whole_lines_and_keeps_a_ring() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_path_buf()).unwrap();
        let mut f = std::fs::File::create(book.path("api")).unwrap();
        write!(f, "one\ntwo\nthr").unwrap();
        let got: Vec<String> = book.poll("api").into_iter().map(|l| l.text).collect();
        assert_eq!(got, ["one", "two"]);
        writeln!(f, "ee").unwrap();
        assert_eq!(book.poll("api")[0].text, "three");
        assert_eq!(
            book.recent(Some("api"), 2)
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>(),
            ["two", "three"]
        );
        assert_eq!(book.tail_file("api", 1), vec!["three"]);
    }

    #[test]
    fn tokens_in_a_service_log_are_redacted_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_path_buf()).unwrap();
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFybmVyIn0.42xnkov3FMypOl6fwpVOt4vsr9ZzdabcuWdr1_ychHw";
        // As livekit-server logs a refused join.
        std::fs::write(
            book.path("livekit"),
            format!("WARN livekit error handling request {{\"status\": 401, \"error\": \"invalid token: {jwt}\"}}\n"),
        )
        .unwrap();
        let lines = book.poll("livekit");
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].text.contains(jwt), "{}", lines[0].text);
        assert!(
            lines[0].text.contains("invalid token: <token>"),
            "{}",
            lines[0].text
        );
        assert!(!book.recent(Some("livekit"), 1)[0].text.contains(jwt));
        assert!(!book.tail_file("livekit", 1)[0].contains(jwt));
    }

    #[test]
    fn rotation_keeps_copies_and_the_appending_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let mut writer = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        writeln!(writer, "old").unwrap();
        rotate(&path).unwrap();
        writeln!(writer, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("s.log.1")).unwrap(),
            "old\n"
        );
        rotate(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("s.log.2")).unwrap(),
            "old\n"
        );
    }
}
