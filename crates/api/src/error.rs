//! Errors as every front sees them: `{code, message}`.
//!
//! The codes are the few things a front *branches on*; everything else belongs in the
//! message, which says what failed, where, and what to do next. Add a code only when a
//! front needs to behave differently for it.
//!
//! | code            | meaning                                               | a front typically… |
//! |-----------------|-------------------------------------------------------|--------------------|
//! | `invalid_input` | the request or a value in it is wrong; nothing changed | shows the message beside the form |
//! | `not_found`     | the thing named does not exist                         | offers to refresh the list |
//! | `unavailable`   | a tool, service or file needed is missing or down      | links to doctor / the stack |
//! | `conflict`      | it would act on something a person must decide about first (a stack still running) | asks, then sends the request again with the answer |
//! | `internal`      | a bug or an I/O failure we did not expect              | shows it and keeps working |

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    NotFound,
    Unavailable,
    /// The request needs a decision it does not carry (see the table above).
    Conflict,
    Internal,
}

impl ErrorCode {
    /// The HTTP status the local server answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Unavailable => 503,
            ErrorCode::Conflict => 409,
            ErrorCode::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
    /// The same error with `(context)` after its message: where a value came from.
    pub fn with_context(mut self, context: &str) -> Self {
        self.message = format!("{} ({context})", self.message);
        self
    }

    /// A domain error as the fronts see it: its code from its kind, decided where it
    /// happened (see [`greenroom_core::Classified`]), never from its text.
    pub fn of(error: impl greenroom_core::Classified) -> Self {
        Self::new(ErrorCode::from(error.kind()), error.to_string())
    }
}

impl From<greenroom_core::ErrorKind> for ErrorCode {
    fn from(kind: greenroom_core::ErrorKind) -> Self {
        use greenroom_core::ErrorKind;
        match kind {
            ErrorKind::InvalidInput => ErrorCode::InvalidInput,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::Unavailable => ErrorCode::Unavailable,
            ErrorKind::Internal => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e = ApiError::invalid_input("workspace: /nope does not exist");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"invalid_input","message":"workspace: /nope does not exist"}"#
        );
        let back: ApiError =
            serde_json::from_str(r#"{"code":"unavailable","message":"m"}"#).unwrap();
        assert_eq!(back.code, ErrorCode::Unavailable);
    }

    #[test]
    fn every_code_has_a_distinct_wire_name_and_status() {
        let all = [
            ErrorCode::InvalidInput,
            ErrorCode::NotFound,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ];
        let names: Vec<String> = all
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                r#""invalid_input""#,
                r#""not_found""#,
                r#""unavailable""#,
                r#""internal""#
            ]
        );
        assert!(all.iter().all(|c| (400..600).contains(&c.http_status())));
    }
}
