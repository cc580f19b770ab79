//! Keeping credentials out of what Greenroom shows.
//!
//! [`hides_value`] says which variables are never shown by value: names containing `KEY`,
//! `SECRET`, `TOKEN`, `PASS` (`PASSWORD`, `PASSWD`, `DB_PASS`), `DSN`, `CREDENTIAL`,
//! `PRIVATE` or `COOKIE`, names starting with `AUTH`, and `DATABASE_URL`. Case does not
//! matter. [`mask_url_password`] hides the password of a `scheme://user:password@host` URL.
//! [`mask_values`] replaces every occurrence of known secret values (of at least
//! [`MIN_SECRET_LEN`] characters, so that `1` or `true` is never masked) with `••••••`.
//!
//! [`redact_tokens`] replaces every JWT-shaped word with `<token>`. A word is a run of
//! `A-Z a-z 0-9 - _ = .`; it is JWT-shaped when it is at least 40 characters long and
//! made of exactly three non-empty base64url parts joined by dots. Why: livekit-server
//! quotes the whole token back, both in its 401 answers and in its own log lines, and a
//! token is a credential that must not reach error messages, log views or reports.
//! Everything else in the text is kept byte for byte.

/// Whether a variable's value is never shown (module docs).
pub fn hides_value(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "KEY",
        "SECRET",
        "TOKEN",
        "PASS",
        "DSN",
        "CREDENTIAL",
        "PRIVATE",
        "COOKIE",
    ]
    .iter()
    .any(|w| upper.contains(w))
        || upper.starts_with("AUTH")
        || upper == "DATABASE_URL"
}

/// `value` with the password of a URL's user information replaced by `••••••`
/// (`postgres://app:hunter2@db/x` → `postgres://app:••••••@db/x`); other text is unchanged.
pub fn mask_url_password(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_owned();
    };
    let rest = &value[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return value.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return value.to_owned();
    };
    format!(
        "{}://{}:••••••{}",
        &value[..scheme_end],
        &userinfo[..colon],
        &value[scheme_end + 3 + at..]
    )
}

/// Secret values shorter than this are never masked (they would mask ordinary words).
pub const MIN_SECRET_LEN: usize = 8;

/// `text` with every occurrence of each of `secrets` (of at least [`MIN_SECRET_LEN`]
/// characters) replaced by `••••••`; the longest first, so a secret that contains another
/// is masked whole.
pub fn mask_values(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets
        .iter()
        .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
        .collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in sorted {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "••••••");
        }
    }
    out
}

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

    #[test]
    fn which_names_hide_their_value() {
        for name in [
            "DATABASE_URL",
            "DB_PASS",
            "POSTGRES_PASSWORD",
            "SENTRY_DSN",
            "JWT_SECRET",
            "MISTRAL_API_KEY",
            "AUTH_HEADER",
            "authorization",
            "GOOGLE_CREDENTIALS",
            "SSH_PRIVATE",
            "SESSION_COOKIE",
            "LIVEKIT_TOKEN",
        ] {
            assert!(hides_value(name), "{name}");
        }
        for name in [
            "PORT",
            "LIVEKIT_URL",
            "REDIS_HOST",
            "LOG_LEVEL",
            "AUTHOR_X_DISABLED_Y",
        ] {
            let expected = name.starts_with("AUTH");
            assert_eq!(hides_value(name), expected, "{name}");
        }
    }

    #[test]
    fn url_passwords_and_known_values_are_masked() {
        assert_eq!(
            mask_url_password("postgres://app:hunter2@db:5432/x?ssl=1"),
            "postgres://app:••••••@db:5432/x?ssl=1"
        );
        assert_eq!(
            mask_url_password("redis://:s3cret@127.0.0.1:6379"),
            "redis://:••••••@127.0.0.1:6379"
        );
        assert_eq!(mask_url_password("http://host/a@b"), "http://host/a@b");
        assert_eq!(mask_url_password("ws://user@host"), "ws://user@host");
        assert_eq!(mask_url_password("plain"), "plain");
        let secrets = vec![
            "sk-live-abcdef".to_owned(),
            "abc".to_owned(),
            "sk-live-abcdef-long".to_owned(),
        ];
        assert_eq!(
            mask_values("key sk-live-abcdef-long and sk-live-abcdef, abc", &secrets),
            "key •••••• and ••••••, abc"
        );
    }

    proptest::proptest! {
        #[test]
        fn masking_never_panics_and_removes_every_secret(text in "\\PC{0,100}", secret in "[a-z0-9]{8,12}") {
            let with = format!("{text}{secret}{text}");
            let out = mask_values(&with, std::slice::from_ref(&secret));
            proptest::prop_assert!(!out.contains(&secret));
            let _ = mask_url_password(&text);
        }

        #[test]
        fn redaction_never_panics_and_keeps_token_free_text(text in "\\PC{0,200}") {
            let out = redact_tokens(&text);
            if !text.contains('.') {
                proptest::prop_assert_eq!(out, text);
            }
        }
    }
}
