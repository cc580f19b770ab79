//! Every validation, kept in SQLite for trends (`history.sqlite` in Greenroom's home).
//!
//! Schema (version 1, `PRAGMA user_version = 1`):
//! `validations(id INTEGER PRIMARY KEY, at_ms INTEGER, project TEXT, exercise TEXT,
//! score INTEGER, valid INTEGER, criteria TEXT /* JSON */, content_hash TEXT)`, indexed by
//! (project, exercise, at_ms). [`History::record`] writes a row for an exercise only when its
//! score, validity or content hash differs from its latest row, so an idle watcher does not
//! flood the table. Writes are `BEGIN IMMEDIATE` transactions (read-then-write, safe with
//! another process writing; a busy database is waited for up to 5 s): a crash leaves the
//! table as it was. Each process opens one connection per database.
//!
//! Errors ([`HistoryError`]) name the database file: one that cannot be opened, or was
//! written by a newer Greenroom, is [`ErrorKind::Unavailable`] (the history is missing, the
//! rest works); a failed read or write of an open one is [`ErrorKind::Internal`].

use crate::analysis::Analysis;
use greenroom_core::{Classified, ErrorKind, lock_unpoisoned};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use ts_rs::TS;

pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HistoryPoint {
    #[ts(type = "number")]
    pub at_ms: u64,
    pub score: u32,
    pub valid: bool,
    pub content_hash: String,
}

pub struct History {
    conn: Mutex<Connection>,
    /// The database file, for messages.
    path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the exercise history ({path}): {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the exercise history ({path}): it was written by a newer Greenroom (schema {version}); update Greenroom"
    )]
    NewerSchema { path: String, version: i64 },
    #[error("the exercise history ({path}): {source}")]
    Query {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl Classified for HistoryError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Open { .. } | Self::NewerSchema { .. } => ErrorKind::Unavailable,
            Self::Query { .. } => ErrorKind::Internal,
        }
    }
}

impl History {
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let shown = path.display().to_string();
        let err = |source: rusqlite::Error| HistoryError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        // Another Greenroom (the CLI beside the app) may be writing: wait for it a while
        // rather than fail at once.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                path: shown,
                version,
            });
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS validations (
                 id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, project TEXT NOT NULL, exercise TEXT NOT NULL,
                 score INTEGER NOT NULL, valid INTEGER NOT NULL, criteria TEXT NOT NULL, content_hash TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS validations_by_exercise ON validations (project, exercise, at_ms);
             PRAGMA user_version = 1;",
        )
        .map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: shown,
        })
    }

    fn query_error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Query {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores what changed since the latest rows; returns how many rows were written.
    pub fn record(&self, analysis: &Analysis, at_ms: u64) -> Result<usize, HistoryError> {
        let mut conn = lock_unpoisoned(&self.conn);
        // Read-then-write: IMMEDIATE takes the write lock first, so two processes cannot both
        // read "no change yet" and both insert.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.query_error(e))?;
        let mut written = 0;
        for e in &analysis.exercises {
            let last: Option<(u32, bool, String)> = tx
                .query_row(
                    "SELECT score, valid, content_hash FROM validations WHERE project = ?1 AND exercise = ?2 ORDER BY at_ms DESC, id DESC LIMIT 1",
                    params![analysis.project, e.id],
                    |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?)),
                )
                .ok();
            if last.as_ref() == Some(&(e.score, e.valid, e.content_hash.clone())) {
                continue;
            }
            tx.execute(
                "INSERT INTO validations (at_ms, project, exercise, score, valid, criteria, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    at_ms as i64,
                    analysis.project,
                    e.id,
                    e.score,
                    e.valid as i64,
                    serde_json::to_string(&e.criteria).unwrap_or_default(),
                    e.content_hash
                ],
            )
            .map_err(|e| self.query_error(e))?;
            written += 1;
        }
        tx.commit().map_err(|e| self.query_error(e))?;
        Ok(written)
    }

    /// The scores of one exercise over time, oldest first (at most `limit`, the newest).
    pub fn series(
        &self,
        project: &str,
        exercise: &str,
        limit: u32,
    ) -> Result<Vec<HistoryPoint>, HistoryError> {
        let conn = lock_unpoisoned(&self.conn);
        let points = Self::query_series(&conn, project, exercise, limit);
        points.map_err(|e| self.query_error(e))
    }

    fn query_series(
        conn: &Connection,
        project: &str,
        exercise: &str,
        limit: u32,
    ) -> Result<Vec<HistoryPoint>, rusqlite::Error> {
        let mut stmt = conn.prepare(
            "SELECT at_ms, score, valid, content_hash FROM validations WHERE project = ?1 AND exercise = ?2 ORDER BY at_ms DESC, id DESC LIMIT ?3",
        )?;
        let mut points: Vec<HistoryPoint> = stmt
            .query_map(params![project, exercise, limit], |r| {
                Ok(HistoryPoint {
                    at_ms: r.get::<_, i64>(0)? as u64,
                    score: r.get(1)?,
                    valid: r.get::<_, i64>(2)? != 0,
                    content_hash: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        points.reverse();
        Ok(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Analysis, Exercise};

    fn analysis(score: u32, hash: &str) -> Analysis {
        Analysis {
            project: "/p".into(),
            packages: vec![],
            files_read: 1,
            exercises: vec![Exercise {
                id: "cosmic".into(),
                class_name: "Cosmic".into(),
                file: "f".into(),
                line: 1,
                route: "/x".into(),
                routes: vec!["/x".into()],
                flow: vec![],
                exercise_type: None,
                required_services: vec![],
                score,
                valid: score >= 80,
                criteria: vec![],
                recommendations: vec![],
                fix_minutes: 0,
                content_hash: hash.into(),
                depends_on: vec![],
            }],
            screens: vec![],
            orphans: vec![],
            drift: vec![],
            skipped: vec![],
            agent_types: vec![],
        }
    }

    /// Issue 13.11: two writers (the app's watcher and a CLI scan, each with its own
    /// connection) read "no change yet" at once; a deferred transaction then either wrote
    /// the change twice or failed with "database is locked". IMMEDIATE serialises them.
    #[test]
    fn two_writers_at_once_record_each_change_once_and_never_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let writers: Vec<History> = (0..4).map(|_| History::open(&path).unwrap()).collect();
        let barrier = std::sync::Barrier::new(writers.len());
        let written: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = writers
                .iter()
                .map(|h| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let mut n = 0;
                        for round in 0..25u32 {
                            barrier.wait();
                            n += h
                                .record(
                                    &analysis(50 + round, &format!("h{round}")),
                                    u64::from(round),
                                )
                                .expect("no writer fails");
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(written, 25, "each of the 25 changes once");
        assert_eq!(writers[0].series("/p", "cosmic", 100).unwrap().len(), 25);
    }

    #[test]
    fn records_changes_only_and_reads_a_series_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let h = History::open(&path).unwrap();
        assert_eq!(h.record(&analysis(70, "a"), 1).unwrap(), 1);
        assert_eq!(
            h.record(&analysis(70, "a"), 2).unwrap(),
            0,
            "nothing changed"
        );
        assert_eq!(h.record(&analysis(85, "b"), 3).unwrap(), 1);
        drop(h);
        let h = History::open(&path).unwrap();
        let series = h.series("/p", "cosmic", 10).unwrap();
        assert_eq!(
            series
                .iter()
                .map(|p| (p.at_ms, p.score, p.valid))
                .collect::<Vec<_>>(),
            [(1, 70, false), (3, 85, true)]
        );
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 9;")
            .unwrap();
        let err = History::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer Greenroom"), "{err}");
        assert!(matches!(err, HistoryError::NewerSchema { version: 9, .. }));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }
}
