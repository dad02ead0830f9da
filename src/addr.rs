//! The address type everyone shares (bottom of the module tree: imports nothing of banjo's).
//! What a ban applies to: one address or one network, always in canonical form (IPv4-mapped
//! IPv6 as IPv4, host bits of a network cleared), so equal targets compare and hash equal.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// One address or one network: the key of a failure window and of a ban.
///
/// Build it with [`Target::addr`], [`Target::net`], `From<IpAddr>` or `FromStr` to get the
/// canonical form; the variants are public for matching, and [`Target::canonical`] repairs a
/// hand-built one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Addr(IpAddr),
    /// A network address (host bits clear) and its prefix length, shorter than the full one.
    Net(IpAddr, u8),
}

impl Target {
    /// One address; `::ffff:192.0.2.1` becomes `192.0.2.1`.
    pub fn addr(ip: IpAddr) -> Target {
        Target::Addr(ip.to_canonical())
    }

    /// A network: host bits are cleared, an IPv4-mapped network becomes IPv4, a prefix longer
    /// than the family allows is cut to it, and a full-length prefix is a single address.
    pub fn net(ip: IpAddr, prefix: u8) -> Target {
        let (ip, prefix) = match ip {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                (ip.to_canonical(), prefix - 96)
            }
            _ => (ip, prefix),
        };
        let full = full_prefix(ip);
        let prefix = prefix.min(full);
        if prefix == full {
            return Target::Addr(ip);
        }
        Target::Net(mask(ip, prefix), prefix)
    }

    /// The same target in canonical form.
    pub fn canonical(self) -> Target {
        match self {
            Target::Addr(ip) => Target::addr(ip),
            Target::Net(ip, prefix) => Target::net(ip, prefix),
        }
    }

    /// The (network) address.
    pub fn ip(&self) -> IpAddr {
        match *self {
            Target::Addr(ip) | Target::Net(ip, _) => ip,
        }
    }

    /// The prefix length: 32 or 128 for a single address.
    pub fn prefix(&self) -> u8 {
        match *self {
            Target::Addr(ip) => full_prefix(ip),
            Target::Net(_, prefix) => prefix,
        }
    }

    /// Whether `ip` is this address or lies in this network (mapped IPv6 checked as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let (net, prefix) = (self.ip(), self.prefix());
        same_family(net, ip) && mask(ip, prefix) == net
    }

    /// Whether the two share any address: one contains the other's network address.
    pub fn overlaps(&self, other: &Target) -> bool {
        let (a, b) = if self.prefix() <= other.prefix() {
            (self, other)
        } else {
            (other, self)
        };
        a.contains(b.ip())
    }

    /// Whether all of `other` lies in this one (itself included).
    pub fn covers(&self, other: &Target) -> bool {
        self.prefix() <= other.prefix() && self.contains(other.ip())
    }

    pub fn is_ipv6(&self) -> bool {
        self.ip().is_ipv6()
    }

    /// The number of bits of its family: 32 or 128.
    pub fn family_bits(&self) -> u8 {
        full_prefix(self.ip())
    }

    /// Whether it is a network rather than one address.
    pub fn is_net(&self) -> bool {
        matches!(self, Target::Net(..))
    }

    /// The network of `prefix` bits it lies in; itself when it is that wide already.
    pub fn widen(&self, prefix: u8) -> Target {
        if prefix >= self.prefix() {
            *self
        } else {
            Target::net(self.ip(), prefix)
        }
    }

    /// Its first and last address as numbers (an IPv4 address in the low 32 bits).
    pub fn range(&self) -> (u128, u128) {
        let start = value(self.ip());
        let host_bits = u32::from(self.family_bits() - self.prefix());
        let size_minus_one = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
        (start, start | size_minus_one)
    }

    /// The narrowest network that holds every one of `targets` (all of one family); `None`
    /// for none or for a mix of families.
    pub fn common<'a>(targets: impl IntoIterator<Item = &'a Target>) -> Option<Target> {
        let mut iter = targets.into_iter();
        let first = iter.next()?.canonical();
        let mut prefix = first.prefix();
        for t in iter {
            let t = t.canonical();
            if !same_family(first.ip(), t.ip()) {
                return None;
            }
            let shift = 128 - u32::from(first.family_bits());
            let differ = (value(first.ip()) ^ value(t.ip())) << shift;
            prefix = prefix.min(t.prefix()).min(differ.leading_zeros() as u8);
        }
        Some(first.widen(prefix))
    }
}

/// An address as a number: IPv4 in the low 32 bits.
pub fn value(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl From<IpAddr> for Target {
    fn from(ip: IpAddr) -> Target {
        Target::addr(ip)
    }
}

fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// `ip` with every bit after the first `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

impl fmt::Display for Target {
    /// `192.0.2.7`, `2001:db8::/32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Addr(ip) => write!(f, "{ip}"),
            Target::Net(ip, prefix) => write!(f, "{ip}/{prefix}"),
        }
    }
}

/// Why a text is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an address or a network (e.g. 192.0.2.7, 2001:db8::/32): {problem}")]
pub struct ParseTargetError {
    pub text: String,
    pub problem: &'static str,
}

impl FromStr for Target {
    type Err = ParseTargetError;

    /// An address or `address/prefix`; the result is canonical (`10.1.2.3/8` is `10.0.0.0/8`).
    fn from_str(text: &str) -> Result<Target, ParseTargetError> {
        let err = |problem| ParseTargetError {
            text: text.to_string(),
            problem,
        };
        let Some((addr, prefix)) = text.split_once('/') else {
            let ip: IpAddr = text.parse().map_err(|_| err("not an IP address"))?;
            return Ok(Target::addr(ip));
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| err("the part before `/` is not an IP address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| err("the part after `/` is not a prefix length"))?;
        if prefix > full_prefix(ip) {
            return Err(err("the prefix is longer than the address"));
        }
        Ok(Target::net(ip, prefix))
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        struct TargetVisitor;
        impl Visitor<'_> for TargetVisitor {
            type Value = Target;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address or a network as text, e.g. \"192.0.2.7\" or \"2001:db8::/32\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Target, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(TargetVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Target {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn mapped_v6_becomes_v4() {
        assert_eq!(t("::ffff:192.0.2.7"), Target::Addr(ip("192.0.2.7")));
        assert_eq!(Target::from(ip("::ffff:192.0.2.7")), t("192.0.2.7"));
        assert_eq!(t("::ffff:10.0.0.0/104"), t("10.0.0.0/8"));
    }

    #[test]
    fn networks_lose_host_bits_and_full_prefixes_are_addresses() {
        assert_eq!(t("10.1.2.3/8"), Target::Net(ip("10.0.0.0"), 8));
        assert_eq!(t("10.1.2.3/32"), Target::Addr(ip("10.1.2.3")));
        assert_eq!(t("2001:db8::1/128"), Target::Addr(ip("2001:db8::1")));
        assert_eq!(Target::Net(ip("10.1.2.3"), 8).canonical(), t("10.0.0.0/8"));
    }

    #[test]
    fn display_parses_back() {
        for text in ["192.0.2.7", "10.0.0.0/8", "2001:db8::/32", "::1", "0.0.0.0/0"] {
            assert_eq!(t(text).to_string(), text);
        }
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        let e = "10.0.0.0/33".parse::<Target>().unwrap_err();
        assert!(e.to_string().contains("longer"), "{e}");
        assert!("host.example".parse::<Target>().is_err());
        assert!("10.0.0.0/x".parse::<Target>().is_err());
    }

    #[test]
    fn contains_and_overlaps() {
        assert!(t("10.0.0.0/8").contains(ip("10.9.9.9")));
        assert!(t("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
        assert!(!t("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(!t("10.0.0.0/8").contains(ip("::a00:1")));
        assert!(t("10.0.0.0/8").overlaps(&t("10.1.0.0/16")));
        assert!(t("10.1.0.0/16").overlaps(&t("10.0.0.0/8")));
        assert!(t("10.1.2.3").overlaps(&t("10.1.0.0/16")));
        assert!(!t("10.1.0.0/16").overlaps(&t("10.2.0.0/16")));
    }

    #[test]
    fn covers_widen_and_range() {
        assert!(t("10.0.0.0/8").covers(&t("10.1.0.0/16")));
        assert!(t("10.0.0.0/8").covers(&t("10.0.0.0/8")));
        assert!(!t("10.1.0.0/16").covers(&t("10.0.0.0/8")));
        assert!(t("2001:db8::/64").covers(&t("2001:db8::5")));
        assert_eq!(t("2001:db8:1:2:3::4").widen(64), t("2001:db8:1:2::/64"));
        assert_eq!(t("2001:db8:1:2::/64").widen(56), t("2001:db8:1::/56"));
        assert_eq!(t("2001:db8::/48").widen(64), t("2001:db8::/48"), "never narrower");
        assert_eq!(t("192.0.2.7").widen(24), t("192.0.2.0/24"));
        assert_eq!(t("192.0.2.0/24").range(), (0xc000_0200, 0xc000_02ff));
        assert_eq!(t("192.0.2.7").range(), (0xc000_0207, 0xc000_0207));
        assert_eq!(t("0.0.0.0/0").range(), (0, 0xffff_ffff));
        assert_eq!(t("::/0").range(), (0, u128::MAX));
        assert_eq!(t("2001:db8::/127").range().1 - t("2001:db8::/127").range().0, 1);
    }

    #[test]
    fn common_is_the_narrowest_network_holding_them_all() {
        let c = |list: &[&str]| Target::common(list.iter().map(|s| t(s)).collect::<Vec<_>>().iter());
        assert_eq!(c(&["2001:db8::1", "2001:db8::2"]), Some(t("2001:db8::/126")));
        assert_eq!(c(&["2001:db8::1"]), Some(t("2001:db8::1")));
        assert_eq!(
            c(&["2001:db8:0:1::/64", "2001:db8:0:2::/64"]),
            Some(t("2001:db8::/62"))
        );
        assert_eq!(c(&["192.0.2.1", "192.0.2.200"]), Some(t("192.0.2.0/24")));
        assert_eq!(c(&["10.0.0.0/8", "10.9.9.9"]), Some(t("10.0.0.0/8")));
        assert_eq!(c(&["192.0.2.1", "2001:db8::1"]), None);
        assert_eq!(c(&[]), None);
    }

    #[test]
    fn serde_is_the_text_form() {
        let json = serde_json::to_string(&t("2001:db8::/32")).unwrap();
        assert_eq!(json, "\"2001:db8::/32\"");
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t("2001:db8::/32"));
        assert!(serde_json::from_str::<Target>("\"nope\"").is_err());
    }
}
