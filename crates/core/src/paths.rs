//! Paths as people write them, never Windows' verbatim (`\\?\`) form.
//!
//! On Windows, `std::fs::canonicalize` returns verbatim paths: `\\?\C:\Users\ana\x` and
//! `\\?\UNC\server\share\x`. They are valid, but they compare unequal to the same path as
//! every other API gives it (`C:\Users\ana\x`, a disk's mount point `C:\`, a path typed by a
//! person), and they read as noise in messages. Greenroom therefore never compares or shows a
//! verbatim path: [`canonical`] canonicalises and then [`simplified`] removes the prefix.
//!
//! Exact semantics of [`simplified`] (Windows only; elsewhere it returns its input):
//! - `\\?\C:\rest` becomes `C:\rest`, and `\\?\UNC\server\share\rest` becomes
//!   `\\server\share\rest`,
//! - but only when the plain form means the same file: the path is kept verbatim if it is
//!   longer than the classic limit (259 characters), or if a component is one that only the
//!   verbatim form can name (`.`, `..`, a reserved device name such as `CON` or `com1.txt`,
//!   a name ending in a dot or a space, or containing `< > : " / \ | ? *` or a control
//!   character);
//! - every other verbatim form (`\\?\Volume{…}`, `\\.\pipe\…`) is kept as it is.
//!
//! The rule is written over strings ([`simplify_windows`]) so that it is tested on every OS.

use std::path::{Path, PathBuf};

/// `path` canonicalised (absolute, links resolved), without a verbatim prefix.
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path).map(|p| simplified(&p))
}

/// `path` without its verbatim prefix, when the plain form names the same file (module docs).
pub fn simplified(path: &Path) -> PathBuf {
    if cfg!(windows) {
        match path.to_str().and_then(simplify_windows) {
            Some(plain) => PathBuf::from(plain),
            None => path.to_path_buf(),
        }
    } else {
        path.to_path_buf()
    }
}

/// The plain form of a Windows verbatim path, or `None` when it has none (module docs).
pub fn simplify_windows(path: &str) -> Option<String> {
    let (plain, rest) = if let Some(rest) = path.strip_prefix(r"\\?\UNC\") {
        (format!(r"\\{rest}"), rest)
    } else {
        let rest = path.strip_prefix(r"\\?\")?;
        let mut chars = rest.chars();
        let drive = chars.next()?;
        if !drive.is_ascii_alphabetic() || chars.next()? != ':' {
            return None;
        }
        let after = &rest[2..];
        if !(after.is_empty() || after.starts_with('\\')) {
            return None;
        }
        (rest.to_string(), after)
    };
    if plain.chars().count() > 259 {
        return None;
    }
    let names_need_verbatim = rest
        .split('\\')
        .filter(|c| !c.is_empty())
        .any(needs_verbatim);
    // `\\?\C:` alone is fine; `\\?\C:foo` (relative to a drive) was refused above.
    (!names_need_verbatim).then_some(plain)
}

/// Whether only a verbatim path can name a file called `name`.
fn needs_verbatim(name: &str) -> bool {
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    if name == "." || name == ".." || name.ends_with(['.', ' ']) {
        return true;
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '|' | '?' | '*'))
    {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    if RESERVED.contains(&upper.as_str()) {
        return true;
    }
    // COM1–COM9 and LPT1–LPT9, also with the superscript digits Windows reserves.
    ["COM", "LPT"].iter().any(|device| {
        upper.strip_prefix(device).is_some_and(|n| {
            matches!(
                n,
                "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_drive_path_loses_its_prefix() {
        assert_eq!(
            simplify_windows(r"\\?\C:\users\ana\AppData\Roaming").as_deref(),
            Some(r"C:\users\ana\AppData\Roaming")
        );
        assert_eq!(simplify_windows(r"\\?\Z:\").as_deref(), Some(r"Z:\"));
        assert_eq!(simplify_windows(r"\\?\d:").as_deref(), Some(r"d:"));
    }

    #[test]
    fn a_share_becomes_a_unc_path() {
        assert_eq!(
            simplify_windows(r"\\?\UNC\build\share\eloquence").as_deref(),
            Some(r"\\build\share\eloquence")
        );
    }

    #[test]
    fn what_only_the_verbatim_form_can_name_stays_verbatim() {
        for kept in [
            r"\\?\C:\work\con",
            r"\\?\C:\work\CON.txt",
            r"\\?\C:\work\com1",
            r"\\?\C:\work\lpt9.log",
            r"\\?\C:\work\trailing.",
            r"\\?\C:\work\trailing ",
            r"\\?\C:\work\a:b",
            r"\\?\C:\work\..\x",
            r"\\?\Volume{0b1c}\x",
            r"\\?\C:relative",
            r"\\.\pipe\greenroom",
            r"C:\already\plain",
        ] {
            assert_eq!(simplify_windows(kept), None, "{kept}");
        }
        let long = format!(r"\\?\C:\{}", "a".repeat(300));
        assert_eq!(simplify_windows(&long), None, "longer than MAX_PATH");
        assert!(simplify_windows(r"\\?\C:\work\console\com10").is_some());
    }

    #[test]
    fn off_windows_nothing_changes() {
        if !cfg!(windows) {
            let p = Path::new(r"\\?\C:\x");
            assert_eq!(simplified(p), p);
        }
    }

    #[test]
    fn canonical_resolves_and_is_plain() {
        let dir = tempfile::tempdir().unwrap();
        let c = canonical(dir.path()).unwrap();
        assert!(c.is_absolute());
        assert!(!c.to_string_lossy().starts_with(r"\\?\"));
    }

    proptest! {
        /// Never panics, and a plain result is the input without its prefix.
        #[test]
        fn simplify_never_panics(s in "(\\\\\\\\\\?\\\\(UNC\\\\)?)?[a-zA-Z:\\\\. ¹é]{0,40}") {
            if let Some(plain) = simplify_windows(&s) {
                prop_assert!(!plain.starts_with(r"\\?\"));
                prop_assert!(s.ends_with(plain.trim_start_matches('\\')));
            }
        }
    }
}
