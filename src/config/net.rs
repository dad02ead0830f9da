//! `ignoreip` entries: addresses, CIDR networks and host names, as fail2ban accepts them, and
//! `file:PATH`, a list file of addresses and networks. Host names and files are kept as
//! written; resolving the names and reading the files is the daemon's job, not the config's.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// One `ignoreip` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IgnoreIp {
    /// An address or network. Host bits may be set ("127.0.0.1/8"), as fail2ban allows;
    /// a single address has the full prefix (32 or 128).
    Net { addr: IpAddr, prefix: u8 },
    /// A host name, resolved by whoever checks addresses against the list.
    Host(String),
    /// `file:PATH`: a file of addresses and networks, one a line (see `crate::addrlist`),
    /// read by whoever checks addresses against the list, at start and on reload.
    File(PathBuf),
}

impl IgnoreIp {
    /// Whether `ip` lies in this network. Always false for a host name or a file (resolve or
    /// read it first).
    /// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is checked as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let IgnoreIp::Net { addr, prefix } = self else {
            return false;
        };
        match (addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for IgnoreIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoreIp::Net { addr, prefix } if *prefix == full_prefix(addr) => write!(f, "{addr}"),
            IgnoreIp::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
            IgnoreIp::Host(name) => f.write_str(name),
            IgnoreIp::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl std::str::FromStr for IgnoreIp {
    type Err = String;

    /// Parses one entry: "10.0.0.0/8", "192.168.0.0/255.255.0.0", "::1", "2001:db8::/32",
    /// "mail.example.org", "file:/etc/banjo/partners.txt".
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("file:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!(
                    "`{text}`: the file's path must be absolute, e.g. file:/etc/banjo/partners.txt"
                ));
            }
            return Ok(IgnoreIp::File(path));
        }
        if let Some((addr, prefix)) = text.split_once('/') {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{addr}` before the `/` is not an IP address"))?;
            let prefix = parse_prefix(&addr, prefix)?;
            return Ok(IgnoreIp::Net { addr, prefix });
        }
        if let Ok(addr) = text.parse::<IpAddr>() {
            let prefix = full_prefix(&addr);
            return Ok(IgnoreIp::Net { addr, prefix });
        }
        if text.contains(':') {
            return Err(format!("`{text}` is not a valid IPv6 address"));
        }
        if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("`{text}` is not a valid IPv4 address"));
        }
        if is_host_name(text) {
            return Ok(IgnoreIp::Host(text.to_string()));
        }
        Err(format!(
            "`{text}` is neither an address, a network nor a host name"
        ))
    }
}

fn full_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// "/24", or fail2ban's dotted netmask "/255.255.255.0" for IPv4.
fn parse_prefix(addr: &IpAddr, text: &str) -> Result<u8, String> {
    let max = full_prefix(addr);
    if let Ok(prefix) = text.parse::<u8>() {
        if prefix <= max {
            return Ok(prefix);
        }
        return Err(format!("prefix /{prefix} is longer than {max} bits"));
    }
    if let (IpAddr::V4(_), Ok(mask)) = (addr, text.parse::<Ipv4Addr>()) {
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() == 32 {
            return Ok(bits.leading_ones() as u8);
        }
        return Err(format!("netmask {mask} has holes in it"));
    }
    Err(format!("`/{text}` is not a prefix length (0..={max})"))
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
fn is_host_name(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn entry(text: &str) -> IgnoreIp {
        text.parse().unwrap()
    }

    #[test]
    fn v4_cidr_with_host_bits_set_covers_the_network() {
        let net = entry("127.0.0.1/8");
        assert!(net.contains(ip("127.0.0.1")));
        assert!(net.contains(ip("127.255.3.4")));
        assert!(!net.contains(ip("128.0.0.1")));
        assert!(!net.contains(ip("::1")));
    }

    #[test]
    fn v6_cidr_covers_the_network() {
        let net = entry("2001:db8::/32");
        assert!(net.contains(ip("2001:db8:1::5")));
        assert!(!net.contains(ip("2001:db9::1")));
        assert!(!net.contains(ip("10.0.0.1")));
    }

    #[test]
    fn single_addresses_match_only_themselves() {
        assert!(entry("::1").contains(ip("::1")));
        assert!(!entry("::1").contains(ip("::2")));
        assert!(entry("10.1.2.3").contains(ip("10.1.2.3")));
        assert!(!entry("10.1.2.3").contains(ip("10.1.2.4")));
    }

    #[test]
    fn mapped_v6_addresses_are_checked_as_v4() {
        assert!(entry("10.0.0.0/8").contains(ip("::ffff:10.9.8.7")));
    }

    #[test]
    fn zero_prefix_matches_the_whole_family() {
        assert!(entry("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(entry("::/0").contains(ip("2001:db8::1")));
    }

    #[test]
    fn dotted_netmask_is_accepted() {
        assert_eq!(
            entry("192.168.0.0/255.255.0.0"),
            IgnoreIp::Net {
                addr: ip("192.168.0.0"),
                prefix: 16
            }
        );
        assert!("192.168.0.0/255.0.255.0".parse::<IgnoreIp>().is_err());
    }

    #[test]
    fn host_names_are_kept_and_never_contain() {
        let host = entry("mail.example.org");
        assert_eq!(host, IgnoreIp::Host("mail.example.org".into()));
        assert!(!host.contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_entries_say_what_they_are_not() {
        let e = "300.1.1.1".parse::<IgnoreIp>().unwrap_err();
        assert!(e.contains("not a valid IPv4 address"), "{e}");
        let e = "10.0.0.0/33".parse::<IgnoreIp>().unwrap_err();
        assert!(e.contains("longer than 32 bits"), "{e}");
        let e = "fe80::zz".parse::<IgnoreIp>().unwrap_err();
        assert!(e.contains("IPv6"), "{e}");
        assert!("bad_host!".parse::<IgnoreIp>().is_err());
    }

    #[test]
    fn file_entries_name_an_absolute_path() {
        let file = entry("file:/etc/banjo/partners.txt");
        assert_eq!(file, IgnoreIp::File("/etc/banjo/partners.txt".into()));
        assert!(!file.contains(ip("127.0.0.1")));
        let e = "file:partners.txt".parse::<IgnoreIp>().unwrap_err();
        assert!(e.contains("absolute"), "{e}");
    }

    #[test]
    fn display_prints_what_was_written() {
        for text in [
            "127.0.0.1/8",
            "::1",
            "2001:db8::/32",
            "10.0.0.1",
            "host.example",
            "file:/etc/banjo/partners.txt",
        ] {
            assert_eq!(entry(text).to_string(), text);
        }
    }
}
