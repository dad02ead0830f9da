//! The network bans of one jail, indexed by address: which banned networks hold an address
//! (a failure from inside a banned network is not counted; an admin's unban of an address
//! lifts the network it lies in) and which lie inside a network (folded into it when it is
//! banned), each in O(log n). Single addresses are not indexed: the ledger's map finds them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::Target;

/// (IPv6?, first address, prefix) of a network.
type Key = (bool, u128, u8);

#[derive(Debug, Clone)]
pub(super) struct NetIndex {
    nets: BTreeSet<Key>,
    /// How many network bans have each prefix length, per family (IPv4, IPv6): the lengths a
    /// lookup of the networks holding an address tries.
    lens: [[u32; 129]; 2],
}

impl Default for NetIndex {
    fn default() -> NetIndex {
        NetIndex {
            nets: BTreeSet::new(),
            lens: [[0; 129]; 2],
        }
    }
}

fn key(t: &Target) -> Key {
    (t.is_ipv6(), t.range().0, t.prefix())
}

fn target((v6, start, prefix): Key) -> Target {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(start))
    } else {
        IpAddr::V4(Ipv4Addr::from(start as u32))
    };
    Target::net(ip, prefix)
}

impl NetIndex {
    /// Notes a ban of `t`; an address is ignored.
    pub(super) fn insert(&mut self, t: &Target) {
        if t.is_net() && self.nets.insert(key(t)) {
            self.lens[usize::from(t.is_ipv6())][usize::from(t.prefix())] += 1;
        }
    }

    pub(super) fn remove(&mut self, t: &Target) {
        if t.is_net() && self.nets.remove(&key(t)) {
            let n = &mut self.lens[usize::from(t.is_ipv6())][usize::from(t.prefix())];
            *n = n.saturating_sub(1);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The banned networks wider than `t` that hold it, widest first.
    pub(super) fn holding(&self, t: &Target) -> impl Iterator<Item = Target> + '_ {
        let lens = &self.lens[usize::from(t.is_ipv6())];
        let t = *t;
        (0..t.prefix())
            .filter(move |&len| lens[usize::from(len)] > 0)
            .map(move |len| t.widen(len))
            .filter(|net| self.nets.contains(&key(net)))
    }

    /// The banned networks inside `net` and narrower than it.
    pub(super) fn inside(&self, net: &Target) -> Vec<Target> {
        let (first, last) = net.range();
        let v6 = net.is_ipv6();
        self.nets
            .range((v6, first, 0)..=(v6, last, u8::MAX))
            .filter(|k| k.2 > net.prefix())
            .map(|&k| target(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Target {
        text.parse().unwrap()
    }

    #[test]
    fn networks_holding_and_inside() {
        let mut index = NetIndex::default();
        for net in [
            "2001:db8::/48",
            "2001:db8:1:1::/64",
            "2001:db8:1:2::/64",
            "10.0.0.0/8",
            "192.0.2.7",
        ] {
            index.insert(&t(net));
        }
        let holding: Vec<Target> = index.holding(&t("2001:db8:0:5::1")).collect();
        assert_eq!(holding, [t("2001:db8::/48")]);
        assert_eq!(
            index.holding(&t("2001:db8:1:1::9")).collect::<Vec<_>>(),
            [t("2001:db8:1:1::/64")]
        );
        assert_eq!(index.holding(&t("2001:db8:1:3::9")).count(), 0);
        assert_eq!(
            index.holding(&t("10.9.9.9")).collect::<Vec<_>>(),
            [t("10.0.0.0/8")]
        );
        assert_eq!(index.holding(&t("::a00:1")).count(), 0, "IPv6 is not IPv4");
        assert_eq!(
            index.inside(&t("2001:db8:1::/56")),
            [t("2001:db8:1:1::/64"), t("2001:db8:1:2::/64")]
        );
        assert_eq!(index.inside(&t("2001:db8::/48")), [], "only narrower ones");
        assert_eq!(index.inside(&t("2001:db8::/32")).len(), 3);
        index.remove(&t("2001:db8::/48"));
        assert_eq!(index.holding(&t("2001:db8:0:5::1")).count(), 0);
        assert_eq!(index.lens[1][48], 0);
        index.remove(&t("2001:db8::/48"));
        assert_eq!(index.lens[1][48], 0, "a second remove counts nothing");
        assert!(!index.is_empty());
    }
}
