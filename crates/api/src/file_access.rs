//! Who may read the settings file, which holds secrets: its owner only.
//!
//! - Unix: mode `0600`.
//! - Windows: a protected DACL (nothing inherited from the folder) that allows the user who
//!   wrote it and the OS itself (SYSTEM, which backup and the OS's own services run as):
//!   SDDL `D:P(A;;FA;;;SY)(A;;FA;;;<the user's SID>)`, set with `SetFileSecurityW`. The
//!   profile's own ACL already keeps other users out of `%APPDATA%`; this also keeps them out
//!   when the home is elsewhere (`GREENROOM_HOME` on a shared disk).
//!
//! [`describe`] reads it back from the OS, for the settings view and the Windows tests:
//! [`FileAccess::OwnerOnly`] only when the OS confirms that no allow entry names anyone but
//! the user and SYSTEM (inherited entries included: the OS lists them too).
//!
//! Under Wine (our Windows tests) a DACL is not stored: Wine maps it to Unix mode bits (this
//! one becomes `0770`) and reads back a DACL made from them, `D:(A;;FA;;;SY)(A;;FA;;;<user>)`,
//! which still reads as owner-only. `SetNamedSecurityInfoW` reports success under Wine 8.0
//! and changes nothing, which is why `SetFileSecurityW` is used.

use serde::{Deserialize, Serialize};
use std::path::Path;
use ts_rs::TS;

/// Who may read a file, as the OS says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileAccess {
    /// Only its owner may read or write it.
    OwnerOnly,
    /// Others may too; `detail` says who (a mode, or the DACL in SDDL).
    Shared { detail: String },
    /// The file does not exist yet.
    Missing,
    /// The OS would not say (`detail`: why).
    Unknown { detail: String },
}

/// Makes `file` readable by its owner only (module docs).
pub fn restrict_to_owner(file: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot make {} private: {e}", file.display()))
    }
    #[cfg(windows)]
    {
        windows_acl::restrict(file)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = file;
        Ok(())
    }
}

/// Who may read `file` now.
pub fn describe(file: &Path) -> FileAccess {
    if !file.exists() {
        return FileAccess::Missing;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(file) {
            Ok(m) if m.permissions().mode() & 0o077 == 0 => FileAccess::OwnerOnly,
            Ok(m) => FileAccess::Shared {
                detail: format!("mode {:o}", m.permissions().mode() & 0o777),
            },
            Err(e) => FileAccess::Unknown {
                detail: e.to_string(),
            },
        }
    }
    #[cfg(windows)]
    {
        match (
            windows_acl::dacl_sddl(file),
            windows_acl::current_user_sid(),
        ) {
            (Ok(sddl), Ok(sid)) if sddl_is_owner_only(&sddl, &sid) => FileAccess::OwnerOnly,
            (Ok(sddl), Ok(_)) => FileAccess::Shared { detail: sddl },
            (Err(e), _) | (_, Err(e)) => FileAccess::Unknown { detail: e },
        }
    }
    #[cfg(not(any(unix, windows)))]
    FileAccess::Unknown {
        detail: "this OS is not supported".into(),
    }
}

/// Whether a DACL in SDDL (`D:P(A;;FA;;;S-1-5-21-…)…`) allows no one but `sid` and SYSTEM.
///
/// Every allow ACE (`A`, inherited or not) must name `sid` or SYSTEM (`SY`, `S-1-5-18`); deny
/// ACEs are fine. An empty DACL (`D:` or `D:P`: nobody) counts too. No DACL at all (`O:…`
/// alone) and a null DACL (`D:NO_ACCESS_CONTROL`: everyone) do not.
pub fn sddl_is_owner_only(sddl: &str, sid: &str) -> bool {
    let Some(dacl) = sddl.find("D:").map(|i| &sddl[i + 2..]) else {
        return false;
    };
    let (flags, aces) = dacl.split_at(dacl.find('(').unwrap_or(dacl.len()));
    if flags.contains("NO_ACCESS_CONTROL") {
        return false;
    }
    // Entries are `(type;flags;rights;object;inherited object;trustee)` back to back; what
    // follows the last `)` (an `S:` part) is not the DACL.
    let mut rest = aces;
    while let Some(open) = rest.strip_prefix('(') {
        let Some(close) = open.find(')') else {
            return false;
        };
        let fields: Vec<&str> = open[..close].split(';').collect();
        let [kind, _, _, _, _, trustee] = fields.as_slice() else {
            return false;
        };
        let allowed = trustee.eq_ignore_ascii_case(sid)
            || trustee.eq_ignore_ascii_case("SY")
            || *trustee == "S-1-5-18";
        let allows_someone_else = kind.starts_with('A') && !allowed;
        if allows_someone_else {
            return false;
        }
        rest = &open[close + 1..];
    }
    true
}

#[cfg(windows)]
mod windows_acl {
    use std::path::Path;
    use windows::Win32::Foundation::{CloseHandle, HANDLE, HLOCAL, LocalFree};
    use windows::Win32::Security::Authorization::{
        ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
        ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW,
        SDDL_REVISION_1, SE_FILE_OBJECT,
    };
    use windows::Win32::Security::{
        DACL_SECURITY_INFORMATION, GetTokenInformation, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR, SetFileSecurityW, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    use windows::core::{HSTRING, PWSTR};

    /// The SID of the user this process runs as, as a string (`S-1-5-21-…`).
    pub fn current_user_sid() -> Result<String, String> {
        // SAFETY: the token handle is closed on every path; the buffer is sized by the
        // first call and outlives the SID pointer read from it.
        unsafe {
            let mut token = HANDLE::default();
            OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token)
                .map_err(|e| format!("cannot open this process's token: {e}"))?;
            let mut size = 0u32;
            let _ = GetTokenInformation(token, TokenUser, None, 0, &mut size);
            let mut buffer = vec![0u64; (size as usize).div_ceil(8).max(1)];
            let read = GetTokenInformation(
                token,
                TokenUser,
                Some(buffer.as_mut_ptr().cast()),
                size,
                &mut size,
            );
            let _ = CloseHandle(token);
            read.map_err(|e| format!("cannot read this process's user: {e}"))?;
            let user = &*(buffer.as_ptr() as *const TOKEN_USER);
            let mut text = PWSTR::null();
            ConvertSidToStringSidW(user.User.Sid, &mut text)
                .map_err(|e| format!("cannot write this user's SID: {e}"))?;
            let sid = text.to_string().map_err(|e| e.to_string());
            let _ = LocalFree(Some(HLOCAL(text.0.cast())));
            sid
        }
    }

    pub fn restrict(file: &Path) -> Result<(), String> {
        let sid = current_user_sid()?;
        let sddl = HSTRING::from(format!("D:P(A;;FA;;;SY)(A;;FA;;;{sid})"));
        // SAFETY: the descriptor is allocated by the OS and freed with LocalFree after use.
        unsafe {
            let mut descriptor = PSECURITY_DESCRIPTOR::default();
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                &sddl,
                SDDL_REVISION_1,
                &mut descriptor,
                None,
            )
            .map_err(|e| format!("cannot build an owner-only ACL: {e}"))?;
            let result = SetFileSecurityW(
                &HSTRING::from(file.as_os_str()),
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                descriptor,
            )
            .ok()
            .map_err(|e| format!("cannot make {} private: {e}", file.display()));
            let _ = LocalFree(Some(HLOCAL(descriptor.0)));
            result
        }
    }

    /// The file's DACL in SDDL, as the OS reads it back.
    pub fn dacl_sddl(file: &Path) -> Result<String, String> {
        // SAFETY: both OS allocations are freed with LocalFree.
        unsafe {
            let mut descriptor = PSECURITY_DESCRIPTOR::default();
            let status = GetNamedSecurityInfoW(
                &HSTRING::from(file.as_os_str()),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                None,
                None,
                None,
                None,
                &mut descriptor,
            );
            if status.is_err() {
                return Err(format!(
                    "cannot read who may open {} (Windows error {})",
                    file.display(),
                    status.0
                ));
            }
            let mut text = PWSTR::null();
            let converted = ConvertSecurityDescriptorToStringSecurityDescriptorW(
                descriptor,
                SDDL_REVISION_1,
                DACL_SECURITY_INFORMATION,
                &mut text,
                None,
            );
            let _ = LocalFree(Some(HLOCAL(descriptor.0)));
            converted.map_err(|e| format!("cannot write the file's ACL: {e}"))?;
            let sddl = text.to_string().map_err(|e| e.to_string());
            let _ = LocalFree(Some(HLOCAL(text.0.cast())));
            sddl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "S-1-5-21-1-2-3-1001";

    #[test]
    fn owner_only_allows_the_owner_and_the_os_and_no_one_else() {
        assert!(sddl_is_owner_only(
            &format!("D:P(A;;FA;;;SY)(A;;FA;;;{ME})"),
            ME
        ));
        assert!(sddl_is_owner_only(&format!("D:P(A;;FA;;;{ME})"), ME));
        assert!(sddl_is_owner_only(
            &format!("O:{ME}D:PAI(A;;FA;;;{ME})(D;;FA;;;WD)(A;ID;FA;;;S-1-5-18)"),
            ME
        ));
        assert!(
            sddl_is_owner_only(&format!("D:(A;;FA;;;SY)(A;;FA;;;{ME})"), ME),
            "what Wine reads back"
        );
        assert!(sddl_is_owner_only("D:P", ME), "nobody at all");
    }

    #[test]
    fn anything_else_is_shared() {
        for shared in [
            format!("D:AI(A;;FA;;;{ME})(A;ID;FA;;;BU)"),
            format!("D:P(A;;FA;;;{ME})(A;;FR;;;BU)"),
            format!("D:(A;;FA;;;SY)(A;;FA;;;{ME})(A;;0x1200a9;;;WD)"),
            "D:P(A;;FA;;;WD)".to_string(),
            "D:NO_ACCESS_CONTROL".to_string(),
            "O:BA".to_string(),
            format!("D:P(A;;FA;;;{ME}"),
            "D:P(A;;FA)".to_string(),
        ] {
            assert!(!sddl_is_owner_only(&shared, ME), "{shared}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_restricted_file_reads_back_as_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        assert_eq!(describe(&file), FileAccess::Missing);
        std::fs::write(&file, "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            describe(&file),
            FileAccess::Shared {
                detail: "mode 644".into()
            }
        );
        restrict_to_owner(&file).unwrap();
        assert_eq!(describe(&file), FileAccess::OwnerOnly);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[DOPAI:();FSWDR0-9-]{0,60}") {
            let _ = sddl_is_owner_only(&s, ME);
        }
    }
}
