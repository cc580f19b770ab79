//! Keeping credentials out of what Greenroom shows.
//!
//! [`redact_tokens`] replaces every JWT-shaped word with `<token>`. A word is a run of
//! `A-Z a-z 0-9 - _ = .`; it is JWT-shaped when it is at least 40 characters long and
//! made of exactly three non-empty base64url parts joined by dots. Why: livekit-server
//! quotes the whole token back, both in its 401 answers and in its own log lines, and a
//! token is a credential that must not reach error messages, log views or reports.
//! Everything else in the text is kept byte for byte.

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.')
}

fn is_token(word: &str) -> bool {
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    };
    word.len() >= 40 && word.split('.').count() == 3 && word.split('.').all(base64url)
}

/// `text` with every JWT-shaped word replaced by `<token>`.
pub fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_word_char) {
        out.push_str(&rest[..start]);
        let word_and_after = &rest[start..];
        let end = word_and_after
            .find(|c: char| !is_word_char(c))
            .unwrap_or(word_and_after.len());
        let word = &word_and_after[..end];
        out.push_str(if is_token(word) { "<token>" } else { word });
        rest = &word_and_after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_and_the_rest_is_kept() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTUyMzYxMzMsImlzcyI6ImRldmtleSJ9.42xnkov3FMypOl6fwpVOt4vsr9ZzdabcuWdr1_ychHw";
        assert_eq!(
            redact_tokens(&format!(
                "invalid token: {jwt}, error: signature is invalid"
            )),
            "invalid token: <token>, error: signature is invalid"
        );
        assert_eq!(
            redact_tokens(&format!("{{\"error\": \"invalid token: {jwt}\"}}")),
            "{\"error\": \"invalid token: <token>\"}"
        );
        assert_eq!(
            redact_tokens("livekit-server 1.13.5 at a.b.c"),
            "livekit-server 1.13.5 at a.b.c"
        );
    }

    proptest::proptest! {
        #[test]
        fn redaction_never_panics_and_keeps_token_free_text(text in "\\PC{0,200}") {
            let out = redact_tokens(&text);
            if !text.contains('.') {
                proptest::prop_assert_eq!(out, text);
            }
        }
    }
}
