//! Expired LiveKit tokens in the stack's env files, and their regeneration.
//!
//! A value is a LiveKit token when it is a JWT whose claims have `iss`, `sub`, `exp` and
//! `video`. [`find_expired`] lists those whose `exp` has passed, with file and line.
//! [`regenerate`] mints a replacement with the same identity, name, metadata, grants, room
//! configuration and lifetime, signed with the API key and secret the stack uses, then
//! rewrites that one line of the file atomically after keeping the old file as
//! `<file>.bak-<unix seconds>`. The secret never appears in a message.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredToken {
    pub file: PathBuf,
    pub line: usize,
    pub variable: String,
    /// Seconds since the epoch.
    pub expired_at: u64,
}

/// `KEY=VALUE` lines of an env file with a value that looks like a JWT: (line, key, value).
fn jwt_lines(text: &str) -> Vec<(usize, String, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let line = raw.trim().strip_prefix("export ").unwrap_or(raw.trim());
            let (key, value) = line.split_once('=')?;
            let value = value.trim().trim_matches(['"', '\'']);
            (value.starts_with("eyJ") && value.split('.').count() == 3)
                .then(|| (i + 1, key.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

pub fn find_expired(files: &[PathBuf]) -> Vec<ExpiredToken> {
    let now = greenroom_core::unix_seconds();
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (line, variable, value) in jwt_lines(&text) {
            if let Ok(claims) = greenroom_livekit::token::decode_unverified(&value)
                && claims.exp <= now
            {
                found.push(ExpiredToken {
                    file: file.clone(),
                    line,
                    variable,
                    expired_at: claims.exp,
                });
            }
        }
    }
    found
}

/// Replaces the expired token at `expired` with a fresh one; returns a message for people.
pub fn regenerate(
    expired: &ExpiredToken,
    api_key: &str,
    api_secret: &str,
) -> Result<String, String> {
    let text = std::fs::read_to_string(&expired.file)
        .map_err(|e| format!("cannot read {}: {e}", expired.file.display()))?;
    let (_, _, old) = jwt_lines(&text)
        .into_iter()
        .find(|(line, key, _)| *line == expired.line && *key == expired.variable)
        .ok_or_else(|| {
            format!(
                "{}:{} no longer holds {}",
                expired.file.display(),
                expired.line,
                expired.variable
            )
        })?;
    let claims = greenroom_livekit::token::decode_unverified(&old).map_err(|e| e.to_string())?;
    let ttl = claims.exp.saturating_sub(claims.nbf).max(3600);
    let fresh = greenroom_livekit::token::mint(&greenroom_livekit::token::TokenRequest {
        api_key,
        api_secret,
        identity: &claims.sub,
        name: claims.name.as_deref(),
        metadata: claims.metadata.as_deref(),
        grants: claims.video.clone(),
        ttl_seconds: ttl,
        room_config: claims.room_config.clone(),
    })
    .map_err(|e| e.to_string())?;
    let backup = PathBuf::from(format!(
        "{}.bak-{}",
        expired.file.display(),
        greenroom_core::unix_seconds()
    ));
    std::fs::copy(&expired.file, &backup)
        .map_err(|e| format!("cannot keep a backup at {}: {e}", backup.display()))?;
    // Line by line with each line's own ending (CRLF stays CRLF); only the token changes.
    // write_atomic keeps the file's mode and a symlink (the link's target is rewritten).
    let out: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == expired.line {
                l.replacen(&old, &fresh, 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    greenroom_core::write_atomic(&expired.file, out.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", expired.file.display()))?;
    Ok(format!(
        "{} in {}:{} regenerated (valid {} h; the old file is kept as {})",
        expired.variable,
        expired.file.display(),
        expired.line,
        ttl / 3600,
        display_name(&backup)
    ))
}

fn display_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenroom_livekit::token::{TokenRequest, VideoGrants, decode_unverified, mint, verify};

    #[test]
    fn finds_and_regenerates_an_expired_token_keeping_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".env");
        // A token with a lifetime of 0 s has expired by the time it is read.
        let expired = mint(&TokenRequest {
            api_key: "devkey",
            api_secret: "secret",
            identity: "agent",
            name: Some("Marie"),
            metadata: None,
            grants: VideoGrants::participant("marie"),
            ttl_seconds: 0,
            room_config: None,
        })
        .unwrap();
        std::fs::write(
            &file,
            format!("LIVEKIT_URL=ws://127.0.0.1:7880\nLIVEKIT_TOKEN=\"{expired}\"\nOTHER=1\n"),
        )
        .unwrap();
        let found = find_expired(std::slice::from_ref(&file));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].line, found[0].variable.as_str()),
            (2, "LIVEKIT_TOKEN")
        );

        let message = regenerate(&found[0], "devkey", "secret").unwrap();
        assert!(
            message.contains("LIVEKIT_TOKEN") && !message.contains("secret\""),
            "{message}"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("LIVEKIT_URL=ws://127.0.0.1:7880\nLIVEKIT_TOKEN=\"eyJ")
                && text.ends_with("OTHER=1\n"),
            "{text}"
        );
        let fresh = text
            .lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("LIVEKIT_TOKEN=\"")
            .trim_end_matches('"');
        let claims = verify(fresh, "secret").unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.name.as_deref()),
            ("agent", Some("Marie"))
        );
        assert_eq!(claims.video, decode_unverified(&expired).unwrap().video);
        assert!(find_expired(&[file]).is_empty());
        let backups = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".env.bak-")
            })
            .count();
        assert_eq!(backups, 1);
    }

    /// Issue 13.8: the rewrite kept neither CRLF endings, nor a 0600 mode, nor a symlink.
    #[cfg(unix)]
    #[test]
    fn regeneration_keeps_line_endings_mode_and_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("secrets.env");
        let link = dir.path().join(".env");
        let expired = mint(&TokenRequest {
            api_key: "devkey",
            api_secret: "secret",
            identity: "agent",
            name: None,
            metadata: None,
            grants: VideoGrants::participant("marie"),
            ttl_seconds: 0,
            room_config: None,
        })
        .unwrap();
        std::fs::write(&real, format!("A=1\r\nLIVEKIT_TOKEN={expired}\r\nB=2\r\n")).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("secrets.env", &link).unwrap();
        let found = find_expired(std::slice::from_ref(&link));
        assert_eq!(found.len(), 1);
        regenerate(&found[0], "devkey", "secret").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link stays a link"
        );
        let text = std::fs::read_to_string(&real).unwrap();
        assert!(text.starts_with("A=1\r\nLIVEKIT_TOKEN=eyJ"), "{text:?}");
        assert!(text.ends_with("\r\nB=2\r\n"), "{text:?}");
        assert_eq!(text.matches("\r\n").count(), 3, "{text:?}");
        assert!(!text.contains(&expired));
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "never widened");
    }
}
