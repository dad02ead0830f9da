//! Who is never banned: `ignoreip` addresses and networks, the addresses its host names
//! resolve to, and (with `ignoreself`) this host's own addresses. Resolving is the daemon's
//! job; it hands the results in as plain addresses, so checking stays pure. Also what to do
//! with a failure that names a host instead of an address (`usedns`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::addr::Target;
use crate::config::{self, IgnoreIp, UseDns};
use crate::filter::Host;

/// Why an address is not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// It lies in this `ignoreip` address or network (as written in the config).
    Listed(String),
    /// It is an address this `ignoreip` host name resolved to.
    HostName { name: String, addr: IpAddr },
    /// It is one of this host's own addresses (`ignoreself`).
    OwnAddress(IpAddr),
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoreReason::Listed(entry) => write!(f, "ignoreip lists {entry}"),
            IgnoreReason::HostName { name, addr } => {
                write!(f, "ignoreip lists {name}, which resolves to {addr}")
            }
            IgnoreReason::OwnAddress(addr) => {
                write!(f, "{addr} is an address of this host (ignoreself)")
            }
        }
    }
}

/// What the daemon found out for the ignore lists: the addresses of `ignoreip` host names
/// and this host's own addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Host name → its addresses. A name missing here, or with no address, ignores nothing
    /// (and is listed by [`IgnoreList::unresolved`]).
    pub names: BTreeMap<String, Vec<IpAddr>>,
    /// This host's addresses, for `ignoreself`.
    pub own: Vec<IpAddr>,
}

impl Resolved {
    /// The host names in these `ignoreip` entries: what the daemon needs to resolve.
    pub fn names_in(ignoreip: &[IgnoreIp]) -> impl Iterator<Item = &str> {
        ignoreip.iter().filter_map(|entry| match entry {
            IgnoreIp::Host(name) => Some(name.as_str()),
            IgnoreIp::Net { .. } => None,
        })
    }
}

/// A jail's addresses and networks that are never banned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreList {
    entries: Vec<(Target, IgnoreReason)>,
    unresolved: Vec<String>,
}

impl IgnoreList {
    /// A list that ignores nothing.
    pub fn empty() -> IgnoreList {
        IgnoreList::default()
    }

    /// The list for a jail: its `ignoreip`, the names in it as `resolved` says, and with
    /// `ignoreself` the host's own addresses.
    pub fn for_jail(jail: &config::Jail, resolved: &Resolved) -> IgnoreList {
        let own: &[IpAddr] = if jail.ignoreself { &resolved.own } else { &[] };
        IgnoreList::new(&jail.ignoreip, &resolved.names, own)
    }

    pub fn new(ignoreip: &[IgnoreIp], names: &BTreeMap<String, Vec<IpAddr>>, own: &[IpAddr]) -> IgnoreList {
        let mut list = IgnoreList::default();
        for entry in ignoreip {
            match entry {
                IgnoreIp::Net { addr, prefix } => {
                    let reason = IgnoreReason::Listed(entry.to_string());
                    list.entries.push((Target::net(*addr, *prefix), reason));
                }
                IgnoreIp::Host(name) => match names.get(name) {
                    Some(addrs) if !addrs.is_empty() => {
                        for &addr in addrs {
                            let reason = IgnoreReason::HostName {
                                name: name.clone(),
                                addr: addr.to_canonical(),
                            };
                            list.entries.push((Target::addr(addr), reason));
                        }
                    }
                    _ => list.unresolved.push(name.clone()),
                },
            }
        }
        for &addr in own {
            let addr = addr.to_canonical();
            list.entries
                .push((Target::Addr(addr), IgnoreReason::OwnAddress(addr)));
        }
        list
    }

    /// Why `target` is ignored, if it is. A network is ignored when it overlaps an ignored
    /// address or network at all, since banning it would ban that one too.
    pub fn check(&self, target: &Target) -> Option<&IgnoreReason> {
        let target = target.canonical();
        self.entries
            .iter()
            .find(|(net, _)| net.overlaps(&target))
            .map(|(_, reason)| reason)
    }

    /// `ignoreip` host names that had no address: they ignore nothing (worth a warning).
    pub fn unresolved(&self) -> &[String] {
        &self.unresolved
    }
}

/// What to do with the address a failure names, by the jail's `usedns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// Count the failure against this address or network.
    Count(Target),
    /// `usedns = no` and the log names a host: the failure is not counted.
    Skip,
    /// Resolve the name and count a failure for each address (fail2ban does the same).
    /// `warn` (`usedns = warn`): also log that a host name was used. `usedns = raw` resolves
    /// too: nftables cannot ban a name, and fail2ban's raw names reach a resolver in the
    /// firewall command anyway.
    Resolve { name: String, warn: bool },
}

impl HostAction {
    pub fn of(host: &Host, usedns: UseDns) -> HostAction {
        match (host, usedns) {
            (Host::Addr(ip), _) => HostAction::Count(Target::addr(*ip)),
            (Host::Net(ip, prefix), _) => HostAction::Count(Target::net(*ip, *prefix)),
            (Host::Name(_), UseDns::No) => HostAction::Skip,
            (Host::Name(name), _) => HostAction::Resolve {
                name: name.clone(),
                warn: usedns == UseDns::Warn,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn target(text: &str) -> Target {
        text.parse().unwrap()
    }

    fn entries(list: &[&str]) -> Vec<IgnoreIp> {
        list.iter().map(|e| e.parse().unwrap()).collect()
    }

    #[test]
    fn ignoreip_cidr_and_v4_mapped() {
        let list = IgnoreList::new(
            &entries(&["10.0.0.0/8", "::1", "192.0.2.7"]),
            &BTreeMap::new(),
            &[],
        );
        let listed = |e: &str| Some(IgnoreReason::Listed(e.to_string()));
        assert_eq!(list.check(&target("10.20.30.40")).cloned(), listed("10.0.0.0/8"));
        assert_eq!(
            list.check(&Target::Addr(ip("::ffff:10.1.1.1"))).cloned(),
            listed("10.0.0.0/8")
        );
        assert_eq!(
            list.check(&target("::ffff:192.0.2.7")).cloned(),
            listed("192.0.2.7")
        );
        assert_eq!(list.check(&target("::1")).cloned(), listed("::1"));
        assert_eq!(list.check(&target("11.0.0.1")), None);
        assert_eq!(list.check(&target("192.0.2.8")), None);
        assert_eq!(
            list.check(&target("192.0.2.0/24")).cloned(),
            listed("192.0.2.7"),
            "a net overlapping it"
        );
        assert_eq!(list.check(&target("10.5.0.0/16")).cloned(), listed("10.0.0.0/8"));
        assert_eq!(list.check(&target("192.0.3.0/24")), None);
    }

    #[test]
    fn resolved_names_and_own_addresses_are_ignored() {
        let names = BTreeMap::from([
            (
                "mail.example.org".to_string(),
                vec![ip("198.51.100.5"), ip("2001:db8::5")],
            ),
            ("gone.example.org".to_string(), vec![]),
        ]);
        let ignoreip = entries(&["mail.example.org", "gone.example.org", "other.example.org"]);
        let list = IgnoreList::new(&ignoreip, &names, &[ip("::ffff:203.0.113.1")]);
        assert_eq!(
            list.check(&target("2001:db8::5")).cloned(),
            Some(IgnoreReason::HostName {
                name: "mail.example.org".into(),
                addr: ip("2001:db8::5")
            })
        );
        assert_eq!(
            list.check(&target("203.0.113.1"))
                .map(ToString::to_string)
                .as_deref(),
            Some("203.0.113.1 is an address of this host (ignoreself)")
        );
        assert_eq!(list.unresolved(), ["gone.example.org", "other.example.org"]);
        assert_eq!(
            Resolved::names_in(&ignoreip).collect::<Vec<_>>(),
            ["mail.example.org", "gone.example.org", "other.example.org"]
        );
    }

    #[test]
    fn usedns_decides_what_a_host_name_does() {
        let name = Host::Name("client.example".into());
        assert_eq!(HostAction::of(&name, UseDns::No), HostAction::Skip);
        for (usedns, warn) in [(UseDns::Yes, false), (UseDns::Warn, true), (UseDns::Raw, false)] {
            let want = HostAction::Resolve {
                name: "client.example".into(),
                warn,
            };
            assert_eq!(HostAction::of(&name, usedns), want);
        }
        let mapped = Host::Addr(ip("::ffff:192.0.2.1"));
        assert_eq!(
            HostAction::of(&mapped, UseDns::No),
            HostAction::Count(target("192.0.2.1"))
        );
        let net = Host::Net(ip("192.0.2.77"), 24);
        assert_eq!(
            HostAction::of(&net, UseDns::No),
            HostAction::Count(target("192.0.2.0/24"))
        );
    }
}
