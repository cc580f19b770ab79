//! What kind of failure an error is, decided where it happens.
//!
//! Every domain error type (`SupervisorError`, `RoomsError`, `ParticipantError`, …) is a
//! `thiserror` enum whose variants say *what* failed; [`Classified::kind`] says which of
//! the four [`ErrorKind`]s that is. The API maps kinds to its wire codes one to one
//! (`invalid_input`, `not_found`, `unavailable`, `internal`), so no front ever guesses a
//! code from a message's text.
//!
//! | kind           | the failure is…                                                  |
//! |----------------|------------------------------------------------------------------|
//! | `InvalidInput` | in what the caller asked for; nothing was changed                |
//! | `NotFound`     | a thing the caller named does not exist (a service, a room, a file) |
//! | `Unavailable`  | something needed is missing or down (a server, a program, a port)  |
//! | `Internal`     | a bug or an I/O failure nobody could have prevented by asking differently |

/// The four kinds of failure a front can act on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Unavailable,
    Internal,
}

/// An error that knows its [`ErrorKind`]. Its `Display` is the message a person reads:
/// what failed, where, and what to do next.
pub trait Classified: std::fmt::Display {
    fn kind(&self) -> ErrorKind;
}
