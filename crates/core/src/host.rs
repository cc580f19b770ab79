//! Which `Host` a local server answers: the defence against DNS rebinding.
//!
//! A web page can make its own DNS name resolve to 127.0.0.1 and then call a local server
//! from the user's browser; the browser then sends that name as `Host`. It can never make
//! the browser send an IP literal it did not type. So a server answers only:
//! - a loopback name (`localhost`, `127.0.0.1`, `[::1]`…) on the port it listens on;
//! - when `ip_literals` is on (a server bound off loopback, or one that phones and
//!   emulators reach by address, such as `10.0.2.2`), any IP literal on that port;
//! - an entry of `allowed`: `name` (any port), `name:port`, or `.domain` (the domain and
//!   its subdomains), compared without regard to case.
//!
//! A `Host` without a port means port 80. Anything that does not parse is refused.

/// Splits a `Host` value into its name (lowercase, IPv6 without brackets) and port.
pub fn split(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (name, after.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => (name, Some(port)),
            Some(_) => return None,
            None => (host, None),
        }
    };
    if name.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((name.to_ascii_lowercase(), port))
}

/// Whether a request with this `Host` may reach a server listening on `port` (module docs).
pub fn is_allowed(host: &str, port_listened: u16, ip_literals: bool, allowed: &[String]) -> bool {
    let Some((name, port)) = split(host) else {
        return false;
    };
    let on_our_port = port.unwrap_or(80) == port_listened;
    let is_loopback_name = name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let is_ip = name.parse::<std::net::IpAddr>().is_ok();
    if on_our_port && (is_loopback_name || (is_ip && ip_literals)) {
        return true;
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        if let Some(domain) = entry.strip_prefix('.') {
            return name == domain || name.ends_with(&format!(".{domain}"));
        }
        match split(&entry) {
            Some((allowed_name, None)) => allowed_name == name,
            Some((allowed_name, Some(allowed_port))) => {
                allowed_name == name && port.unwrap_or(80) == allowed_port
            }
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_ports_and_ipv6() {
        assert_eq!(split("LocalHost:80"), Some(("localhost".into(), Some(80))));
        assert_eq!(split("[::1]:7870"), Some(("::1".into(), Some(7870))));
        assert_eq!(split("[::1]"), Some(("::1".into(), None)));
        assert_eq!(split("example"), Some(("example".into(), None)));
        assert_eq!(split(""), None);
        assert_eq!(split(":80"), None);
        assert_eq!(split("::1"), None, "IPv6 needs brackets");
        assert_eq!(split("[::1]junk"), None);
        assert_eq!(split("a:99999"), None);
    }

    #[test]
    fn ip_literals_only_when_asked() {
        assert!(is_allowed("127.0.0.1:8004", 8004, false, &[]));
        assert!(!is_allowed("10.0.2.2:8004", 8004, false, &[]));
        assert!(is_allowed("10.0.2.2:8004", 8004, true, &[]));
        assert!(!is_allowed("10.0.2.2:8005", 8004, true, &[]));
        assert!(!is_allowed("attacker.example:8004", 8004, true, &[]));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(host in "\\PC{0,60}", entry in "\\PC{0,30}", port in 0u16..) {
            let _ = is_allowed(&host, port, true, &[entry]);
        }
    }
}
