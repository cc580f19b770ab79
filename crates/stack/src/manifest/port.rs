//! Published ports: `[host_ip:]port[-end][/tcp|/udp]`, as the manifest and compose's
//! short syntax write them. A port is 1–65535; a range is inclusive and may not end
//! before it starts; the protocol defaults to TCP; an IPv6 address is bracketed
//! (`[::1]:7880`). [`PortSpec`]'s text form round-trips (`/tcp` is dropped).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Published host ports: `[host_ip:]port[-end][/tcp|/udp]` (`6379`, `7882/udp`,
/// `50000-50100/udp`, `127.0.0.1:8080`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortSpec {
    pub host_ip: Option<String>,
    pub start: u16,
    pub end: u16,
    pub protocol: Protocol,
}

impl PortSpec {
    pub fn tcp(port: u16) -> Self {
        Self {
            host_ip: None,
            start: port,
            end: port,
            protocol: Protocol::Tcp,
        }
    }
    pub fn ports(&self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }
    pub fn overlaps(&self, other: &PortSpec) -> bool {
        self.protocol == other.protocol && self.start <= other.end && other.start <= self.end
    }
}

/// Why a port text is not a [`PortSpec`] (each message quotes the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("`{text}`: unknown protocol `{protocol}` (tcp or udp)")]
    UnknownProtocol { text: String, protocol: String },
    #[error("`{text}`: expected [ipv6]:port")]
    Ipv6WithoutPort { text: String },
    #[error("`{text}`: `{part}` is not a port (1-65535)")]
    NotAPort { text: String, part: String },
    #[error("`{text}`: the range ends before it starts")]
    Backwards { text: String },
}

/// A port written wrong in a manifest or compose file (`InvalidInput`).
impl greenroom_core::Classified for PortError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

impl TryFrom<String> for PortSpec {
    type Error = PortError;
    fn try_from(text: String) -> Result<Self, PortError> {
        text.parse()
    }
}

impl From<PortSpec> for String {
    fn from(p: PortSpec) -> String {
        p.to_string()
    }
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ip) = &self.host_ip {
            if ip.contains(':') {
                write!(f, "[{ip}]:")?;
            } else {
                write!(f, "{ip}:")?;
            }
        }
        write!(f, "{}", self.start)?;
        if self.end != self.start {
            write!(f, "-{}", self.end)?;
        }
        if self.protocol == Protocol::Udp {
            f.write_str("/udp")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PortSpec {
    type Err = PortError;
    fn from_str(text: &str) -> Result<Self, PortError> {
        let text = text.trim();
        let (body, protocol) = match text.rsplit_once('/') {
            Some((b, "tcp")) => (b, Protocol::Tcp),
            Some((b, "udp")) => (b, Protocol::Udp),
            Some((_, other)) => {
                return Err(PortError::UnknownProtocol {
                    text: text.to_owned(),
                    protocol: other.to_owned(),
                });
            }
            None => (text, Protocol::Tcp),
        };
        let (host_ip, range) = if let Some(rest) = body.strip_prefix('[') {
            let (ip, after) = rest
                .split_once("]:")
                .ok_or_else(|| PortError::Ipv6WithoutPort {
                    text: text.to_owned(),
                })?;
            (Some(ip.to_owned()), after)
        } else {
            match body.rsplit_once(':') {
                Some((ip, port)) => (Some(ip.to_owned()), port),
                None => (None, body),
            }
        };
        let number = |s: &str| -> Result<u16, PortError> {
            match s.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(PortError::NotAPort {
                    text: text.to_owned(),
                    part: s.to_owned(),
                }),
            }
        };
        let (start, end) = match range.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(range)?;
                (n, n)
            }
        };
        if end < start {
            return Err(PortError::Backwards {
                text: text.to_owned(),
            });
        }
        Ok(PortSpec {
            host_ip,
            start,
            end,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_round_trip() {
        for text in [
            "6379",
            "7882/udp",
            "50000-50100/udp",
            "127.0.0.1:8080",
            "[::1]:7880",
        ] {
            let p: PortSpec = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert_eq!("8080/tcp".parse::<PortSpec>().unwrap().to_string(), "8080");
        for bad in ["0", "70000", "a", "10-5", "80/sctp", ""] {
            assert!(bad.parse::<PortSpec>().is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn port_parsing_never_panics(text in "[0-9a-z:/\\[\\]\\-.]{0,30}") {
            let _ = text.parse::<PortSpec>();
        }
    }
}
