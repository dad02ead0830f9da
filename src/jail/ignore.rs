//! Who is never banned: `ignoreip` addresses and networks, the addresses its host names
//! resolve to, the entries of its `file:PATH` lists, and (with `ignoreself`) this host's own
//! addresses. Resolving names and reading files is the daemon's job; it hands the results in
//! as plain addresses, so checking stays pure. A check is a binary search, so a list file of
//! 100k networks costs a failure no more than a handful of entries. Also what to do with a
//! failure that names a host instead of an address (`usedns`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

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
    /// It lies in this entry of an `ignoreip` list file.
    File { path: PathBuf, entry: Target },
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
            IgnoreReason::File { path, entry } => {
                write!(f, "ignoreip file:{} lists {entry}", path.display())
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
    /// `file:PATH` → the addresses and networks the file lists. A file missing here ignores
    /// nothing (the daemon said why when it could not read it).
    pub files: BTreeMap<PathBuf, Vec<Target>>,
}

impl Resolved {
    /// The host names in these `ignoreip` entries: what the daemon needs to resolve.
    pub fn names_in(ignoreip: &[IgnoreIp]) -> impl Iterator<Item = &str> {
        ignoreip.iter().filter_map(|entry| match entry {
            IgnoreIp::Host(name) => Some(name.as_str()),
            IgnoreIp::Net { .. } | IgnoreIp::File(_) => None,
        })
    }

    /// The list files in these `ignoreip` entries: what the daemon needs to read.
    pub fn files_in(ignoreip: &[IgnoreIp]) -> impl Iterator<Item = &std::path::Path> {
        ignoreip.iter().filter_map(|entry| match entry {
            IgnoreIp::File(path) => Some(path.as_path()),
            IgnoreIp::Net { .. } | IgnoreIp::Host(_) => None,
        })
    }
}

/// One family's ignored networks, outermost only (networks either nest or are apart, so
/// these never overlap), sorted by their first address: (first, last, reason index).
type Ranges = Vec<(u128, u128, usize)>;

/// A jail's addresses and networks that are never banned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreList {
    v4: Ranges,
    v6: Ranges,
    reasons: Vec<IgnoreReason>,
    unresolved: Vec<String>,
}

impl IgnoreList {
    /// A list that ignores nothing.
    pub fn empty() -> IgnoreList {
        IgnoreList::default()
    }

    /// The list for a jail: its `ignoreip`, the names and files in it as `resolved` says,
    /// and with `ignoreself` the host's own addresses.
    pub fn for_jail(jail: &config::Jail, resolved: &Resolved) -> IgnoreList {
        let own: &[IpAddr] = if jail.ignoreself { &resolved.own } else { &[] };
        IgnoreList::build(&jail.ignoreip, &resolved.names, &resolved.files, own)
    }

    pub fn new(ignoreip: &[IgnoreIp], names: &BTreeMap<String, Vec<IpAddr>>, own: &[IpAddr]) -> IgnoreList {
        IgnoreList::build(ignoreip, names, &BTreeMap::new(), own)
    }

    fn build(
        ignoreip: &[IgnoreIp],
        names: &BTreeMap<String, Vec<IpAddr>>,
        files: &BTreeMap<PathBuf, Vec<Target>>,
        own: &[IpAddr],
    ) -> IgnoreList {
        let mut entries: Vec<(Target, IgnoreReason)> = Vec::new();
        let mut unresolved = Vec::new();
        for entry in ignoreip {
            match entry {
                IgnoreIp::Net { addr, prefix } => {
                    let reason = IgnoreReason::Listed(entry.to_string());
                    entries.push((Target::net(*addr, *prefix), reason));
                }
                IgnoreIp::Host(name) => match names.get(name) {
                    Some(addrs) if !addrs.is_empty() => {
                        for &addr in addrs {
                            let reason = IgnoreReason::HostName {
                                name: name.clone(),
                                addr: addr.to_canonical(),
                            };
                            entries.push((Target::addr(addr), reason));
                        }
                    }
                    _ => unresolved.push(name.clone()),
                },
                IgnoreIp::File(path) => {
                    for &target in files.get(path).into_iter().flatten() {
                        let reason = IgnoreReason::File {
                            path: path.clone(),
                            entry: target,
                        };
                        entries.push((target.canonical(), reason));
                    }
                }
            }
        }
        for &addr in own {
            let addr = addr.to_canonical();
            entries.push((Target::Addr(addr), IgnoreReason::OwnAddress(addr)));
        }
        // outer networks first at equal starts; the first written wins among equal ones
        entries.sort_by_key(|(t, _)| (t.is_ipv6(), t.range().0, t.prefix()));
        let mut list = IgnoreList {
            unresolved,
            ..IgnoreList::default()
        };
        for (target, reason) in entries {
            let (first, last) = target.range();
            let ranges = if target.is_ipv6() {
                &mut list.v6
            } else {
                &mut list.v4
            };
            if ranges.last().is_some_and(|&(_, end, _)| end >= last) {
                continue; // inside the previous one
            }
            ranges.push((first, last, list.reasons.len()));
            list.reasons.push(reason);
        }
        list
    }

    /// Why `target` is ignored, if it is. A network is ignored when it overlaps an ignored
    /// address or network at all, since banning it would ban that one too.
    pub fn check(&self, target: &Target) -> Option<&IgnoreReason> {
        let target = target.canonical();
        let ranges = if target.is_ipv6() { &self.v6 } else { &self.v4 };
        let (first, last) = target.range();
        // the last range starting at or before `last`: the only one that can overlap, since
        // the ranges are apart and sorted
        let i = ranges.partition_point(|&(start, _, _)| start <= last);
        let &(_, end, reason) = ranges.get(i.checked_sub(1)?)?;
        (end >= first).then(|| &self.reasons[reason])
    }

    /// How many networks and addresses it holds (nested ones not counted).
    pub fn len(&self) -> usize {
        self.reasons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty()
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
    fn list_files_ignore_what_they_list_and_nested_entries_keep_the_outer_reason() {
        let ignoreip = entries(&["file:/etc/banjo/partners.txt", "192.0.2.7"]);
        let files = BTreeMap::from([(
            PathBuf::from("/etc/banjo/partners.txt"),
            vec![
                target("192.0.2.0/24"),
                target("2001:db8:5::/48"),
                target("198.51.100.1"),
            ],
        )]);
        let list = IgnoreList::build(&ignoreip, &BTreeMap::new(), &files, &[]);
        assert_eq!(list.len(), 3, "192.0.2.7 lies in 192.0.2.0/24");
        let why = |t: &str| list.check(&target(t)).map(ToString::to_string);
        assert_eq!(
            why("192.0.2.7").as_deref(),
            Some("ignoreip file:/etc/banjo/partners.txt lists 192.0.2.0/24")
        );
        assert!(why("2001:db8:5:1::9").is_some());
        assert!(why("2001:db8::/32").is_some(), "a network holding a listed one");
        assert!(why("2001:db8:6::/48").is_none());
        assert!(why("198.51.100.0/31").is_some());
        assert!(why("198.51.100.2").is_none());
        assert!(why("192.0.3.0").is_none());
    }

    /// A check is a binary search over disjoint ranges: every address and network of a
    /// shuffled list is found, and the gaps between them are not.
    #[test]
    fn checks_agree_with_a_linear_scan_over_many_entries() {
        let nets: Vec<Target> = (0u32..2000)
            .map(|i| {
                let i = i.wrapping_mul(2_654_435_761) % 4096;
                Target::net(
                    IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 12))),
                    20 + (i % 5) as u8,
                )
            })
            .collect();
        let files = BTreeMap::from([(PathBuf::from("/l"), nets.clone())]);
        let list = IgnoreList::build(&entries(&["file:/l"]), &BTreeMap::new(), &files, &[]);
        for probe in (0u32..1 << 24).step_by(4099) {
            let probe = Target::addr(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + probe)));
            let linear = nets.iter().any(|n| n.overlaps(&probe));
            assert_eq!(list.check(&probe).is_some(), linear, "{probe}");
        }
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
