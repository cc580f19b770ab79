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
//! reports and error messages. So are the values of the stack's secrets
//! ([`LogBook::set_secret_values`], [`greenroom_core::mask_values`]). The file itself is
//! the service's own and is left as it wrote it.
//!
//! Bounds: a service whose position is unknown is read from its last [`TAIL_BYTES`], never
//! from the start; one poll reads at most 4 MiB, and a line longer than that without a
//! newline is taken in 4 MiB pieces (never re-read); a line is kept and shown up to
//! [`MAX_LINE_CHARS`] characters, with how much was cut.

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
/// How much of a log's end is read when Greenroom knows no position in it (a log that grew
/// while Greenroom was not running), and by [`LogBook::tail_file`].
pub const TAIL_BYTES: u64 = 64 * 1024;
/// The most one poll reads; a longer line without a newline is cut into pieces this size.
const POLL_BYTES: u64 = 4 * 1024 * 1024;
/// The longest line kept whole in memory and shown; the rest is said, not kept.
pub const MAX_LINE_CHARS: usize = 16 * 1024;

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
    /// Values masked in every line read (the stack's secrets).
    secret_values: Mutex<Vec<String>>,
}

impl LogBook {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            rings: Mutex::new(HashMap::new()),
            offsets: Mutex::new(HashMap::new()),
            timestamped: Mutex::new(Default::default()),
            secret_values: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self, service: &str) -> PathBuf {
        self.dir.join(format!("{service}.log"))
    }

    /// Values that must never be shown: every line read has them masked.
    pub fn set_secret_values(&self, values: Vec<String>) {
        *lock_unpoisoned(&self.secret_values) = values;
    }

    /// More values to mask (Greenroom's own secrets: API keys from its settings).
    pub fn add_secret_values(&self, values: impl IntoIterator<Item = String>) {
        let mut known = lock_unpoisoned(&self.secret_values);
        known.extend(values);
        known.sort();
        known.dedup();
    }

    /// A line as Greenroom shows it: tokens and secrets masked, cut to [`MAX_LINE_CHARS`].
    fn shown(&self, text: &str) -> String {
        let cut = match text.char_indices().nth(MAX_LINE_CHARS) {
            Some((at, _)) => format!("{} … ({} more bytes)", &text[..at], text.len() - at),
            None => text.to_owned(),
        };
        greenroom_core::mask_values(
            &greenroom_core::redact_tokens(&cut),
            &lock_unpoisoned(&self.secret_values),
        )
    }

    /// Starts following a service's file at its current end (only new output is read).
    pub fn follow_from_end(&self, service: &str) {
        let size = std::fs::metadata(self.path(service)).map_or(0, |m| m.len());
        lock_unpoisoned(&self.offsets).insert(service.to_owned(), size);
    }

    /// Reads what the service wrote since the last call; rotates when the file is too big.
    pub fn poll(&self, service: &str) -> Vec<LogLine> {
        let path = self.path(service);
        // Most polls find nothing new: a stat is far cheaper than an open and a read.
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        // No position yet: the end of the file, not all of what it gathered meanwhile.
        let known = lock_unpoisoned(&self.offsets).get(service).copied();
        let mut offset = known.unwrap_or_else(|| size.saturating_sub(TAIL_BYTES));
        let skip_partial_first = known.is_none() && offset > 0;
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
            || file.take(POLL_BYTES).read_to_end(&mut buf).is_err()
        {
            return Vec::new();
        }
        // Only whole lines; a partial last line waits for its end, unless it fills a whole
        // read: then it is taken as it is, or it would be read again forever.
        let complete = match buf.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if buf.len() as u64 >= POLL_BYTES => buf.len(),
            None => 0,
        };
        let start = if skip_partial_first {
            buf[..complete]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(complete, |i| i + 1)
        } else {
            0
        };
        offset += complete as u64;
        let now = now_ms();
        let timestamped = self.is_timestamped(service);
        let lines: Vec<LogLine> = String::from_utf8_lossy(&buf[start..complete])
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
                    text: self.shown(text),
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
        // Only the end of the file is read, however large it grew.
        let Ok(mut file) = std::fs::File::open(self.path(service)) else {
            return Vec::new();
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let mut buf = Vec::new();
        if file
            .seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
            .is_err()
            || file.read_to_end(&mut buf).is_err()
        {
            return Vec::new();
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
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
            .map(|l| self.shown(l))
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

    /// Issue 13.16: a configured secret's value in a service's line is masked.
    #[test]
    fn secret_values_are_masked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_path_buf()).unwrap();
        book.set_secret_values(vec!["sk-mistral-0123456789".into(), "1".into()]);
        std::fs::write(
            book.path("agent"),
            "calling mistral with key sk-mistral-0123456789 (attempt 1)\n",
        )
        .unwrap();
        let line = &book.poll("agent")[0].text;
        assert_eq!(line, "calling mistral with key •••••• (attempt 1)");
        assert!(!book.tail_file("agent", 1)[0].contains("sk-mistral"));
    }

    /// Issue 13.13: a line of more than 4 MiB without a newline was read again and again.
    #[test]
    fn a_huge_line_without_newline_is_taken_once_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_path_buf()).unwrap();
        book.follow_from_end("blob");
        let huge = "x".repeat(5 * 1024 * 1024);
        std::fs::write(book.path("blob"), &huge).unwrap();
        let first = book.poll("blob");
        assert_eq!(first.len(), 1);
        assert!(first[0].text.len() < 20 * 1024, "kept cut");
        assert!(
            first[0].text.ends_with("more bytes)"),
            "{}",
            &first[0].text[16380..]
        );
        // The rest (1 MiB, still no newline) waits for its end; nothing is read twice.
        assert!(book.poll("blob").is_empty());
        std::fs::OpenOptions::new()
            .append(true)
            .open(book.path("blob"))
            .unwrap()
            .write_all(b"\nafter\n")
            .unwrap();
        let texts: Vec<String> = book.poll("blob").into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts.len(),
            2,
            "the rest of the long line, then the next one"
        );
        assert_eq!(texts[1], "after");
    }

    /// Issue 13.13: a log that grew while Greenroom was down is read from its end.
    #[test]
    fn an_unknown_position_starts_near_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let book = LogBook::new(dir.path().to_path_buf()).unwrap();
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("old line {i}\n"));
        }
        text.push_str("the last line\n");
        std::fs::write(book.path("api"), &text).unwrap();
        let lines = book.poll("api");
        assert!(lines.len() < 10_000, "{} lines read", lines.len());
        assert!(
            lines[0].text.starts_with("old line "),
            "a whole first line: {}",
            lines[0].text
        );
        assert_eq!(lines.last().unwrap().text, "the last line");
        assert_eq!(book.tail_file("api", 1), vec!["the last line"]);
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
