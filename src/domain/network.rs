//! IP addresses: trusted proxy blocks, which address of a forwarded chain is the client, and
//! which addresses are public (push endpoints must not reach into the server's own network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A configured block such as `10.0.0.0/8` or one address such as `127.0.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (address, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("'{raw}' is not an IP address or block such as 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{raw}': the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(ip)) => {
                leading_bits_equal(&n.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(ip)) => {
                leading_bits_equal(&n.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn leading_bits_equal(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[whole] & mask) == (b[whole] & mask)
}

/// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpBlock {
    IpBlock {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix,
    }
}

const fn v6(first: u16, second: u16, prefix: u8) -> IpBlock {
    IpBlock {
        network: IpAddr::V6(Ipv6Addr::new(first, second, 0, 0, 0, 0, 0, 0)),
        prefix,
    }
}

/// Blocks that are not the public internet (IANA special-purpose registries): this host,
/// private networks, carrier-grade NAT, loopback, link-local, documentation, benchmarking,
/// multicast and reserved; IPv6 unique-local, link-local, site-local, NAT64 (which reaches
/// IPv4 behind a gateway), documentation, multicast and the unspecified and loopback ones.
const NOT_PUBLIC: [IpBlock; 21] = [
    v4(0, 0, 0, 0, 8),
    v4(10, 0, 0, 0, 8),
    v4(100, 64, 0, 0, 10),
    v4(127, 0, 0, 0, 8),
    v4(169, 254, 0, 0, 16),
    v4(172, 16, 0, 0, 12),
    v4(192, 0, 0, 0, 24),
    v4(192, 0, 2, 0, 24),
    v4(192, 168, 0, 0, 16),
    v4(198, 18, 0, 0, 15),
    v4(198, 51, 100, 0, 24),
    v4(203, 0, 113, 0, 24),
    v4(224, 0, 0, 0, 3),
    v6(0, 0, 127),
    v6(0x64, 0xff9b, 96),
    v6(0x100, 0, 64),
    v6(0x2001, 0xdb8, 32),
    v6(0xfc00, 0, 7),
    v6(0xfe80, 0, 10),
    v6(0xfec0, 0, 10),
    v6(0xff00, 0, 8),
];

/// Whether an address is on the public internet, so the server may connect to it for a
/// member (push endpoints). IPv4-mapped IPv6 addresses count as the IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    !NOT_PUBLIC.iter().any(|block| block.contains(ip))
}

/// Whether an address is this machine's loopback (IPv4-mapped included).
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

/// The client behind a chain of proxies: the peer itself unless it is trusted; then, from
/// the right of the forwarded chain (each proxy appends the address it saw), the first
/// entry that is not a trusted proxy. Entries left of it were written by the client and
/// prove nothing. `None` in the chain is an entry that is not an address.
pub fn client_of_chain(
    peer: IpAddr,
    chain: &[Option<IpAddr>],
    trusted: &[IpBlock],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|b| b.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = Some(peer);
    for entry in chain.iter().rev() {
        match entry {
            Some(ip) if is_trusted(*ip) => client = Some(*ip),
            other => return *other,
        }
    }
    client
}

/// Parses `X-Forwarded-For` (`a, b, c`) or `Forwarded` (`for=a;proto=https, for="[v6]:p"`)
/// into the chain of addresses, left to right.
pub fn forwarded_chain(
    x_forwarded_for: Option<&str>,
    forwarded: Option<&str>,
) -> Vec<Option<IpAddr>> {
    if let Some(xff) = x_forwarded_for {
        return xff.split(',').map(|e| parse_node(e.trim())).collect();
    }
    let Some(forwarded) = forwarded else {
        return Vec::new();
    };
    forwarded
        .split(',')
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// An address, perhaps with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_node(raw: &str) -> Option<IpAddr> {
    if let Ok(ip) = raw.parse() {
        return Some(ip);
    }
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    raw.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_by_prefix() {
        let block = IpBlock::parse("10.1.0.0/16").unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(
            IpBlock::parse("127.0.0.1")
                .unwrap()
                .contains(ip("::ffff:127.0.0.1"))
        );
        assert!(IpBlock::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("proxy.local").is_err());
    }

    #[test]
    fn only_internet_addresses_are_public() {
        for public in ["8.8.8.8", "142.250.196.106", "2404:6800:4004:80a::200a"] {
            assert!(is_public(ip(public)), "{public}");
        }
        for inside in [
            "127.0.0.2",
            "10.1.2.3",
            "172.31.255.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(ip(inside)), "{inside}");
        }
        assert!(is_loopback(ip("::ffff:127.0.0.1")) && !is_loopback(ip("10.0.0.1")));
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let trusted = [
            IpBlock::parse("127.0.0.1").unwrap(),
            IpBlock::parse("10.0.0.0/8").unwrap(),
        ];
        let chain = forwarded_chain(Some("6.6.6.6, 203.0.113.9, 10.0.0.2"), None);
        assert_eq!(
            client_of_chain(ip("127.0.0.1"), &chain, &trusted),
            Some(ip("203.0.113.9"))
        );
        // From an untrusted peer the headers mean nothing.
        assert_eq!(
            client_of_chain(ip("198.51.100.1"), &chain, &trusted),
            Some(ip("198.51.100.1"))
        );
        // No header: the proxy itself.
        assert_eq!(
            client_of_chain(ip("127.0.0.1"), &[], &trusted),
            Some(ip("127.0.0.1"))
        );
        let garbage = forwarded_chain(Some("1.1.1.1, nonsense"), None);
        assert_eq!(client_of_chain(ip("127.0.0.1"), &garbage, &trusted), None);
    }

    #[test]
    fn forwarded_headers_parse_with_ports_and_brackets() {
        let chain = forwarded_chain(
            None,
            Some(r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#),
        );
        assert_eq!(chain, vec![Some(ip("192.0.2.60")), Some(ip("2001:db8::1"))]);
        assert_eq!(
            forwarded_chain(Some("1.2.3.4:80"), None),
            vec![Some(ip("1.2.3.4"))]
        );
    }
}
