//! What the participant reads in the STUN binding messages its connections send and
//! receive: enough to time a join and to answer the server's checks the way it needs.
//!
//! Why it exists: `str0m` runs ICE itself and says nothing about single checks. The media
//! loop looks at the packets anyway (they all pass through its sockets), and two things
//! need a look inside a STUN message: the join timeline (when the first check went out,
//! when the server nominated a pair) and the triggered check that makes the server
//! nominate at once (see `media_loop`), which resends our latest check, and only one
//! that we sent as the controlled agent. Pure functions on bytes, tested here.
//!
//! Exact semantics of [`parse`]: `Some` for a STUN Binding message (RFC 8489: the two top
//! bits zero, the magic cookie, a length that fits the packet, method 0x001), `None` for
//! anything else (DTLS, RTP, other STUN methods, truncated packets). Its attributes are
//! read up to the first one that runs past the message; `use_candidate` is the USE-CANDIDATE attribute (0x0025),
//! `role` ICE-CONTROLLING (0x802A) or ICE-CONTROLLED (0x8029) when present.

/// The four STUN classes (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// The ICE role a binding request was sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Controlling,
    Controlled,
}

/// A STUN Binding message, as far as the participant reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binding {
    pub(super) class: Class,
    /// The controlling agent nominates the pair this request checks.
    pub(super) use_candidate: bool,
    pub(super) role: Option<Role>,
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER: usize = 20;
const BINDING: u16 = 0x001;
const USE_CANDIDATE: u16 = 0x0025;
const ICE_CONTROLLED: u16 = 0x8029;
const ICE_CONTROLLING: u16 = 0x802A;

/// The STUN Binding message in `packet`, if it is one (see the module docs).
pub(super) fn parse(packet: &[u8]) -> Option<Binding> {
    if packet.len() < HEADER || packet[0] & 0xC0 != 0 || packet[4..8] != MAGIC_COOKIE {
        return None;
    }
    let kind = u16::from_be_bytes([packet[0], packet[1]]);
    let length = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if HEADER + length > packet.len() {
        return None;
    }
    // Method bits M0-M11 interleaved with the class bits C0 (bit 4) and C1 (bit 8).
    let method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2);
    if method != BINDING {
        return None;
    }
    let class = match ((kind >> 7) & 0b10) | ((kind >> 4) & 0b01) {
        0b00 => Class::Request,
        0b01 => Class::Indication,
        0b10 => Class::Success,
        _ => Class::Error,
    };
    let mut binding = Binding {
        class,
        use_candidate: false,
        role: None,
    };
    let attributes = &packet[HEADER..HEADER + length];
    let mut at = 0;
    while at + 4 <= attributes.len() {
        let kind = u16::from_be_bytes([attributes[at], attributes[at + 1]]);
        let len = usize::from(u16::from_be_bytes([attributes[at + 2], attributes[at + 3]]));
        if at + 4 + len > attributes.len() {
            break;
        }
        match kind {
            USE_CANDIDATE => binding.use_candidate = true,
            ICE_CONTROLLING => binding.role = Some(Role::Controlling),
            ICE_CONTROLLED => binding.role = Some(Role::Controlled),
            _ => {}
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    Some(binding)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN message of `kind` with the given attributes (type, value).
    fn message(kind: u16, attributes: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in attributes {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&MAGIC_COOKIE);
        out.extend_from_slice(&[7; 12]);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn binding_requests_say_their_role_and_whether_they_nominate() {
        let username: &[u8] = b"abcd:efgh";
        let check = message(
            0x0001,
            &[
                (0x0006, username),
                (ICE_CONTROLLED, &[1; 8]),
                (0x0024, &[0; 4]),
            ],
        );
        assert_eq!(
            parse(&check),
            Some(Binding {
                class: Class::Request,
                use_candidate: false,
                role: Some(Role::Controlled),
            })
        );
        let nomination = message(
            0x0001,
            &[
                (0x0006, username),
                (ICE_CONTROLLING, &[1; 8]),
                (USE_CANDIDATE, &[]),
            ],
        );
        assert_eq!(
            parse(&nomination),
            Some(Binding {
                class: Class::Request,
                use_candidate: true,
                role: Some(Role::Controlling),
            })
        );
    }

    #[test]
    fn each_class_of_binding_message_is_told_apart() {
        for (kind, class) in [
            (0x0001, Class::Request),
            (0x0011, Class::Indication),
            (0x0101, Class::Success),
            (0x0111, Class::Error),
        ] {
            assert_eq!(parse(&message(kind, &[])).map(|b| b.class), Some(class));
        }
    }

    #[test]
    fn anything_but_a_whole_stun_binding_message_is_none() {
        // Another STUN method (Allocate, TURN).
        assert_eq!(parse(&message(0x0003, &[])), None);
        // DTLS (first byte 20..=63) and RTP (128..=191), RFC 7983.
        let mut dtls = message(0x0001, &[]);
        dtls[0] = 22;
        assert_eq!(parse(&dtls), None);
        let mut rtp = message(0x0001, &[]);
        rtp[0] = 0x80;
        assert_eq!(parse(&rtp), None);
        // No magic cookie.
        let mut old = message(0x0001, &[]);
        old[4] = 0;
        assert_eq!(parse(&old), None);
        // Truncated: shorter than its header, or than the length it announces.
        assert_eq!(parse(&[0, 1, 0, 0]), None);
        let whole = message(0x0001, &[(USE_CANDIDATE, &[])]);
        assert_eq!(parse(&whole[..whole.len() - 2]), None);
        // An attribute that runs past the message is not read; those before it are.
        let mut cut = message(0x0001, &[(USE_CANDIDATE, &[]), (ICE_CONTROLLED, &[1; 8])]);
        cut[26..28].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(
            parse(&cut),
            Some(Binding {
                class: Class::Request,
                use_candidate: true,
                role: None,
            })
        );
    }
}
