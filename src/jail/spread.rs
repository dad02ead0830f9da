//! Adaptive prefix bans: the bans a jail made lately, by the wider network each lies in, and
//! the rule that bans the wider network when the attacker shows several narrower ones in it.
//!
//! **The rule.** A ban of network (or IPv4 address) N lies in the next wider network W (an
//! IPv6 ban narrower than /64 in its /64; a /64 or wider one, and IPv4, 8 bits wider: /56,
//! /48, … and /24, /16; never wider than the family's widest prefix). When `after` distinct
//! bans inside W started within `within`, W is banned instead, and the narrower bans are
//! folded into it; W then counts towards the network wider than it, and so on up to the
//! widest. If W holds an address the jail never bans (ignoreip, this host), banjo bans the
//! widest network inside W that holds the narrower bans and none of those addresses, or, when
//! there is none, leaves the narrower bans as they are; the ban's note says which.
//!
//! Pure: every time is given, the ignore list is asked; memory is bounded by pruning what is
//! older than `within` and by the jail's `maxtracked`.

use std::collections::HashMap;

use jiff::Timestamp;

use super::IgnoreList;
use crate::addr::Target;
use crate::config::{Compact, Widen};
use crate::time::before;

/// The prefix a ban of `prefix` bits widens to next, if it may widen at all: an IPv6 ban
/// narrower than /64 widens to its /64, others by 8 bits, never past `widest`.
pub fn next_wider(prefix: u8, ipv6: bool, widest: u8) -> Option<u8> {
    if prefix <= widest {
        return None;
    }
    let next = if ipv6 && prefix > 64 {
        64
    } else {
        (prefix - 1) / 8 * 8
    };
    Some(next.max(widest))
}

/// What widening made of a ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widened {
    /// What to ban: the ban as decided, or a wider network.
    pub target: Target,
    /// The narrower bans it takes in (empty: not widened).
    pub folded: Vec<Target>,
    /// What happened, in words, when something did.
    pub note: Option<String>,
}

/// The bans of one jail within `within`, by the wider network they lie in.
#[derive(Debug, Clone, Default)]
pub(super) struct Spread {
    /// Wider network → the bans inside it and when each started.
    by_wider: HashMap<Target, Vec<(Target, Timestamp)>>,
}

impl Spread {
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_wider.len()
    }

    /// Remembers a ban that started at `since` (restored from the ledger), without widening.
    pub(super) fn remember(&mut self, target: Target, since: Timestamp, widen: &Widen) {
        if let Some(len) = next_wider(target.prefix(), target.is_ipv6(), widen.widest(target.is_ipv6())) {
            note_ban(self.by_wider.entry(target.widen(len)).or_default(), target, since);
        }
    }

    /// A ban the jail decided at `now`: remembered, and widened when the rule says so.
    /// `limit` bounds the wider networks remembered (the jail's `maxtracked`).
    pub(super) fn ban(
        &mut self,
        target: Target,
        now: Timestamp,
        widen: &Widen,
        ignore: &IgnoreList,
        limit: usize,
    ) -> Widened {
        let cutoff = before(now, widen.within);
        let widest = widen.widest(target.is_ipv6());
        let mut current = target;
        let mut folded: Vec<Target> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        while let Some(len) = next_wider(current.prefix(), current.is_ipv6(), widest) {
            let wider = current.widen(len);
            let list = self.by_wider.entry(wider).or_default();
            list.retain(|(_, at)| *at >= cutoff);
            note_ban(list, current, now);
            if list.len() < widen.after as usize {
                break;
            }
            let inside: Vec<Target> = list.iter().map(|(t, _)| *t).collect();
            let shown = format!("{} bans inside it within {}", inside.len(), Compact(widen.within));
            let Some(reason) = ignore.check(&wider) else {
                self.by_wider.remove(&wider);
                notes.push(format!("widened to {wider}: {shown}"));
                folded.extend(inside);
                current = wider;
                continue;
            };
            // the widest network inside `wider` that holds them all and nothing ignored
            let candidate = Target::common(&inside).and_then(|common| {
                (len + 1..=common.prefix())
                    .map(|l| common.widen(l))
                    .find(|c| ignore.check(c).is_none())
            });
            match candidate {
                Some(c) if c != current && c.covers(&current) => {
                    list.retain(|(t, _)| !c.covers(t));
                    notes.push(format!(
                        "not widened to {wider}, which holds an address banjo never bans \
                         ({reason}); banned {c} instead, the widest network in it holding \
                         the {shown} and none of those"
                    ));
                    folded.extend(inside.into_iter().filter(|t| c.covers(t)));
                    current = c;
                }
                _ => notes.push(format!(
                    "not widened to {wider} ({shown}): it holds an address banjo never bans \
                     ({reason}), and no narrower network holds those bans without it"
                )),
            }
            break;
        }
        folded.retain(|t| *t != current);
        folded.sort();
        folded.dedup();
        self.bound(cutoff, limit);
        Widened {
            target: current,
            folded,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }

    /// Forgets the bans inside `target`, or holding it (an admin's unban: that network is
    /// not counted against its wider one any more). O(remembered): an admin's command.
    pub(super) fn forget(&mut self, target: &Target) {
        self.by_wider.retain(|wider, list| {
            list.retain(|(t, _)| !target.covers(t) && !t.covers(target));
            !list.is_empty() && !target.covers(wider)
        });
    }

    /// Drops what is older than `cutoff` when more than `limit` wider networks are held, and
    /// then, if still too many, the ones whose newest ban is oldest.
    fn bound(&mut self, cutoff: Timestamp, limit: usize) {
        if self.by_wider.len() <= limit {
            return;
        }
        self.by_wider.retain(|_, list| {
            list.retain(|(_, at)| *at >= cutoff);
            !list.is_empty()
        });
        let excess = self.by_wider.len().saturating_sub(limit);
        if excess == 0 {
            return;
        }
        let mut newest: Vec<(Timestamp, Target)> = self
            .by_wider
            .iter()
            .map(|(w, list)| (list.iter().map(|(_, at)| *at).max().unwrap_or(cutoff), *w))
            .collect();
        newest.sort_unstable();
        for (_, wider) in newest.into_iter().take(excess) {
            self.by_wider.remove(&wider);
        }
    }
}

/// `target` banned at `at`: added, or its time moved.
fn note_ban(list: &mut Vec<(Target, Timestamp)>, target: Target, at: Timestamp) {
    match list.iter_mut().find(|(t, _)| *t == target) {
        Some(entry) => entry.1 = entry.1.max(at),
        None => list.push((target, at)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::config::IgnoreIp;

    fn t(text: &str) -> Target {
        text.parse().unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn widen(v6: u8, v4: u8) -> Widen {
        Widen {
            ipv6_widest: v6,
            ipv4_widest: v4,
            after: 3,
            within: Duration::from_secs(3600),
        }
    }

    fn ignoring(list: &[&str]) -> IgnoreList {
        let entries: Vec<IgnoreIp> = list.iter().map(|e| e.parse().unwrap()).collect();
        IgnoreList::new(&entries, &BTreeMap::new(), &[])
    }

    #[test]
    fn the_steps_are_the_64_then_8_bits_up_to_the_widest() {
        assert_eq!(next_wider(128, true, 48), Some(64));
        assert_eq!(next_wider(80, true, 48), Some(64));
        assert_eq!(next_wider(64, true, 48), Some(56));
        assert_eq!(next_wider(60, true, 48), Some(56));
        assert_eq!(next_wider(56, true, 48), Some(48));
        assert_eq!(next_wider(48, true, 48), None);
        assert_eq!(next_wider(56, true, 50), Some(50), "never past the widest");
        assert_eq!(next_wider(64, true, 64), None, "widest = prefix: never widen");
        assert_eq!(next_wider(32, false, 24), Some(24));
        assert_eq!(next_wider(24, false, 16), Some(16));
        assert_eq!(next_wider(32, false, 32), None, "IPv4 is off by default");
    }

    #[test]
    fn three_64s_of_one_56_within_the_window_ban_the_56() {
        let (mut s, w, none) = (Spread::default(), widen(48, 32), IgnoreList::empty());
        let ban = |s: &mut Spread, net: &str, secs| s.ban(t(net), at(secs), &w, &none, 100);
        assert_eq!(ban(&mut s, "2001:db8:0:1::/64", 0).target, t("2001:db8:0:1::/64"));
        assert_eq!(
            ban(&mut s, "2001:db8:0:2::/64", 10).target,
            t("2001:db8:0:2::/64")
        );
        assert_eq!(
            ban(&mut s, "2001:db8:0:2::/64", 20).folded,
            [],
            "the same /64 again is not a third one"
        );
        assert_eq!(
            ban(&mut s, "2001:db8:1::/64", 30).target,
            t("2001:db8:1::/64"),
            "another /56"
        );
        let third = ban(&mut s, "2001:db8:0:3::/64", 40);
        assert_eq!(third.target, t("2001:db8::/56"));
        assert_eq!(
            third.folded,
            [
                t("2001:db8:0:1::/64"),
                t("2001:db8:0:2::/64"),
                t("2001:db8:0:3::/64")
            ]
        );
        let note = third.note.unwrap();
        assert!(
            note.contains("widened to 2001:db8::/56: 3 bans inside it within 1h"),
            "{note}"
        );
    }

    #[test]
    fn bans_older_than_the_window_do_not_count() {
        let (mut s, w, none) = (Spread::default(), widen(48, 32), IgnoreList::empty());
        s.ban(t("2001:db8:0:1::/64"), at(0), &w, &none, 100);
        s.ban(t("2001:db8:0:2::/64"), at(10), &w, &none, 100);
        let late = s.ban(t("2001:db8:0:3::/64"), at(3601), &w, &none, 100);
        assert_eq!(
            late.target,
            t("2001:db8:0:3::/64"),
            "the first fell out of the hour"
        );
        let fourth = s.ban(t("2001:db8:0:4::/64"), at(3605), &w, &none, 100);
        assert_eq!(fourth.target, t("2001:db8::/56"));
    }

    #[test]
    fn widened_bans_count_towards_the_next_wider_network_up_to_the_widest() {
        let (mut s, w, none) = (Spread::default(), widen(48, 32), IgnoreList::empty());
        let mut last = None;
        for (n, fifty_six) in ["2001:db8:0::/56", "2001:db8:0:100::/56", "2001:db8:0:200::/56"]
            .iter()
            .enumerate()
        {
            for i in 0..3u16 {
                let net = t(fifty_six).widen(56);
                let Target::Net(std::net::IpAddr::V6(base), _) = net else {
                    panic!()
                };
                let mut seg = base.segments();
                seg[3] += i;
                let sixty_four = Target::net(std::net::Ipv6Addr::from(seg).into(), 64);
                last = Some(s.ban(sixty_four, at(n as i64 * 10 + i64::from(i)), &w, &none, 100));
            }
        }
        let last = last.unwrap();
        assert_eq!(last.target, t("2001:db8::/48"));
        assert!(
            last.folded.contains(&t("2001:db8:0:200::/56")),
            "{:?}",
            last.folded
        );
        let again = s.ban(t("2001:db8:1:1::/64"), at(100), &w, &none, 100);
        assert_eq!(again.target, t("2001:db8:1:1::/64"), "never wider than /48");
    }

    #[test]
    fn ipv4_widens_only_when_enabled() {
        let none = IgnoreList::empty();
        let mut off = Spread::default();
        let mut on = Spread::default();
        for (i, addr) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            let a = off.ban(t(addr), at(i as i64), &widen(48, 32), &none, 100);
            assert_eq!(a.target, t(addr));
            let b = on.ban(t(addr), at(i as i64), &widen(48, 24), &none, 100);
            if i == 2 {
                assert_eq!(b.target, t("192.0.2.0/24"));
            }
        }
    }

    #[test]
    fn an_ignored_address_in_the_wider_network_narrows_it_or_stops_it() {
        let w = widen(48, 32);
        // ignored in the upper half of the /56; the three /64s are in the lower half
        let ignore = ignoring(&["2001:db8:0:80::5"]);
        let mut s = Spread::default();
        for (i, net) in ["2001:db8:0:1::/64", "2001:db8:0:2::/64", "2001:db8:0:3::/64"]
            .iter()
            .enumerate()
        {
            let got = s.ban(t(net), at(i as i64), &w, &ignore, 100);
            if i == 2 {
                assert_eq!(got.target, t("2001:db8::/57"), "{got:?}");
                let note = got.note.unwrap();
                assert!(note.contains("not widened to 2001:db8::/56"), "{note}");
                assert!(note.contains("ignoreip lists 2001:db8:0:80::5"), "{note}");
                assert_eq!(got.folded.len(), 3);
            }
        }
        // ignored between them: no narrower network holds all three without it
        let ignore = ignoring(&["2001:db8:0:2::9"]);
        let mut s = Spread::default();
        for (i, net) in ["2001:db8:0:1::/64", "2001:db8:0:3::/64", "2001:db8:0:4::/64"]
            .iter()
            .enumerate()
        {
            let got = s.ban(t(net), at(i as i64), &w, &ignore, 100);
            assert_eq!(got.target, t(net), "{got:?}");
            if i == 2 {
                let note = got.note.unwrap();
                assert!(
                    note.contains("no narrower network holds those bans without it"),
                    "{note}"
                );
            }
        }
    }

    #[test]
    fn forgetting_an_unbanned_network_stops_it_counting() {
        let (mut s, w, none) = (Spread::default(), widen(48, 32), IgnoreList::empty());
        s.ban(t("2001:db8:0:1::/64"), at(0), &w, &none, 100);
        s.ban(t("2001:db8:0:2::/64"), at(1), &w, &none, 100);
        s.forget(&t("2001:db8:0:1::/64"));
        let third = s.ban(t("2001:db8:0:3::/64"), at(2), &w, &none, 100);
        assert_eq!(third.target, t("2001:db8:0:3::/64"));
    }

    #[test]
    fn memory_is_bounded_by_the_limit() {
        let (mut s, w, none) = (Spread::default(), widen(48, 32), IgnoreList::empty());
        for i in 0..1000u32 {
            let net = Target::net(
                std::net::Ipv6Addr::new(0x2001, 0xdb8, i as u16, 0, 0, 0, 0, 0).into(),
                64,
            );
            s.ban(net, at(i64::from(i)), &w, &none, 100);
        }
        assert!(s.len() <= 100, "{}", s.len());
    }
}
