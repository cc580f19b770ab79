//! The secrets that guard Greenroom's local servers (`greenroom serve`, a supervisor's
//! control endpoint), and how to compare them.
//!
//! A token is 256 bits from the operating system's random source (`getrandom`: the
//! `getrandom` syscall on Linux, `ProcessPrng` on Windows), written as 64 lowercase hex
//! digits. [`tokens_match`] compares in time that depends only on the expected token's
//! length, so a caller cannot find a token byte by byte by timing refusals.

/// A fresh token, or why the OS would not give randomness (which it practically never
/// refuses; Greenroom then refuses to start a server rather than use a guessable token).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        std::io::Error::other(format!(
            "the operating system gave no randomness for a token ({e})"
        ))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `given` equals `expected`, in time independent of where they differ.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    // Walk `expected` whole, whatever `given` is; a length mismatch is folded in at the end.
    let mut difference = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        difference |= g ^ e;
    }
    std::hint::black_box(difference) == 0 && !expected.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_different() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn matching() {
        let t = new_token().unwrap();
        assert!(tokens_match(&t, &t));
        assert!(!tokens_match(&t[..63], &t));
        assert!(!tokens_match(&format!("{t}0"), &t));
        assert!(!tokens_match("", &t));
        assert!(!tokens_match("", ""), "an empty token never matches");
        let mut flipped = t.clone().into_bytes();
        flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
        assert!(!tokens_match(std::str::from_utf8(&flipped).unwrap(), &t));
    }

    proptest::proptest! {
        #[test]
        fn matches_exactly_when_equal(a in "[0-9a-f]{0,70}", b in "[0-9a-f]{1,70}") {
            proptest::prop_assert_eq!(tokens_match(&a, &b), a == b);
        }
    }
}
