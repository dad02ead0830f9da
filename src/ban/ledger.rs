//! The in-memory ledger: active bans per jail, the ordered set of their expiries (so the next
//! expiry and each expiry cost O(log n), with no timer per ban), the ban history per
//! (jail, target) that escalation counts, and an index of each jail's network bans.
//!
//! **Networks never nest in a jail.** A ban of a network takes in (folds) the bans of its
//! jail inside it, and ends no earlier than any of them; a ban inside a network its jail has
//! banned already is not recorded: the wider ban stands, made longer if the new one would
//! end later. So the kernel's interval sets, which refuse overlapping elements, can hold
//! every ban, and an address is banned when it lies in any ban of the jail.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use jiff::Timestamp;

use super::nets::NetIndex;
use super::{Ban, Change};
use crate::addr::Target;
use crate::jail::{BanHistory, BanOrder};
use crate::name::JailName;
use crate::time::after;

/// How long the history of an address is kept after its last ban ended, when the daemon does
/// not say otherwise: a week, so an address that comes back within a week of its last ban gets
/// a longer one. (fail2ban's `dbpurgeage` defaults to a day, too short for `bantime.increment`
/// with bans of a day or more.)
pub const DEFAULT_HISTORY_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the ledger remembers of past bans of one target in one jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanRecord {
    /// Bans so far, the active one included.
    pub count: u32,
    /// When the last ban started.
    pub last: Timestamp,
    /// When the last ban ends (or ended); `None`: it was permanent.
    pub last_until: Option<Timestamp>,
}

impl BanRecord {
    /// From when the record ages: the end of the last ban, or its start when it was permanent
    /// (a permanent ban still active is never pruned; one lifted by hand ages from its start).
    fn ages_from(&self) -> Timestamp {
        self.last_until.map_or(self.last, |u| u.max(self.last))
    }
}

/// What [`Ledger::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// A new ban; false: the target was banned in that jail already.
    pub new: bool,
    /// The ban's end moved (always true for a new ban): the firewall's timeout needs setting.
    pub changed: bool,
    /// The ban's end now; `None`: permanent.
    pub until: Option<Timestamp>,
}

/// What [`Ledger::ban`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Banned {
    /// The ban that now holds the order's target: the new one, or the wider one it lies in
    /// (made longer if need be). `None` for an order that changed nothing.
    pub holder: Option<Target>,
    /// What the kernel must do: the holder's addition (when it is new or longer), and the
    /// removals of the bans lifted.
    pub changes: Vec<Change>,
    /// The bans lifted, and why.
    pub lifted: Vec<(Ban, Lifted)>,
}

/// Why [`Ledger::ban`] lifted a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifted {
    /// It lies inside the new ban, which takes it in.
    Folded(Target),
    /// It held the new one, but its time was over (not yet expired).
    Ended,
}

/// One jail's bans, found by target: a hash table of the bans themselves. A
/// `HashMap<Target, Ban>` held each target twice (key and ban), and each of its slots, a
/// third of them spare, paid for both.
#[derive(Debug, Clone, Default)]
struct JailBans {
    table: HashTable<Ban>,
    hasher: RandomState,
}

impl JailBans {
    fn get(&self, target: &Target) -> Option<&Ban> {
        (self.table).find(self.hasher.hash_one(target), |b| b.target == *target)
    }

    fn get_mut(&mut self, target: &Target) -> Option<&mut Ban> {
        let hash = self.hasher.hash_one(target);
        self.table.find_mut(hash, |b| b.target == *target)
    }

    fn contains(&self, target: &Target) -> bool {
        self.get(target).is_some()
    }

    /// Puts `ban` in; the ban it replaced, if its target had one.
    fn insert(&mut self, ban: Ban) -> Option<Ban> {
        let JailBans { table, hasher } = self;
        let hash = hasher.hash_one(ban.target);
        match table.entry(hash, |b| b.target == ban.target, |b| hasher.hash_one(b.target)) {
            Entry::Occupied(mut held) => Some(std::mem::replace(held.get_mut(), ban)),
            Entry::Vacant(room) => {
                room.insert(ban);
                None
            }
        }
    }

    fn remove(&mut self, target: &Target) -> Option<Ban> {
        let hash = self.hasher.hash_one(target);
        let held = self.table.find_entry(hash, |b| b.target == *target).ok()?;
        Some(held.remove().0)
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn values(&self) -> impl Iterator<Item = &Ban> + '_ {
        self.table.iter()
    }
}

/// Active bans, their expiries and the ban history. See the module documentation.
#[derive(Debug, Clone)]
pub struct Ledger {
    bans: BTreeMap<JailName, JailBans>,
    /// Per jail, its network bans by address.
    nets: HashMap<JailName, NetIndex>,
    /// (until, jail, target) of every ban that ends; the jail by its number in `names` (4
    /// bytes where the name took 16: 1.6 MB of 100k bans, and no string compares).
    expiries: BTreeSet<(Timestamp, u32, Target)>,
    /// Per target, per jail: its past bans.
    history: HashMap<Target, Vec<(JailName, BanRecord)>>,
    /// Every jail name seen, shared by the maps above, numbered by their place (a handful of
    /// names, never pruned).
    names: Vec<JailName>,
    history_age: Duration,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::new(DEFAULT_HISTORY_AGE)
    }
}

impl Ledger {
    /// An empty ledger whose history of a target is dropped `history_age` after its last ban
    /// ended (see [`Ledger::prune_history`]).
    pub fn new(history_age: Duration) -> Ledger {
        Ledger {
            bans: BTreeMap::new(),
            nets: HashMap::new(),
            expiries: BTreeSet::new(),
            history: HashMap::new(),
            names: Vec::new(),
            history_age,
        }
    }

    pub fn history_age(&self) -> Duration {
        self.history_age
    }

    pub fn set_history_age(&mut self, age: Duration) {
        self.history_age = age;
    }

    /// The shared copy of a jail name.
    fn intern(&mut self, jail: &str) -> JailName {
        let id = self.jail_id(jail);
        self.names[id as usize].clone()
    }

    /// The number of a jail name, given when it is new (see `expiries`).
    fn jail_id(&mut self, jail: &str) -> u32 {
        match self.names.iter().position(|n| &**n == jail) {
            Some(i) => i as u32,
            None => {
                self.names.push(JailName::new(jail));
                (self.names.len() - 1) as u32
            }
        }
    }

    /// Records a ban. A target already banned in that jail keeps its start and count, and its
    /// end becomes the later of the two (permanent beats any time); its failures and lines
    /// become the new order's. Only a new ban counts in the history.
    pub fn add(&mut self, order: BanOrder) -> Added {
        let target = order.target.canonical();
        if let Some(ban) = self
            .bans
            .get_mut(order.jail.as_str())
            .and_then(|m| m.get_mut(&target))
        {
            let until = later(ban.until, order.until);
            let changed = until != ban.until;
            ban.failures = order.failures;
            ban.set_lines(order.lines);
            if !order.seen.is_empty() {
                ban.set_seen(order.seen);
            }
            if order.note.is_some() {
                ban.set_note(order.note);
            }
            if changed {
                self.set_until(&order.jail, &target, until);
            }
            return Added {
                new: false,
                changed,
                until,
            };
        }
        let mut ban = Ban::new(
            self.intern(&order.jail),
            target,
            order.since,
            order.until,
            order.count,
            order.failures,
        );
        ban.set_lines(order.lines);
        ban.set_seen(order.seen);
        ban.set_note(order.note);
        self.count_in_history(&ban);
        let until = ban.until;
        self.insert(ban);
        Added {
            new: true,
            changed: true,
            until,
        }
    }

    /// Moves the end of a ban known to exist, with its expiry and history.
    fn set_until(&mut self, jail: &str, target: &Target, until: Option<Timestamp>) {
        let id = self.jail_id(jail);
        let jail = self.names[id as usize].clone();
        let Some(ban) = self.ban_mut(&jail, target) else {
            return;
        };
        let old = std::mem::replace(&mut ban.until, until);
        if let Some(old) = old {
            self.expiries.remove(&(old, id, *target));
        }
        if let Some(until) = until {
            self.expiries.insert((until, id, *target));
        }
        if let Some(record) = self.record_mut(&jail, target) {
            record.last_until = until;
        }
    }

    /// Puts a ban in without touching the history (loading, or a ban known to be new).
    pub(super) fn insert(&mut self, ban: Ban) {
        let id = self.jail_id(&ban.jail);
        let jail = self.names[id as usize].clone();
        let mut ban = ban;
        ban.jail = jail.clone();
        let (target, until) = (ban.target, ban.until);
        self.nets.entry(jail.clone()).or_default().insert(&target);
        let bans = self.bans.entry(jail).or_default();
        if let Some(old) = bans.insert(ban)
            && let Some(old_until) = old.until
        {
            self.expiries.remove(&(old_until, id, target));
        }
        if let Some(until) = until {
            self.expiries.insert((until, id, target));
        }
    }

    fn count_in_history(&mut self, ban: &Ban) {
        let record = BanRecord {
            count: 1,
            last: ban.since,
            last_until: ban.until,
        };
        let jail = self.intern(&ban.jail);
        let entries = self.history.entry(ban.target).or_default();
        match entries.iter_mut().find(|(j, _)| *j == jail) {
            Some((_, r)) => {
                *r = BanRecord {
                    count: r.count.saturating_add(1),
                    ..record
                }
            }
            None => push_one(entries, (jail, record)),
        }
    }

    fn record_mut(&mut self, jail: &str, target: &Target) -> Option<&mut BanRecord> {
        let entries = self.history.get_mut(target)?;
        entries.iter_mut().find(|(j, _)| &**j == jail).map(|(_, r)| r)
    }

    /// Lifts a ban (an admin's unban). Its history stays.
    pub fn remove(&mut self, jail: &str, target: &Target) -> Option<Ban> {
        let target = target.canonical();
        let bans = self.bans.get_mut(jail)?;
        let ban = bans.remove(&target)?;
        if bans.is_empty() {
            self.bans.remove(jail);
        }
        self.unindex(jail, &target);
        if let Some(until) = ban.until {
            let id = self.jail_id(jail);
            self.expiries.remove(&(until, id, ban.target));
        }
        Some(ban)
    }

    /// Lifts every ban of a jail (a jail removed from the config). Its history stays.
    pub fn remove_jail(&mut self, jail: &str) -> Vec<Ban> {
        self.nets.remove(jail);
        let Some(bans) = self.bans.remove(jail) else {
            return Vec::new();
        };
        let bans: Vec<Ban> = bans.table.into_iter().collect();
        let id = self.jail_id(jail);
        for ban in &bans {
            if let Some(until) = ban.until {
                self.expiries.remove(&(until, id, ban.target));
            }
        }
        bans
    }

    /// Records a ban decided by a jail (or an admin), networks kept apart (see the module
    /// documentation): what the kernel must do and which bans were lifted for it. A ban inside
    /// a wider one of its jail changes nothing unless it ends later: then the wider one is
    /// made longer. A network takes in the network bans of its jail inside it and the bans of
    /// the addresses it names in `seen`, and ends no earlier than any of them.
    pub fn ban(&mut self, mut order: BanOrder, now: Timestamp) -> Banned {
        let jail = self.intern(&order.jail);
        let target = order.target.canonical();
        order.target = target;
        let mut out = Banned::default();
        let wider = self.nets.get(&jail).and_then(|n| n.holding(&target).next());
        if let Some(wider) = wider
            && let Some(held) = self.get(&jail, &wider)
        {
            if held.until.is_some_and(|u| u <= now) {
                if let Some(ended) = self.remove(&jail, &wider) {
                    out.changes.push(Change::remove(&ended));
                    out.lifted.push((ended, Lifted::Ended));
                }
            } else {
                let until = later(held.until, order.until);
                out.holder = Some(wider);
                if until != held.until {
                    self.set_until(&jail, &wider, until);
                    out.changes
                        .extend(self.get(&jail, &wider).and_then(|b| Change::add(b, now)));
                }
                return out;
            }
        }
        if target.is_net() {
            let mut inside = self
                .nets
                .get(&jail)
                .map(|n| n.inside(&target))
                .unwrap_or_default();
            inside.extend(order.seen.iter().filter(|t| !t.is_net() && target.covers(t)));
            for t in inside {
                if let Some(folded) = self.remove(&jail, &t) {
                    order.until = later(order.until, folded.until);
                    out.changes.push(Change::remove(&folded));
                    out.lifted.push((folded, Lifted::Folded(target)));
                }
            }
        }
        out.holder = Some(target);
        if self.add(order).changed
            && let Some(add) = self.get(&jail, &target).and_then(|b| Change::add(b, now))
        {
            out.changes.insert(0, add);
        }
        out
    }

    /// The ban of `jail` that holds `target`: its own, else the widest banned network it lies
    /// in (ended or not).
    pub fn holding(&self, jail: &str, target: &Target) -> Option<&Ban> {
        let target = target.canonical();
        self.get(jail, &target).or_else(|| {
            let wider = self.nets.get(jail)?.holding(&target).next()?;
            self.get(jail, &wider)
        })
    }

    fn unindex(&mut self, jail: &str, target: &Target) {
        if let Some(index) = self.nets.get_mut(jail) {
            index.remove(target);
            if index.is_empty() {
                self.nets.remove(jail);
            }
        }
    }

    /// Takes back a ban the kernel holds but the ledger does not know (banjo was stopped
    /// between a ban and the next save), with the time it has left there (`None`: permanent).
    /// It counts in the history like any ban; how many bans came before it is not known.
    /// False when the ledger knows it already.
    pub fn adopt(&mut self, jail: &JailName, target: Target, left: Option<Duration>, now: Timestamp) -> bool {
        if self.get(jail, &target).is_some() {
            return false;
        }
        self.add(BanOrder {
            jail: jail.clone(),
            target,
            since: now,
            until: left.map(|l| after(now, l)),
            bantime: left,
            failures: 0,
            lines: Vec::new(),
            count: 0,
            seen: Vec::new(),
            note: None,
        });
        true
    }

    /// Ends the bans whose time is over at `now`: the removals for the kernel (which has
    /// usually timed them out already), earliest first.
    pub fn lift_expired(&mut self, now: Timestamp) -> Vec<Change> {
        self.expire(now).iter().map(Change::remove).collect()
    }

    /// An admin's unban of `target` in `jail`: lifts its own ban, every banned network it
    /// lies in, and (for a network) every ban inside it; the removals for the kernel. The
    /// kernel cannot leave a hole in a network it drops, so the network goes as a whole: the
    /// admin who lets one address in lets its network in (and sees it in the record).
    pub fn unban(&mut self, jail: &str, target: &Target) -> Vec<Change> {
        let target = target.canonical();
        let mut lift: Vec<Target> = vec![target];
        if let Some(index) = self.nets.get(jail) {
            lift.extend(index.holding(&target));
            if target.is_net() {
                lift.extend(index.inside(&target));
            }
        }
        if target.is_net() {
            let addrs = self
                .active(jail)
                .map(|b| b.target)
                .filter(|t| !t.is_net() && target.covers(t));
            lift.extend(addrs.collect::<Vec<_>>());
        }
        lift.iter()
            .filter_map(|t| self.remove(jail, t))
            .map(|b| Change::remove(&b))
            .collect()
    }

    /// Lifts every ban of a jail (a jail removed from the config): the removals.
    pub fn unban_jail(&mut self, jail: &str) -> Vec<Change> {
        self.remove_jail(jail).iter().map(Change::remove).collect()
    }

    /// Records that the kernel refused the ban of `target` in `jail`, and why. The ban stays:
    /// it is still what the admin's policy wants, and [`Ledger::refused`] lists it to be tried
    /// again. False when there is no such ban.
    pub fn mark_refused(&mut self, jail: &str, target: &Target, why: String) -> bool {
        match self.ban_mut(jail, target) {
            Some(ban) => {
                ban.set_refused(Some(why));
                true
            }
            None => false,
        }
    }

    /// Records that the kernel took the ban of `target` in `jail` (a refusal is forgotten).
    pub fn mark_applied(&mut self, jail: &str, target: &Target) {
        if let Some(ban) = self.ban_mut(jail, target) {
            ban.set_refused(None);
        }
    }

    /// The bans the kernel refused the last time, jail by jail.
    pub fn refused(&self) -> impl Iterator<Item = &Ban> + '_ {
        self.all().filter(|b| b.refused().is_some())
    }

    fn ban_mut(&mut self, jail: &str, target: &Target) -> Option<&mut Ban> {
        self.bans.get_mut(jail)?.get_mut(&target.canonical())
    }

    pub fn get(&self, jail: &str, target: &Target) -> Option<&Ban> {
        self.bans.get(jail)?.get(&target.canonical())
    }

    /// The bans of one jail, in no particular order.
    pub fn active<'a>(&'a self, jail: &str) -> impl Iterator<Item = &'a Ban> + 'a {
        self.bans.get(jail).into_iter().flat_map(|m| m.values())
    }

    /// Every ban, jail by jail.
    pub fn all(&self) -> impl Iterator<Item = &Ban> + '_ {
        self.bans.values().flat_map(|m| m.values())
    }

    /// How many bans a jail has.
    pub fn count(&self, jail: &str) -> usize {
        self.bans.get(jail).map_or(0, JailBans::len)
    }

    /// (jail, bans) for every jail with at least one ban, by name.
    pub fn counts(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.bans.iter().map(|(jail, m)| (&**jail, m.len()))
    }

    pub fn len(&self) -> usize {
        self.bans.values().map(JailBans::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }

    /// When the next ban ends: the daemon's next wake-up for [`Ledger::expire`].
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiries.first().map(|(until, _, _)| *until)
    }

    /// Builds the expiry index again with full nodes: one by one, in order (a state file's
    /// bans sorted by address, most ending together), insertions leave each B-tree node
    /// about half full. Built from a sorted list,
    /// every node is full. For after a load.
    pub(super) fn pack_expiries(&mut self) {
        self.expiries = std::mem::take(&mut self.expiries).into_iter().collect();
    }

    /// Removes and returns the bans that end at or before `now`, earliest first.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Ban> {
        let mut ended = Vec::new();
        while self.expiries.first().is_some_and(|(until, _, _)| *until <= now) {
            let Some((_, id, target)) = self.expiries.pop_first() else {
                break;
            };
            let jail = self.names[id as usize].clone();
            let Some(bans) = self.bans.get_mut(&jail) else {
                continue;
            };
            if let Some(ban) = bans.remove(&target) {
                ended.push(ban);
            }
            if bans.is_empty() {
                self.bans.remove(&jail);
            }
            self.unindex(&jail, &target);
        }
        ended
    }

    /// Every ban still running at `now` as the kernel should hold it, with the time it has
    /// left (at most [`LONGEST_BAN`](crate::time::LONGEST_BAN), the most the kernel can time):
    /// what a reconcile makes the firewall's sets hold. Bans that have ended but not been
    /// expired yet are left out.
    pub fn as_changes(&self, now: Timestamp) -> impl Iterator<Item = Change> + '_ {
        self.all().filter_map(move |ban| Change::add(ban, now))
    }

    /// The history of `target` in `jail`.
    pub fn record(&self, jail: &str, target: &Target) -> Option<&BanRecord> {
        let entries = self.history.get(&target.canonical())?;
        entries.iter().find(|(j, _)| &**j == jail).map(|(_, r)| r)
    }

    /// Every (jail, target, record) of the history, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = (&str, Target, &BanRecord)> + '_ {
        self.history
            .iter()
            .flat_map(|(t, entries)| entries.iter().map(move |(j, r)| (&**j, *t, r)))
    }

    /// Puts a history record in as is (loading).
    pub(super) fn insert_record(&mut self, jail: &str, target: Target, record: BanRecord) {
        let jail = self.intern(jail);
        let entries = self.history.entry(target).or_default();
        match entries.iter_mut().find(|(j, _)| *j == jail) {
            Some((_, r)) => *r = record,
            None => push_one(entries, (jail, record)),
        }
    }

    /// Forgets the past bans of targets whose last ban ended `history_age` or more before
    /// `now`, unless they are banned in that jail now. O(history); the daemon calls it now and
    /// then (on save), and [`Ledger::load`] calls it. Returns how many records went.
    pub fn prune_history(&mut self, now: Timestamp) -> usize {
        let (bans, age) = (&self.bans, self.history_age);
        let mut pruned = 0;
        self.history.retain(|target, entries| {
            entries.retain(|(jail, record)| {
                let keep = after(record.ages_from(), age) > now
                    || bans.get(jail).is_some_and(|m| m.contains(target));
                pruned += usize::from(!keep);
                keep
            });
            !entries.is_empty()
        });
        pruned
    }
}

impl BanHistory for Ledger {
    fn ban_count(&self, target: &Target, jail: Option<&str>) -> u32 {
        let Some(entries) = self.history.get(&target.canonical()) else {
            return 0;
        };
        entries
            .iter()
            .filter(|(j, _)| jail.is_none_or(|jail| &**j == jail))
            .fold(0u32, |sum, (_, r)| sum.saturating_add(r.count))
    }

    fn is_banned(&self, jail: &str, target: &Target, now: Timestamp) -> bool {
        let running = |ban: &Ban| ban.until.is_none_or(|until| until > now);
        let target = target.canonical();
        if self.get(jail, &target).is_some_and(running) {
            return true;
        }
        let Some(index) = self.nets.get(jail) else {
            return false;
        };
        index
            .holding(&target)
            .any(|net| self.get(jail, &net).is_some_and(running))
    }
}

/// Pushes onto a target's short list of jails without the spare room `Vec::push` leaves (room
/// for 4 on the first push): nearly every target is banned in one jail, and with 100k
/// targets that room was 19 MB (3 × 64 bytes each).
fn push_one<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
}

/// The later of two ends, `None` (permanent) being the latest.
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    Some(a?.max(b?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jails_bans_are_found_replaced_and_removed_by_target() {
        let mut bans = JailBans::default();
        let ban = |addr: &str, failures| {
            let mut b = Ban::new("sshd".into(), target(addr), at(0), None, 0, 1);
            b.failures = failures;
            b
        };
        for i in 0..100 {
            assert!(bans.insert(ban(&format!("192.0.2.{i}"), 1)).is_none());
        }
        let old = bans.insert(ban("192.0.2.7", 9)).expect("replaced");
        assert_eq!((old.failures, bans.len()), (1, 100));
        assert_eq!(bans.get(&target("192.0.2.7")).map(|b| b.failures), Some(9));
        bans.get_mut(&target("192.0.2.8")).unwrap().failures = 8;
        assert_eq!(bans.remove(&target("192.0.2.8")).map(|b| b.failures), Some(8));
        assert!(!bans.contains(&target("192.0.2.8")) && bans.remove(&target("192.0.2.8")).is_none());
        assert_eq!(bans.values().count(), 99);
    }

    #[test]
    fn packed_expiries_end_the_same_bans_in_the_same_order() {
        let mut ledger = Ledger::default();
        for i in 0..1000 {
            let until = 600 + i64::from(i % 7);
            ledger.add(order(
                "sshd",
                &format!("10.0.{}.{}", i / 256, i % 256),
                0,
                Some(until),
            ));
        }
        let mut packed = ledger.clone();
        packed.pack_expiries();
        assert_eq!(packed.next_expiry(), ledger.next_expiry());
        assert_eq!(packed.expire(at(603)), ledger.expire(at(603)));
        assert_eq!(packed.expire(at(700)), ledger.expire(at(700)));
        assert!(packed.is_empty());
    }

    #[test]
    fn history_of_a_target_banned_in_one_jail_keeps_no_spare_room() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, Some(600)));
        ledger.insert_record(
            "sshd",
            target("192.0.2.2"),
            BanRecord {
                count: 2,
                last: at(0),
                last_until: None,
            },
        );
        for t in ["192.0.2.1", "192.0.2.2"] {
            assert_eq!(ledger.history[&target(t)].capacity(), 1, "{t}");
        }
        ledger.add(order("dovecot", "192.0.2.1", 0, Some(600)));
        assert_eq!(ledger.ban_count(&target("192.0.2.1"), None), 2);
    }

    pub(crate) fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn target(text: &str) -> Target {
        text.parse().unwrap()
    }

    fn order(jail: &str, addr: &str, since: i64, until: Option<i64>) -> BanOrder {
        BanOrder {
            jail: jail.into(),
            target: target(addr),
            since: at(since),
            until: until.map(at),
            bantime: until.map(|u| Duration::from_secs((u - since) as u64)),
            failures: 3,
            lines: vec![format!("auth failed from {addr}")],
            count: 0,
            seen: vec![],
            note: None,
        }
    }

    #[test]
    fn one_target_in_two_jails_ends_in_each_by_its_own_expiry() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, Some(100)));
        ledger.add(order("dovecot", "192.0.2.1", 0, Some(100)));
        ledger.add(order("postfix", "192.0.2.1", 0, Some(200)));
        assert_eq!(ledger.unban_jail("dovecot").len(), 1);
        let ended = ledger.expire(at(100));
        let ended: Vec<(&str, String)> = ended.iter().map(|b| (&*b.jail, b.target.to_string())).collect();
        assert_eq!(
            ended,
            [("sshd", "192.0.2.1".to_string())],
            "dovecot's expiry went with its jail"
        );
        assert_eq!(ledger.next_expiry(), Some(at(200)));
        assert_eq!(ledger.expire(at(200))[0].jail.as_str(), "postfix");
        assert!(ledger.is_empty());
    }

    #[test]
    fn ledger_expires_in_order() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.3", 0, Some(300)));
        ledger.add(order("sshd", "192.0.2.1", 0, Some(100)));
        ledger.add(order("dovecot", "192.0.2.2", 0, Some(200)));
        ledger.add(order("dovecot", "192.0.2.9", 0, None));
        assert_eq!(ledger.len(), 4);
        assert_eq!(ledger.next_expiry(), Some(at(100)));
        assert!(ledger.expire(at(99)).is_empty());

        let ended = ledger.expire(at(250));
        let ended: Vec<String> = ended.iter().map(|b| b.target.to_string()).collect();
        assert_eq!(ended, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(ledger.next_expiry(), Some(at(300)));
        assert_eq!(ledger.count("sshd"), 1);
        assert_eq!(ledger.count("dovecot"), 1);

        assert_eq!(ledger.expire(at(300)).len(), 1);
        assert_eq!(ledger.next_expiry(), None, "only the permanent ban is left");
        assert_eq!(ledger.counts().collect::<Vec<_>>(), [("dovecot", 1)]);
    }

    #[test]
    fn reban_extends() {
        let mut ledger = Ledger::default();
        let first = ledger.add(order("sshd", "192.0.2.1", 0, Some(600)));
        assert_eq!(
            first,
            Added {
                new: true,
                changed: true,
                until: Some(at(600))
            }
        );

        let shorter = ledger.add(order("sshd", "192.0.2.1", 100, Some(400)));
        assert_eq!(
            shorter,
            Added {
                new: false,
                changed: false,
                until: Some(at(600))
            }
        );

        let longer = ledger.add(order("sshd", "192.0.2.1", 500, Some(1500)));
        assert_eq!(
            longer,
            Added {
                new: false,
                changed: true,
                until: Some(at(1500))
            }
        );
        assert_eq!(ledger.next_expiry(), Some(at(1500)), "the old expiry is gone");
        let ban = ledger.get("sshd", &target("192.0.2.1")).unwrap();
        assert_eq!(ban.since, at(0), "a re-ban keeps the start");
        assert_eq!(
            ledger.ban_count(&target("192.0.2.1"), Some("sshd")),
            1,
            "one ban, not three"
        );
        assert_eq!(
            ledger.record("sshd", &target("192.0.2.1")).unwrap().last_until,
            Some(at(1500))
        );

        let forever = ledger.add(order("sshd", "192.0.2.1", 600, None));
        assert_eq!(
            forever,
            Added {
                new: false,
                changed: true,
                until: None
            }
        );
        assert_eq!(ledger.next_expiry(), None);
        assert!(ledger.expire(at(1_000_000)).is_empty());
    }

    #[test]
    fn permanent_ban_never_expires() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, None));
        assert_eq!(ledger.next_expiry(), None);
        assert!(ledger.expire(Timestamp::MAX).is_empty());
        assert!(ledger.is_banned("sshd", &target("192.0.2.1"), Timestamp::MAX));
        let remaining: Vec<_> = ledger.as_changes(at(10)).collect();
        assert!(matches!(remaining[0], Change::Add { timeout: None, .. }));
        assert_eq!(
            ledger.prune_history(Timestamp::MAX),
            0,
            "an active ban keeps its history"
        );
        assert!(ledger.remove("sshd", &target("192.0.2.1")).is_some());
        assert!(ledger.is_empty());
    }

    #[test]
    fn remaining_gives_time_left_and_skips_ended_bans() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, Some(600)));
        ledger.add(order("sshd", "10.0.0.0/8", 0, Some(50)));
        let left: Vec<_> = ledger.as_changes(at(100)).collect();
        assert_eq!(
            left,
            [Change::Add {
                jail: "sshd".into(),
                target: target("192.0.2.1"),
                timeout: Some(Duration::from_secs(500)),
            }]
        );
    }

    /// A state file from before banjo knew the kernel's limit may hold a ban of 1000 years:
    /// the kernel gets the longest timeout it takes, and the ban keeps its end.
    #[test]
    fn as_changes_never_exceeds_what_the_kernel_can_time() {
        let mut ledger = Ledger::default();
        let thousand_years = 1000 * 365 * 24 * 3600;
        ledger.add(order("sshd", "192.0.2.1", 0, Some(thousand_years)));
        let left: Vec<_> = ledger.as_changes(at(0)).collect();
        assert!(matches!(left[0], Change::Add { timeout: Some(t), .. } if t == crate::time::LONGEST_BAN));
        assert_eq!(
            ledger.get("sshd", &target("192.0.2.1")).unwrap().until,
            Some(at(thousand_years))
        );
    }

    #[test]
    fn a_refused_ban_stays_marked_until_the_kernel_takes_it() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, Some(600)));
        ledger.add(order("sshd", "192.0.2.2", 0, Some(600)));
        assert!(ledger.mark_refused("sshd", &target("192.0.2.1"), "the set is full".into()));
        assert!(!ledger.mark_refused("sshd", &target("192.0.2.9"), "no such ban".into()));
        let refused: Vec<_> = ledger.refused().map(|b| b.target.to_string()).collect();
        assert_eq!(refused, ["192.0.2.1"]);
        assert_eq!(ledger.len(), 2, "a refused ban is still a ban");
        let remaining: Vec<_> = ledger.as_changes(at(0)).map(|c| c.target()).collect();
        assert!(
            remaining.contains(&target("192.0.2.1")),
            "and still wanted in the kernel"
        );
        let ban = ledger.get("sshd", &target("192.0.2.1")).unwrap();
        assert_eq!(ban.refused(), Some("the set is full"));
        ledger.mark_applied("sshd", &target("192.0.2.1"));
        assert_eq!(ledger.refused().count(), 0);
    }

    #[test]
    fn history_counts_per_jail_and_overall_and_is_pruned() {
        let mut ledger = Ledger::new(Duration::from_secs(1000));
        let t = target("192.0.2.1");
        ledger.add(order("sshd", "192.0.2.1", 0, Some(100)));
        ledger.expire(at(100));
        ledger.add(order("sshd", "192.0.2.1", 200, Some(300)));
        ledger.add(order("dovecot", "192.0.2.1", 200, Some(500)));
        assert_eq!(ledger.ban_count(&t, Some("sshd")), 2);
        assert_eq!(ledger.ban_count(&t, Some("dovecot")), 1);
        assert_eq!(ledger.ban_count(&t, None), 3);
        assert_eq!(ledger.ban_count(&target("192.0.2.2"), None), 0);

        ledger.expire(at(500));
        assert_eq!(ledger.prune_history(at(1299)), 0);
        assert_eq!(ledger.prune_history(at(1300)), 1, "sshd's ended at 300");
        assert_eq!(ledger.ban_count(&t, None), 1);
        assert_eq!(ledger.prune_history(at(1500)), 1);
        assert_eq!(ledger.records().count(), 0);
    }

    #[test]
    fn the_ledger_answers_with_the_changes_for_the_kernel() {
        let mut ledger = Ledger::default();
        let a = target("192.0.2.1");
        let add = |secs| Change::Add {
            jail: "sshd".into(),
            target: a,
            timeout: Some(Duration::from_secs(secs)),
        };
        let changes = |b: Banned| b.changes;
        assert_eq!(
            changes(ledger.ban(order("sshd", "192.0.2.1", 0, Some(600)), at(0))),
            [add(600)]
        );
        assert_eq!(
            changes(ledger.ban(order("sshd", "192.0.2.1", 100, Some(400)), at(100))),
            [],
            "not longer"
        );
        assert_eq!(
            changes(ledger.ban(order("sshd", "192.0.2.1", 100, Some(900)), at(100))),
            [add(800)]
        );
        let remove = Change::Remove {
            jail: "sshd".into(),
            target: a,
        };
        assert_eq!(ledger.lift_expired(at(899)), []);
        assert_eq!(ledger.lift_expired(at(900)), std::slice::from_ref(&remove));
        ledger.ban(order("sshd", "192.0.2.1", 1000, None), at(1000));
        assert_eq!(ledger.unban("sshd", &a), std::slice::from_ref(&remove));
        assert_eq!(ledger.unban("sshd", &a), []);
        ledger.ban(order("sshd", "192.0.2.1", 1000, None), at(1000));
        assert_eq!(ledger.unban_jail("sshd"), [remove]);
    }

    #[test]
    fn adopted_kernel_bans_keep_their_time_left_and_count_once() {
        let mut ledger = Ledger::default();
        let a = target("192.0.2.1");
        let jail = JailName::from("sshd");
        assert!(ledger.adopt(&jail, a, Some(Duration::from_secs(300)), at(0)));
        assert!(!ledger.adopt(&jail, a, None, at(0)), "known already");
        let ban = ledger.get("sshd", &a).unwrap();
        assert_eq!((ban.until, ban.failures, ban.count), (Some(at(300)), 0, 0));
        assert_eq!(ledger.ban_count(&a, None), 1);
        assert!(ledger.adopt(&jail, target("10.0.0.0/8"), None, at(0)));
        assert_eq!(
            ledger.next_expiry(),
            Some(at(300)),
            "a permanent one has no expiry"
        );
    }

    #[test]
    fn remove_jail_lifts_its_bans_only() {
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", "192.0.2.1", 0, Some(100)));
        ledger.add(order("sshd", "192.0.2.2", 0, None));
        ledger.add(order("dovecot", "192.0.2.1", 0, Some(200)));
        assert_eq!(ledger.remove_jail("sshd").len(), 2);
        assert_eq!(ledger.next_expiry(), Some(at(200)));
        assert_eq!(ledger.active("dovecot").count(), 1);
        assert_eq!(ledger.active("sshd").count(), 0);
    }

    fn remove(jail: &str, t: &str) -> Change {
        Change::Remove {
            jail: jail.into(),
            target: target(t),
        }
    }

    #[test]
    fn a_network_ban_takes_in_the_narrower_bans_of_its_jail_and_ends_no_earlier() {
        let mut ledger = Ledger::default();
        ledger.ban(order("sshd", "2001:db8:0:1::/64", 0, Some(600)), at(0));
        ledger.ban(order("sshd", "2001:db8:0:2::/64", 0, Some(9000)), at(0));
        ledger.ban(order("sshd", "2001:db8:0:3::5", 0, Some(600)), at(0));
        ledger.ban(order("dovecot", "2001:db8:0:4::/64", 0, Some(600)), at(0));
        let mut wide = order("sshd", "2001:db8::/56", 100, Some(3700));
        wide.seen = vec![target("2001:db8:0:3::5")];
        let banned = ledger.ban(wide, at(100));
        assert_eq!(banned.holder, Some(target("2001:db8::/56")));
        let mut changes = banned.changes.clone();
        changes.sort_by_key(|c| (c.is_add(), c.target()));
        assert_eq!(
            changes,
            [
                remove("sshd", "2001:db8:0:3::5"),
                remove("sshd", "2001:db8:0:1::/64"),
                remove("sshd", "2001:db8:0:2::/64"),
                Change::Add {
                    jail: "sshd".into(),
                    target: target("2001:db8::/56"),
                    timeout: Some(Duration::from_secs(8900)),
                },
            ]
        );
        assert!(
            banned
                .lifted
                .iter()
                .all(|(_, why)| *why == Lifted::Folded(target("2001:db8::/56")))
        );
        assert_eq!(ledger.count("sshd"), 1, "only the /56 is left");
        assert_eq!(ledger.count("dovecot"), 1, "other jails keep theirs");
        assert_eq!(
            ledger.get("sshd", &target("2001:db8::/56")).unwrap().until,
            Some(at(9000)),
            "the folded ban that ended last sets the end"
        );
        assert_eq!(ledger.next_expiry(), Some(at(600)), "dovecot's");
    }

    #[test]
    fn a_ban_inside_a_banned_network_is_that_network_s_made_longer_if_need_be() {
        let mut ledger = Ledger::default();
        ledger.ban(order("sshd", "2001:db8::/56", 0, Some(600)), at(0));
        let inside = ledger.ban(order("sshd", "2001:db8:0:1::/64", 10, Some(300)), at(10));
        assert_eq!(inside.holder, Some(target("2001:db8::/56")));
        assert_eq!(inside.changes, []);
        assert_eq!(ledger.count("sshd"), 1);
        let longer = ledger.ban(order("sshd", "2001:db8:0:1::5", 10, Some(900)), at(10));
        assert_eq!(
            longer.changes,
            [Change::Add {
                jail: "sshd".into(),
                target: target("2001:db8::/56"),
                timeout: Some(Duration::from_secs(890)),
            }]
        );
        assert_eq!(ledger.next_expiry(), Some(at(900)));
        assert_eq!(ledger.count("sshd"), 1);
        // a wider ban whose time is over (not expired yet) goes, and the new one stands
        let after_end = ledger.ban(order("sshd", "2001:db8:0:1::/64", 900, Some(2000)), at(900));
        assert_eq!(after_end.holder, Some(target("2001:db8:0:1::/64")));
        assert_eq!(after_end.lifted[0].1, Lifted::Ended);
        assert_eq!(ledger.count("sshd"), 1);
        assert!(ledger.get("sshd", &target("2001:db8::/56")).is_none());
    }

    #[test]
    fn an_address_in_a_banned_network_is_banned_and_held_by_it() {
        let mut ledger = Ledger::default();
        ledger.ban(order("sshd", "2001:db8:0:1::/64", 0, Some(600)), at(0));
        ledger.ban(order("sshd", "10.0.0.0/8", 0, None), at(0));
        let a = target("2001:db8:0:1::77");
        assert!(ledger.is_banned("sshd", &a, at(100)));
        assert!(!ledger.is_banned("sshd", &a, at(600)), "ended");
        assert!(!ledger.is_banned("dovecot", &a, at(100)));
        assert!(!ledger.is_banned("sshd", &target("2001:db8:0:2::1"), at(100)));
        assert!(ledger.is_banned("sshd", &target("::ffff:10.1.2.3"), at(100)));
        assert_eq!(
            ledger.holding("sshd", &a).map(|b| b.target),
            Some(target("2001:db8:0:1::/64"))
        );
    }

    /// The rule for an admin's unban: the network an address lies in is lifted as a whole
    /// (the kernel cannot drop a network but one address), and so are the bans inside an
    /// unbanned network.
    #[test]
    fn an_unban_lifts_the_network_an_address_lies_in_and_the_bans_inside_a_network() {
        let mut ledger = Ledger::default();
        ledger.ban(order("sshd", "2001:db8:0:1::/64", 0, Some(600)), at(0));
        ledger.ban(order("sshd", "2001:db8:0:2::/64", 0, Some(600)), at(0));
        ledger.ban(order("sshd", "2001:db8:1::9", 0, Some(600)), at(0));
        ledger.ban(order("sshd", "192.0.2.7", 0, Some(600)), at(0));
        assert_eq!(
            ledger.unban("sshd", &target("2001:db8:0:1::5")),
            [remove("sshd", "2001:db8:0:1::/64")]
        );
        let mut wide = ledger.unban("sshd", &target("2001:db8::/32"));
        wide.sort_by_key(Change::target);
        assert_eq!(
            wide,
            [
                remove("sshd", "2001:db8:1::9"),
                remove("sshd", "2001:db8:0:2::/64")
            ]
        );
        assert_eq!(ledger.count("sshd"), 1);
        assert!(!ledger.is_banned("sshd", &target("2001:db8:0:2::1"), at(1)));
    }
}
