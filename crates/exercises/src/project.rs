//! A project on disk: its Flutter packages, their Dart files, the agent's Python sources.
//!
//! Packages are found by `pubspec.yaml` (the `name:` line names them). Walking respects
//! `.gitignore` and always prunes `build/`, `.dart_tool/`, `.git/`, `ios/Pods`,
//! `android/.gradle` and `node_modules` before descending. A file is skipped, with the
//! reason, when it is larger than [`MAX_FILE_BYTES`], holds a NUL byte (binary) or is not
//! UTF-8 text. Files are found first (in walk order), then read and parsed on as many
//! threads as there are cores; the result does not depend on the number of threads.

use crate::dart::{self, DartFile};
use greenroom_core::{Classified, ErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// Directory names never descended into.
pub const PRUNED: [&str; 6] = [
    "build",
    ".dart_tool",
    ".git",
    "Pods",
    ".gradle",
    "node_modules",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Relative to the package root, with `/`.
    pub rel: String,
    pub hash: u64,
    pub bytes: u64,
    pub dart: DartFile,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub root: PathBuf,
    pub name: String,
    /// By path relative to the package root (`lib/main.dart`).
    pub files: BTreeMap<String, SourceFile>,
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub root: PathBuf,
    pub packages: Vec<Package>,
    pub skipped: Vec<Skipped>,
    /// (path, text) of the agent's Python files.
    pub agent_files: Vec<(PathBuf, String)>,
    /// The agent folders they were looked for in (relative to the root).
    pub agent_paths: Vec<String>,
}

impl Project {
    /// Whether its agent sources were looked for in exactly these folders.
    pub fn agent_paths_match(&self, paths: &[String]) -> bool {
        self.agent_paths == paths
    }
}

/// Content hashes for the per-file cache and the history (FxHash over the bytes, eight at a
/// time: only change detection needs it, never security).
///
/// Line endings do not count: the `\r`s just before a `\n` are left out, so a checkout with
/// CRLF line endings (git's `core.autocrlf` on Windows) has the same hashes, the same history
/// and the same report as its LF twin. Any other `\r` counts.
pub fn hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    if bytes.contains(&b'\r') {
        // Only a file with a `\r` pays for the copy.
        let mut lf = Vec::with_capacity(bytes.len());
        let mut carriage_returns = 0;
        for &b in bytes {
            match b {
                b'\r' => carriage_returns += 1,
                b'\n' => {
                    carriage_returns = 0;
                    lf.push(b);
                }
                _ => {
                    lf.extend(std::iter::repeat_n(b'\r', carriage_returns));
                    carriage_returns = 0;
                    lf.push(b);
                }
            }
        }
        lf.extend(std::iter::repeat_n(b'\r', carriage_returns));
        h.write(&lf);
        h.write_usize(lf.len());
    } else {
        h.write(bytes);
        h.write_usize(bytes.len());
    }
    h.finish()
}

/// Why a file was not read (its `Display` is the [`Skipped::reason`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error("larger than {} MiB ({bytes} bytes)", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge { bytes: u64 },
    #[error("binary (holds a NUL byte)")]
    Binary,
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    /// The Dart reader failed on it ([`crate::dart::structure::read_guarded`]).
    #[error("{0}")]
    Unreadable(String),
}

impl Classified for ReadError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            Self::Io(_) => ErrorKind::Internal,
            Self::TooLarge { .. } | Self::Binary | Self::NotUtf8 { .. } => ErrorKind::InvalidInput,
            Self::Unreadable(_) => ErrorKind::Internal,
        }
    }
}

/// Reads one file as text: (text, content hash, size in bytes), or says why not.
pub fn read_file(path: &Path) -> Result<(String, u64, u64), ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge { bytes: meta.len() });
    }
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(ReadError::Binary);
    }
    let h = hash(&bytes);
    let len = bytes.len() as u64;
    let text = String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok((text, h, len))
}

#[cfg(test)]
mod hash_tests {
    use super::hash;

    #[test]
    fn crlf_hashes_as_lf_and_a_lone_cr_counts() {
        assert_eq!(hash(b"a\r\nb\r\n"), hash(b"a\nb\n"));
        assert_eq!(hash(b"\r\n\r\n"), hash(b"\n\n"));
        assert_eq!(hash(b"a\r\r\n"), hash(b"a\n"));
        assert_ne!(hash(b"a\rb"), hash(b"ab"));
        assert_ne!(hash(b"a\r"), hash(b"a"));
        assert_ne!(hash(b"a\nb"), hash(b"a\nc"));
        assert_ne!(hash(b""), hash(b"\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_hashes_as_its_lf_twin(s in "[a\r\n]{0,40}") {
            let lf = s.replace("\r\n", "\n");
            proptest::prop_assert_eq!(hash(s.as_bytes()), hash(lf.as_bytes()));
        }
    }
}

fn walker(root: &Path) -> ignore::Walk {
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .filter_entry(|e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && PRUNED.contains(&e.file_name().to_string_lossy().as_ref()))
        })
        .build()
}

/// The package name in a pubspec.yaml (its top-level `name:`).
pub fn package_name(pubspec: &str) -> Option<String> {
    pubspec
        .lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().trim_matches(['"', '\'']).to_owned())
        .filter(|n| !n.is_empty())
}

/// A Dart file found by the walk, to be read.
struct Job {
    package: usize,
    path: PathBuf,
    rel: String,
}

/// A file read and parsed: (content hash, size in bytes, its Dart), or why it was not.
type Read = Result<(u64, u64, DartFile), ReadError>;

/// Reads and parses every job, on up to as many threads as the machine has cores; the
/// results come back in the jobs' order.
fn read_all(jobs: &[Job]) -> Vec<Read> {
    let read_one = |job: &Job| {
        read_file(&job.path).and_then(|(text, hash, bytes)| {
            dart::read_guarded(&text)
                .map(|dart| (hash, bytes, dart))
                .map_err(ReadError::Unreadable)
        })
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len() / 8)
        .max(1);
    if threads == 1 {
        return jobs.iter().map(read_one).collect();
    }
    // Work is handed out one file at a time (file sizes vary a hundredfold).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Read>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    std::thread::scope(|scope| {
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                done.push((i, read_one(job)));
            }
            done
        };
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        for (i, r) in helpers
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .chain(mine)
        {
            results[i] = Some(r);
        }
    });
    results
        .into_iter()
        .zip(jobs)
        // A helper that panicked has left its files unread: read them here.
        .map(|(r, job)| r.unwrap_or_else(|| read_one(job)))
        .collect()
}

pub fn read_project(root: &Path, agent_paths: &[String]) -> Project {
    let mut project = Project {
        root: root.to_path_buf(),
        agent_paths: agent_paths.to_vec(),
        ..Default::default()
    };
    let mut pubspecs: Vec<PathBuf> = walker(root)
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "pubspec.yaml")
        .map(|e| e.into_path())
        .collect();
    pubspecs.sort();
    // Walk first (in order), then read and parse the files in parallel.
    let mut jobs: Vec<Job> = Vec::new();
    for pubspec in pubspecs {
        let dir = pubspec.parent().unwrap_or(root).to_path_buf();
        let name = std::fs::read_to_string(&pubspec)
            .ok()
            .and_then(|t| package_name(&t))
            .unwrap_or_else(|| "app".into());
        let lib = dir.join("lib");
        if lib.is_dir() {
            for entry in walker(&lib).filter_map(Result::ok) {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "dart")
                    || !entry.file_type().is_some_and(|t| t.is_file())
                {
                    continue;
                }
                let rel = path
                    .strip_prefix(&dir)
                    .unwrap_or(path)
                    .to_string_lossy()
                    .replace('\\', "/");
                jobs.push(Job {
                    package: project.packages.len(),
                    path: entry.into_path(),
                    rel,
                });
            }
        }
        project.packages.push(Package {
            root: dir,
            name,
            files: BTreeMap::new(),
        });
    }
    let results = read_all(&jobs);
    for (job, result) in jobs.into_iter().zip(results) {
        match result {
            Ok((hash, bytes, dart)) => {
                project.packages[job.package].files.insert(
                    job.rel.clone(),
                    SourceFile {
                        path: job.path,
                        rel: job.rel,
                        hash,
                        bytes,
                        dart,
                    },
                );
            }
            Err(e) => project.skipped.push(Skipped {
                file: job.path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
    for rel in agent_paths {
        // `paths = ["/"]` would read the whole disk: only folders inside the project.
        if !stays_inside(rel) {
            project.skipped.push(Skipped {
                file: rel.clone(),
                reason: format!(
                    "`[agent] paths` entry {rel:?} leaves the project's folder, so it is ignored: give a folder inside it, such as \"services/agent\""
                ),
            });
            continue;
        }
        let dir = root.join(rel);
        if !dir.is_dir() {
            continue;
        }
        for entry in walker(&dir).filter_map(Result::ok) {
            if project.agent_files.len() >= MAX_AGENT_FILES {
                project.skipped.push(Skipped {
                    file: dir.display().to_string(),
                    reason: format!(
                        "more than {MAX_AGENT_FILES} Python files under the agent's paths; the rest are not read (narrow `[agent] paths`)"
                    ),
                });
                break;
            }
            if entry.path().extension().is_some_and(|e| e == "py")
                && let Ok((text, _, _)) = read_file(entry.path())
            {
                project.agent_files.push((entry.path().to_path_buf(), text));
            }
        }
    }
    project
}

/// The most Python files read from the agent's paths.
pub const MAX_AGENT_FILES: usize = 2_000;

/// Whether a relative path from a rules file stays inside the project: not empty, not
/// absolute (nor rooted, nor with a drive), no `..`.
fn stays_inside(rel: &str) -> bool {
    use std::path::Component;
    let rel = rel.trim();
    !rel.is_empty()
        && !rel.starts_with(['/', '\\'])
        && rel.as_bytes().get(1) != Some(&b':')
        && !rel.split(['/', '\\']).any(|p| p == "..")
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Resolves an import of `from` (a file of `package`) to a file of the same package.
pub fn resolve_import(package: &Package, from: &str, uri: &str) -> Option<String> {
    let target = if let Some(rest) = uri.strip_prefix(&format!("package:{}/", package.name)) {
        format!("lib/{rest}")
    } else if uri.contains(':') {
        return None; // another package, or dart:
    } else {
        let base = from.rsplit_once('/').map_or("", |(d, _)| d);
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        for segment in uri.split('/') {
            match segment {
                "." | "" => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    };
    package.files.contains_key(&target).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_what_it_cannot_read_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pubspec.yaml"), "name: demo_app\n").unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(lib.join("build")).unwrap();
        std::fs::write(lib.join("ok.dart"), "class A {}").unwrap();
        std::fs::write(lib.join("bin.dart"), b"class\0B {}").unwrap();
        std::fs::write(lib.join("latin1.dart"), b"// caf\xe9\nclass C {}").unwrap();
        std::fs::write(lib.join("build").join("gen.dart"), "class Generated {}").unwrap();
        let p = read_project(dir.path(), &[]);
        assert_eq!(p.packages.len(), 1);
        assert_eq!(p.packages[0].name, "demo_app");
        assert_eq!(
            p.packages[0].files.keys().collect::<Vec<_>>(),
            ["lib/ok.dart"]
        );
        let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains("binary"))
                && reasons.iter().any(|r| r.contains("UTF-8")),
            "{reasons:?}"
        );
    }

    #[test]
    fn agent_paths_outside_the_project_are_skipped_with_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("agent")).unwrap();
        std::fs::write(dir.path().join("agent/main.py"), "print('Marie')\n").unwrap();
        for bad in ["/", "..", "../../etc", "agent/../..", "C:\\Windows", ""] {
            let p = read_project(dir.path(), &[bad.to_owned()]);
            assert!(p.agent_files.is_empty(), "{bad:?}");
            assert!(
                p.skipped
                    .iter()
                    .any(|s| s.reason.contains("leaves the project")),
                "{bad:?}: {:?}",
                p.skipped
            );
        }
        let p = read_project(dir.path(), &["agent".to_owned(), "./agent/".to_owned()]);
        assert_eq!(p.agent_files.len(), 2);
    }

    #[test]
    fn read_errors_say_why_with_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let latin1 = dir.path().join("latin1.dart");
        std::fs::write(&latin1, b"// caf\xe9\n").unwrap();
        let err = read_file(&latin1).unwrap_err();
        assert_eq!(err.to_string(), "not UTF-8 text (invalid byte at offset 6)");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = read_file(&dir.path().join("gone.dart")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read: "), "{err}");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let big = dir.path().join("big.dart");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_file(&big).unwrap_err().to_string(),
            format!("larger than 2 MiB ({} bytes)", MAX_FILE_BYTES + 1)
        );
    }

    #[test]
    fn resolves_relative_and_package_imports() {
        let mut package = Package {
            root: PathBuf::new(),
            name: "app".into(),
            files: BTreeMap::new(),
        };
        for f in ["lib/a/b.dart", "lib/c.dart"] {
            package.files.insert(
                f.into(),
                SourceFile {
                    path: PathBuf::new(),
                    rel: f.into(),
                    hash: 0,
                    bytes: 0,
                    dart: DartFile::default(),
                },
            );
        }
        assert_eq!(
            resolve_import(&package, "lib/a/b.dart", "../c.dart").as_deref(),
            Some("lib/c.dart")
        );
        assert_eq!(
            resolve_import(&package, "lib/c.dart", "package:app/a/b.dart").as_deref(),
            Some("lib/a/b.dart")
        );
        assert_eq!(
            resolve_import(&package, "lib/c.dart", "package:flutter/material.dart"),
            None
        );
    }
}
