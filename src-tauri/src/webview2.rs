//! Windows: the app needs the Microsoft Edge WebView2 Runtime to draw its window.
//!
//! Windows 11 ships it, and Windows 10 gets it through Windows Update, but it can be missing
//! (removed, an LTSC image, a locked-down machine). Without it, Tauri's window creation
//! fails deep inside and the app, which has no console, would close without a word. So the
//! app asks the WebView2 loader for the installed runtime's version before anything else,
//! and when there is none, says so in a message box with the download link (and offers to
//! open it), writes the same words to stderr, and exits with [`EXIT_NO_WEBVIEW2`].

/// Where Microsoft's Evergreen bootstrapper is downloaded from.
pub const DOWNLOAD_URL: &str = "https://go.microsoft.com/fwlink/p/?LinkId=2124703";

/// The app's exit code when the runtime is missing.
pub const EXIT_NO_WEBVIEW2: i32 = 3;

/// What the person reads when the runtime is missing.
pub fn missing_message(reason: &str) -> String {
    format!(
        "Greenroom needs the Microsoft Edge WebView2 Runtime to show its window, and it could \
         not be found on this computer ({reason}).\n\nInstall it from {DOWNLOAD_URL} (the \
         \"Evergreen Bootstrapper\"), then open Greenroom again. The command line, greenroom.exe, \
         works without it."
    )
}

/// The installed runtime's version, or why there is none.
#[cfg(windows)]
pub fn installed_version() -> Result<String, String> {
    use webview2_com::Microsoft::Web::WebView2::Win32::GetAvailableCoreWebView2BrowserVersionString;
    use windows::core::{PCWSTR, PWSTR};
    let mut version = PWSTR::null();
    // SAFETY: the loader writes a CoTaskMem string (or null) into `version`; it is read, then
    // freed with CoTaskMemFree.
    unsafe {
        GetAvailableCoreWebView2BrowserVersionString(PCWSTR::null(), &mut version).map_err(
            |e| {
                // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND): the loader's "no runtime".
                if e.code().0 as u32 == 0x8007_0002 {
                    "the WebView2 loader found no installed runtime".to_string()
                } else {
                    format!("the WebView2 loader says: {}", e.message())
                }
            },
        )?;
        if version.is_null() {
            return Err("no runtime found".into());
        }
        let text = version.to_string().map_err(|e| e.to_string());
        windows::Win32::System::Com::CoTaskMemFree(Some(version.0 as *const _));
        text
    }
}

/// Shows `message` in a box that offers to open the download page; true if the person
/// accepted. False also when no box can be shown (no desktop).
#[cfg(windows)]
pub fn offer_download(message: &str) -> bool {
    use windows::Win32::UI::Shell::ShellExecuteW;
    use windows::Win32::UI::WindowsAndMessaging::{
        IDYES, MB_ICONERROR, MB_YESNO, MessageBoxW, SW_SHOWNORMAL,
    };
    use windows::core::{HSTRING, w};
    let text = HSTRING::from(format!("{message}\n\nOpen the download page now?"));
    // SAFETY: plain Win32 calls with owned strings that outlive them.
    unsafe {
        let answer = MessageBoxW(None, &text, w!("Greenroom"), MB_YESNO | MB_ICONERROR);
        if answer == IDYES {
            ShellExecuteW(
                None,
                w!("open"),
                &HSTRING::from(DOWNLOAD_URL),
                None,
                None,
                SW_SHOWNORMAL,
            );
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_runtime_the_link_and_the_way_out() {
        let m = missing_message("the loader found no runtime");
        assert!(m.contains("WebView2 Runtime"));
        assert!(m.contains(DOWNLOAD_URL));
        assert!(m.contains("the loader found no runtime"));
        assert!(m.contains("greenroom.exe"));
    }
}
