//! Child processes that open no console window on Windows.
//!
//! The desktop app has no console. On Windows, every console program it starts
//! (`docker`, `python`, `taskkill`, a probe's command, a service) would get a console
//! window of its own that flashes up, or stays open for a service's whole life. Every
//! program Greenroom starts therefore goes through [`no_console_window`], which sets
//! `CREATE_NO_WINDOW`: the child still has a console (so its output can be captured and a
//! console control event can reach it, see `greenroom_stack::process`), but no window.
//! Elsewhere it does nothing.

/// `CREATE_NO_WINDOW` of `CreateProcessW`'s creation flags.
pub const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// Makes `command` open no console window (Windows); a no-op elsewhere.
pub fn no_console_window(command: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    command
}

/// Windows: makes this process's stdin, stdout and stderr non-inheritable (module docs);
/// a no-op elsewhere. Children still get the standard handles their `Command` gives them.
pub fn keep_std_handles_from_children() {
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{
            HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation,
        };
        use windows_sys::Win32::System::Console::{
            GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
        };
        for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
            // SAFETY: plain Win32 calls on this process's own handles.
            unsafe {
                let handle = GetStdHandle(which);
                if !handle.is_null() && handle != INVALID_HANDLE_VALUE {
                    SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0);
                }
            }
        }
    }
}
