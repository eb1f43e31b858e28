//! Which push endpoints kairan accepts and sends to: `https://` URLs on the known push
//! services' hosts (a configurable list), never an address inside the server's own network.
//! Loopback (plain `http://` included) only when the test setting allows it.

use std::net::IpAddr;

use url::{Host, Url};

use super::network::{is_loopback, is_public};

/// What the operator allows.
#[derive(Debug, Clone)]
pub struct EndpointPolicy {
    /// Host patterns: a name (`fcm.googleapis.com`), any name below one
    /// (`*.push.apple.com`), or `*` for any public host.
    pub allowed_hosts: Vec<String>,
    /// Tests: loopback endpoints, `http://` too, whatever the host list says.
    pub allow_loopback: bool,
}

impl EndpointPolicy {
    /// Checks an endpoint when a member registers it and again before each send (the
    /// settings may have changed since). The answer names the rule, never what lies behind
    /// the URL.
    pub fn check(&self, raw: &str) -> Result<Url, &'static str> {
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("endpoint is not a valid URL");
        }
        let url = Url::parse(raw).map_err(|_| "endpoint is not a valid URL")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("endpoint must not carry a user name or password");
        }
        let host = url.host().ok_or("endpoint is not a valid URL")?;
        let loopback = match &host {
            Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
            Host::Ipv4(ip) => is_loopback(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => is_loopback(IpAddr::V6(*ip)),
        };
        let scheme = url.scheme();
        if self.allow_loopback && loopback && (scheme == "https" || scheme == "http") {
            return Ok(url);
        }
        if scheme != "https" {
            return Err("endpoint must be an https:// URL (http:// only on loopback in tests)");
        }
        let name = match host {
            Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) if is_public(IpAddr::V4(ip)) => ip.to_string(),
            Host::Ipv6(ip) if is_public(IpAddr::V6(ip)) => ip.to_string(),
            Host::Ipv4(_) | Host::Ipv6(_) => {
                return Err("endpoint must not be an address inside a private network");
            }
        };
        if self.allowed_hosts.iter().any(|p| host_matches(p, &name)) {
            Ok(url)
        } else {
            Err("endpoint is not on a known push service (see push.allowed_hosts)")
        }
    }

    /// Whether the server may connect to an address a push service's name resolved to.
    pub fn may_connect(&self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_loopback && is_loopback(ip))
    }
}

/// `name` (lower case, no trailing dot) against one pattern of `push.allowed_hosts`.
fn host_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) => name
            .strip_suffix(parent)
            .is_some_and(|below| below.len() > 1 && below.ends_with('.')),
        None => name == pattern,
    }
}

/// A pattern of `push.allowed_hosts` that makes sense: `*`, a host name, or `*.` before one.
pub fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.trim().strip_prefix("*.").unwrap_or(pattern.trim());
    let valid = pattern.trim() == "*"
        || (!name.is_empty()
            && !name.contains('*')
            && Url::parse(&format!("https://{name}/"))
                .ok()
                .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(name)))
                .unwrap_or(false));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "'{pattern}' is not a host name, '*.' and a host name, or '*'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `push.allowed_hosts` in config/default.toml.
    const KNOWN_PUSH_HOSTS: [&str; 4] = [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    ];

    fn policy(allow_loopback: bool) -> EndpointPolicy {
        EndpointPolicy {
            allowed_hosts: KNOWN_PUSH_HOSTS.iter().map(|h| h.to_string()).collect(),
            allow_loopback,
        }
    }

    #[test]
    fn the_known_push_services_are_accepted() {
        for endpoint in [
            "https://fcm.googleapis.com/fcm/send/abc:APA91b",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
            "https://web.push.apple.com/QGz9",
            "https://wns2-ty1p.notify.windows.com/w/?token=BQYAAA",
            "https://FCM.googleapis.com./fcm/send/x",
        ] {
            assert!(policy(false).check(endpoint).is_ok(), "{endpoint}");
        }
    }

    #[test]
    fn other_hosts_addresses_and_disguises_are_refused() {
        for endpoint in [
            "https://evil.example/push",
            "https://fcm.googleapis.com.evil.example/x",
            "https://push.apple.com/x",
            "https://evilpush.apple.com/x",
            "https://10.0.0.5/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest",
            "http://fcm.googleapis.com/fcm/send/x",
            "https://user:pw@fcm.googleapis.com/x",
            "https://localhost/x",
            "ftp://fcm.googleapis.com/x",
            "https://fcm.googleapis.com/a b",
            "not a url",
        ] {
            assert!(policy(false).check(endpoint).is_err(), "{endpoint}");
        }
    }

    #[test]
    fn loopback_passes_only_when_allowed_and_only_as_itself() {
        assert!(policy(true).check("http://127.0.0.1:9/p").is_ok());
        assert!(policy(true).check("http://localhost:9/p").is_ok());
        assert!(policy(true).check("http://[::1]:9/p").is_ok());
        assert!(policy(false).check("http://127.0.0.1:9/p").is_err());
        for disguised in [
            "http://localhost:1@127.0.0.2/",
            "http://localhost:1@10.0.0.5/",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "http://10.0.0.5/",
        ] {
            assert!(policy(true).check(disguised).is_err(), "{disguised}");
        }
    }

    #[test]
    fn connections_go_only_to_public_addresses_unless_loopback_is_allowed() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let private: IpAddr = "192.168.1.1".parse().unwrap();
        let public: IpAddr = "142.250.196.106".parse().unwrap();
        assert!(!policy(false).may_connect(local) && policy(true).may_connect(local));
        assert!(!policy(true).may_connect(private));
        assert!(policy(false).may_connect(public));
    }

    #[test]
    fn host_patterns_are_checked() {
        for good in ["*", "fcm.googleapis.com", "*.push.apple.com", "localhost"] {
            assert!(check_host_pattern(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "*.",
            "https://fcm.googleapis.com",
            "a*.example",
            "*.*.example",
        ] {
            assert!(check_host_pattern(bad).is_err(), "{bad}");
        }
    }
}
