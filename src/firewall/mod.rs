//! banjo's firewall: the one nftables table banjo owns (per family), its sets of banned
//! addresses with kernel timeouts, and the notifications that say someone changed it. Talks
//! netlink only (never runs `nft`); decides nothing about who is banned.
//!
//! - [`Firewall::apply`] makes table, chains, sets and rules match a [`Layout`] (see `layout`
//!   for what the kernel then holds) in one transaction, keeping the elements of sets that
//!   did not change, so a reload or restart unbans no one.
//! - [`Firewall::change`] applies the ban ledger's [`Change`]s, [`Firewall::reconcile`] makes
//!   the sets hold the ledger's whole view, in as few transactions as the socket buffer allows
//!   (100k bans: one or two). An element the kernel refuses (for whatever reason) is left out
//!   and the rest sent again: it comes back in [`Applied::refused`] /
//!   [`ReconcileReport::refused`], never as an error that keeps the other bans out.
//! - [`Monitor`] reports changes to banjo's table made by anyone else.
//! - [`Backend`] is what the daemon asks of a firewall; [`Recording`] is the fake the daemon's
//!   wiring is tested with, without root.
//!
//! Addresses and networks live in different sets (`<jail>-v4`/`-v6` hold addresses,
//! `<jail>-net4`/`-net6` hold networks as intervals): interval sets refuse overlapping elements,
//! hash sets take any number of addresses cheaply. Networks that overlap: a ban inside an
//! already banned larger network is skipped (the larger ban stands, with its own timeout); a ban
//! of a larger network replaces the smaller ones inside it.
//!
//! Refreshing a ban's timeout: the element is deleted and added again in the same transaction.
//! The delete is NFT_MSG_DESTROYSETELEM (Linux ≥ 6.3: no error when absent); on older kernels
//! banjo reads the set first and deletes only what is there.

mod backend;
mod elements;
mod error;
mod layout;
mod monitor;
pub(crate) mod nfnl;
mod recording;
mod txn;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What is banned: one address or a network (CIDR).
pub use crate::addr::Target;
/// What the firewall applies: the ban ledger's changes.
pub use crate::ban::Change;
pub use crate::config::{BlockType, Family, Hook, PortRange, Protocol};
use crate::name::JailName;
pub use backend::Backend;
pub use error::{FirewallError, errno_meaning};
pub use monitor::Monitor;
pub use recording::{Call, Recording};

use elements::{DumpedElem, Placed, Present, SetKind};
use nfnl::{NfSocket, SendError};
pub use txn::Refusal;
use txn::{ElemOp, ElementTxns, JailSet, Sent, Txn};

/// banjo's own handles in this process: the netlink ports of open [`Firewall`]s (events they
/// cause are not changes for a [`Monitor`]) and the tables they applied (the ones a
/// [`Monitor::open`] watches).
mod own {
    use std::sync::{Mutex, MutexGuard};

    static PORTS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static TABLES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add_port(port: u32) {
        lock(&PORTS).push(port);
    }

    pub fn remove_port(port: u32) {
        let mut ports = lock(&PORTS);
        if let Some(i) = ports.iter().position(|p| *p == port) {
            ports.swap_remove(i);
        }
    }

    pub fn ports() -> Vec<u32> {
        lock(&PORTS).clone()
    }

    pub fn add_table(table: &str) {
        let mut tables = lock(&TABLES);
        if !tables.iter().any(|t| t == table) {
            tables.push(table.to_string());
        }
    }

    pub fn tables() -> Vec<String> {
        lock(&TABLES).clone()
    }
}

/// The table name banjo uses when the config does not say (`[daemon] table`).
pub const DEFAULT_TABLE: &str = "banjo";

/// How far a ban's remaining time may be from the wanted one before reconcile re-adds it.
pub const TIMEOUT_SLACK: Duration = Duration::from_secs(2);

/// The firewall side of one jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailRules {
    pub name: JailName,
    pub hook: Hook,
    pub family: Family,
    /// Empty: all ports.
    pub ports: Vec<PortRange>,
    /// Empty: all four.
    pub protocols: Vec<Protocol>,
    pub blocktype: BlockType,
}

/// Everything banjo puts in the kernel, but the bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub table: String,
    pub jails: Vec<JailRules>,
}

/// What [`Firewall::reconcile`] changed.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    /// Wanted and missing: added.
    pub added: usize,
    /// Present with a remaining time more than [`TIMEOUT_SLACK`] off: added again.
    pub refreshed: usize,
    /// Present and not wanted: removed.
    pub removed: usize,
    /// Transactions it took.
    pub transactions: usize,
    /// Changes the kernel refused (counted in none of the above); every other one was made.
    pub refused: Vec<Refusal>,
}

/// Where the ruleset stood at one moment: its generation (the kernel counts every commit,
/// anyone's, NFT_MSG_GETGEN) and how many commits this firewall had made by then. Two of them
/// tell whether someone else changed the ruleset in between, without listening to events
/// (see [`Generation::others_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    pub ruleset: u32,
    pub own: u64,
}

impl Generation {
    /// Whether anyone but this firewall committed between `earlier` and `self`: the ruleset
    /// moved on by other than this firewall's own commits. A commit of ours that changed
    /// nothing (the kernel does not count it) also reads as someone else's: a needless
    /// check, never a change missed, unless it hides exactly as many others' commits.
    pub fn others_since(self, earlier: Generation) -> bool {
        let ruleset = u64::from(self.ruleset.wrapping_sub(earlier.ruleset));
        ruleset != self.own.wrapping_sub(earlier.own)
    }
}

/// What [`Firewall::change`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Transactions it took.
    pub transactions: usize,
    /// Changes the kernel refused; every other one was made.
    pub refused: Vec<Refusal>,
}

impl Applied {
    fn join(&mut self, other: Applied) {
        self.transactions += other.transactions;
        self.refused.extend(other.refused);
    }
}

/// banjo's handle on nf_tables in the network namespace of the thread that opened it.
pub struct Firewall {
    sock: NfSocket,
    layout: Option<Layout>,
    /// The kernel knows NFT_MSG_DESTROYSETELEM (Linux ≥ 6.3).
    destroy: bool,
    /// Transactions the last ban/unban/reconcile took.
    last_transactions: usize,
}

const FAMILIES: [Family; 2] = [Family::Inet, Family::Bridge];

impl Firewall {
    /// Opens the netlink socket and finds out what the kernel supports. Fails with an EPERM
    /// error ("needs CAP_NET_ADMIN") when banjo may not change the ruleset.
    pub fn open() -> Result<Firewall, FirewallError> {
        let sock = NfSocket::open().map_err(FirewallError::Open)?;
        let mut fw = Firewall {
            sock,
            layout: None,
            destroy: false,
            last_transactions: 0,
        };
        own::add_port(fw.port_id()); // before anything can fail: Drop removes it
        fw.destroy = fw.probe_destroy()?;
        tracing::debug!(destroy = fw.destroy, "nf_tables netlink socket open");
        Ok(fw)
    }

    /// Asks the kernel to DESTROYSETELEM nothing in a table that does not exist: ENOENT means it
    /// knows the message, EINVAL/EOPNOTSUPP that it does not. Changes nothing either way.
    fn probe_destroy(&mut self) -> Result<bool, FirewallError> {
        let mut txn = Txn::new();
        let set = elements::SetRef {
            family: libc::NFPROTO_INET as u8,
            table: "banjo\u{1}probe",
            set: "probe",
            set_id: None,
        };
        txn.elements(nfnl::NFT_MSG_DESTROYSETELEM, set, &[], None, "probing".into());
        match txn.send(&mut self.sock, "checking access to nf_tables") {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(true),
            Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Pretends the kernel is older than 6.3 (no DESTROY messages), to test that path.
    #[doc(hidden)]
    pub fn without_destroy_messages(&mut self) {
        self.destroy = false;
    }

    /// The netlink port id of banjo's socket: events caused by it carry it, and a [`Monitor`] in
    /// the same process ignores them.
    pub fn port_id(&self) -> u32 {
        self.sock.port_id()
    }

    /// How many transactions (netlink batches) the last ban, unban or reconcile took.
    pub fn last_transactions(&self) -> usize {
        self.last_transactions
    }

    /// The ruleset's generation now, and this firewall's commits so far.
    pub fn generation(&mut self) -> Result<Generation, FirewallError> {
        let ruleset = (self.sock.generation())
            .map_err(|e| FirewallError::from_send("reading the ruleset's generation", e))?;
        Ok(Generation {
            ruleset,
            own: self.sock.commits(),
        })
    }

    /// The layout last applied.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// Creates or adopts the table(s) and makes chains, sets and rules match `layout` in one
    /// transaction (see the module `layout`). Never touches other tables.
    pub fn apply(&mut self, layout: &Layout) -> Result<(), FirewallError> {
        layout::check(layout)?;
        own::add_table(&layout.table);
        let mut txn = Txn::new();
        let mut changed = false;
        if let Some(old) = &self.layout
            && old.table != layout.table
        {
            for family in FAMILIES {
                let code = layout::family_code(family);
                if layout::table_exists(&mut self.sock, code, &old.table)? {
                    delete_table(&mut txn, family, &old.table)?;
                    changed = true;
                }
            }
        }
        for family in FAMILIES {
            let code = layout::family_code(family);
            let state = layout::read_table(&mut self.sock, code, &layout.table)?;
            if !layout.jails.iter().any(|j| j.family == family) {
                if state.exists {
                    delete_table(&mut txn, family, &layout.table)?;
                    changed = true;
                }
                continue;
            }
            let plan = layout::plan(layout, family);
            changed |= layout::write_changes(&mut txn, &plan, &state)?;
        }
        if changed {
            txn.send(
                &mut self.sock,
                &format!("applying banjo's firewall layout to table {}", layout.table),
            )?;
            tracing::info!(table = %layout.table, jails = layout.jails.len(), "firewall layout applied");
        }
        self.layout = Some(layout.clone());
        Ok(())
    }

    /// Applies the ledger's changes: removals first, then additions with their kernel timeouts
    /// (a ban that exists gets the new timeout); when a target appears more than once in a
    /// jail, its last change counts. Each part in one transaction unless it does not fit the
    /// socket buffer; removing what is not there is no error. Changes the kernel refuses are
    /// left out and listed in [`Applied::refused`].
    pub fn change(&mut self, changes: &[Change]) -> Result<Applied, FirewallError> {
        let mut last: HashMap<(&str, Target), usize> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            last.insert((c.jail().as_str(), c.target()), i);
        }
        let (mut adds, mut removes) = (Vec::new(), Vec::new());
        for (i, c) in changes.iter().enumerate() {
            if last.get(&(c.jail().as_str(), c.target())) != Some(&i) {
                continue;
            }
            match c {
                Change::Add {
                    jail,
                    target,
                    timeout,
                } => adds.push((jail.as_str(), *target, *timeout)),
                Change::Remove { jail, target } => removes.push((jail.as_str(), *target)),
            }
        }
        let mut applied = Applied::default();
        if !removes.is_empty() {
            applied.join(self.remove_elements(&removes)?);
        }
        if !adds.is_empty() {
            applied.join(self.add_elements(&adds)?);
        }
        self.last_transactions = applied.transactions;
        Ok(applied)
    }

    fn add_elements(&mut self, adds: &[(&str, Target, Option<Duration>)]) -> Result<Applied, FirewallError> {
        let groups = self.group(adds.iter().copied())?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ban_groups(&groups) {
                Err(e) if !self.destroy && attempt < 3 && e.errno() == Some(libc::ENOENT) => {
                    // an element expired between reading the set and deleting it
                    continue;
                }
                other => return other,
            }
        }
    }

    fn ban_groups(&mut self, groups: &Groups) -> Result<Applied, FirewallError> {
        let mut txns = ElementTxns::new(self.sock.send_limit());
        for (set, items) in groups {
            if set.kind.is_net() {
                let present = self.read_set(set)?;
                let (dels, adds) = place_networks(&present, items);
                txns.write(set, "banning", &[ElemOp::Del], &dels);
                txns.write(set, "banning", &[ElemOp::Add], &adds);
            } else if self.destroy {
                txns.write(set, "banning", &[ElemOp::Destroy, ElemOp::Add], items);
            } else {
                let present: HashMap<Placed, ()> =
                    self.read_set(set)?.into_iter().map(|p| (p.placed, ())).collect();
                let (there, new): (Vec<_>, Vec<_>) = items.iter().partition(|(p, _)| present.contains_key(p));
                txns.write(set, "banning", &[ElemOp::Del, ElemOp::Add], &there);
                txns.write(set, "banning", &[ElemOp::Add], &new);
            }
        }
        let Sent {
            transactions,
            refused,
        } = txns.send(&mut self.sock, "banning")?;
        self.last_transactions = transactions;
        tracing::debug!(transactions, refused = refused.len(), "bans added");
        Ok(Applied {
            transactions,
            refused,
        })
    }

    /// Removes bans; bans that are not there are no error. Removals the kernel refuses are
    /// left out and listed in [`Applied::refused`].
    fn remove_elements(&mut self, removes: &[(&str, Target)]) -> Result<Applied, FirewallError> {
        let groups = self.group(removes.iter().map(|(j, t)| (*j, *t, None)))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut txns = ElementTxns::new(self.sock.send_limit());
            for (set, items) in &groups {
                if self.destroy && !set.kind.is_net() {
                    txns.write(set, "unbanning", &[ElemOp::Destroy], items);
                    continue;
                }
                let present: Vec<Placed> = self.read_set(set)?.into_iter().map(|p| p.placed).collect();
                let there: Vec<_> = items
                    .iter()
                    .filter(|(p, _)| present.contains(p))
                    .copied()
                    .collect();
                txns.write(set, "unbanning", &[ElemOp::Del], &there);
            }
            match txns.send(&mut self.sock, "unbanning") {
                Err(e) if attempt < 3 && e.errno() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e),
                Ok(Sent {
                    transactions,
                    refused,
                }) => {
                    self.last_transactions = transactions;
                    return Ok(Applied {
                        transactions,
                        refused,
                    });
                }
            }
        }
    }

    /// A jail's bans with their remaining time (None = permanent), addresses then networks.
    pub fn list(&mut self, jail: &str) -> Result<Vec<(Target, Option<Duration>)>, FirewallError> {
        let mut out = Vec::new();
        for kind in SetKind::ALL {
            // the first family's sets: a name in both tables holds the same elements in each
            let Some(set) = self.jail_sets(jail, kind)?.into_iter().next() else {
                continue;
            };
            out.extend(
                self.read_set(&set)?
                    .into_iter()
                    .map(|p| (p.placed.target, p.remaining)),
            );
        }
        Ok(out)
    }

    /// Makes the sets of every jail in the layout hold exactly the additions in `wanted` (the
    /// ledger's view, [`crate::ban::Ledger::as_changes`]; a removal in it only says "not
    /// wanted"): adds what is missing, re-adds what has a remaining time more than
    /// [`TIMEOUT_SLACK`] off, removes the rest.
    pub fn reconcile(&mut self, wanted: &[Change]) -> Result<ReconcileReport, FirewallError> {
        let layout = self
            .layout
            .clone()
            .ok_or(FirewallError::NoLayout("reconcile()"))?;
        let adds = wanted.iter().filter_map(|c| match c {
            Change::Add {
                jail,
                target,
                timeout,
            } => Some((jail.as_str(), *target, *timeout)),
            Change::Remove { .. } => None,
        });
        let mut groups = self.group(adds)?;
        for jail in &layout.jails {
            for kind in SetKind::ALL {
                for set in self.jail_sets(&jail.name, kind)? {
                    groups.entry(set).or_default();
                }
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.reconcile_groups(&groups) {
                Err(e) if attempt < 3 && e.errno() == Some(libc::ENOENT) => continue,
                other => return other,
            }
        }
    }

    fn reconcile_groups(&mut self, groups: &Groups) -> Result<ReconcileReport, FirewallError> {
        const REMOVING: &str = "reconciling (removing)";
        const REFRESHING: &str = "reconciling (refreshing)";
        const ADDING: &str = "reconciling (adding)";
        let mut report = ReconcileReport::default();
        let mut txns = ElementTxns::new(self.sock.send_limit());
        let refresh: &[ElemOp] = if self.destroy {
            &[ElemOp::Destroy, ElemOp::Add]
        } else {
            &[ElemOp::Del, ElemOp::Add]
        };
        for (set, items) in groups {
            let outer;
            let wanted: &[Timed] = if set.kind.is_net() {
                outer = outermost(items);
                &outer
            } else {
                items
            };
            let SetPlan {
                removes,
                refreshes,
                adds,
            } = plan(wanted, self.read_set(set)?);
            let del = if self.destroy {
                ElemOp::Destroy
            } else {
                ElemOp::Del
            };
            txns.write(set, REMOVING, &[del], &removes);
            txns.write(set, REFRESHING, refresh, &refreshes);
            txns.write(set, ADDING, &[ElemOp::Add], &adds);
            report.added += adds.len();
            report.refreshed += refreshes.len();
            report.removed += removes.len();
        }
        let sent = txns.send(&mut self.sock, "reconciling bans")?;
        for refusal in &sent.refused {
            let count = match refusal.action.as_str() {
                REMOVING => &mut report.removed,
                REFRESHING => &mut report.refreshed,
                _ => &mut report.added,
            };
            *count = count.saturating_sub(1);
        }
        report.transactions = sent.transactions;
        report.refused = sent.refused;
        self.last_transactions = report.transactions;
        Ok(report)
    }

    /// Whether banjo's table exists in every family the layout uses (inet when none applied).
    pub fn table_exists(&mut self) -> Result<bool, FirewallError> {
        let (table, families) = self.table_and_families();
        for family in families {
            if !layout::table_exists(&mut self.sock, layout::family_code(family), &table)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Removes banjo's table(s) with every ban in them (`flush_on_stop = true`).
    pub fn remove(&mut self) -> Result<(), FirewallError> {
        let table = self.table_and_families().0;
        self.remove_table(&table)
    }

    /// Removes table `table` of the inet and bridge families, where it exists.
    pub fn remove_table(&mut self, table: &str) -> Result<(), FirewallError> {
        let mut txn = Txn::new();
        for family in FAMILIES {
            if layout::table_exists(&mut self.sock, layout::family_code(family), table)? {
                delete_table(&mut txn, family, table)?;
            }
        }
        txn.send(&mut self.sock, &format!("removing table {table}"))?;
        if self.layout.as_ref().is_some_and(|l| l.table == table) {
            self.layout = None;
        }
        Ok(())
    }

    fn table_and_families(&self) -> (String, Vec<Family>) {
        match &self.layout {
            Some(l) => {
                let mut families: Vec<Family> = FAMILIES
                    .into_iter()
                    .filter(|f| l.jails.iter().any(|j| j.family == *f))
                    .collect();
                if families.is_empty() {
                    families.push(Family::Inet);
                }
                (l.table.clone(), families)
            }
            None => (DEFAULT_TABLE.to_string(), vec![Family::Inet]),
        }
    }

    /// The sets of kind `kind` of the name `jail`: one per family whose table has rules
    /// of that name (the blocklist's, in the inet and the bridge table, hold the same
    /// elements).
    fn jail_sets(&self, jail: &str, kind: SetKind) -> Result<Vec<JailSet>, FirewallError> {
        let layout = self
            .layout
            .as_ref()
            .ok_or(FirewallError::NoLayout("changing or listing bans"))?;
        let sets: Vec<JailSet> = FAMILIES
            .into_iter()
            .filter(|f| layout.jails.iter().any(|j| j.name == jail && j.family == *f))
            .map(|family| JailSet {
                jail: jail.to_string(),
                family: layout::family_code(family),
                family_name: family.as_str(),
                table: layout.table.clone(),
                kind,
            })
            .collect();
        if sets.is_empty() {
            return Err(FirewallError::UnknownJail {
                jail: jail.to_string(),
                table: layout.table.clone(),
            });
        }
        Ok(sets)
    }

    /// Sorts targets into their sets (every family's, for a name in more than one table), each
    /// set's in the order of [`sort_unique_last`]: the last of repeated targets wins.
    fn group<'a>(
        &self,
        items: impl Iterator<Item = (&'a str, Target, Option<Duration>)>,
    ) -> Result<Groups, FirewallError> {
        let mut lists: Vec<(JailSet, Vec<Timed>)> = Vec::new();
        // the lists of the last (jail, kind) seen: the ledger's bans come jail by jail
        let mut last: Option<(&str, SetKind, Vec<usize>)> = None;
        for (jail, target, timeout) in items {
            let placed =
                Placed::new(target).map_err(|why| FirewallError::BadTarget(target.to_string(), why))?;
            let timeout = timeout.map(elements::timeout_ms);
            let same = |(j, k, _): &(&str, SetKind, Vec<usize>)| *j == jail && *k == placed.kind;
            if !last.as_ref().is_some_and(same) {
                let mut at = Vec::new();
                for set in self.jail_sets(jail, placed.kind)? {
                    match lists.iter().position(|(s, _)| *s == set) {
                        Some(i) => at.push(i),
                        None => {
                            at.push(lists.len());
                            lists.push((set, Vec::new()));
                        }
                    }
                }
                last = Some((jail, placed.kind, at));
            }
            if let Some((_, _, at)) = &last {
                for &i in at {
                    lists[i].1.push((placed, timeout));
                }
            }
        }
        let mut groups: Groups = BTreeMap::new();
        for (set, mut list) in lists {
            sort_unique_last(&mut list);
            groups.insert(set, list);
        }
        Ok(groups)
    }

    fn read_set(&mut self, set: &JailSet) -> Result<Vec<Present>, FirewallError> {
        let name = set.name();
        let mut raw: Vec<DumpedElem> = Vec::new();
        let result = self.sock.dump(
            nfnl::NFT_MSG_GETSETELEM,
            set.family,
            |w| {
                w.attr_str(nfnl::NFTA_SET_ELEM_LIST_TABLE, &set.table);
                w.attr_str(nfnl::NFTA_SET_ELEM_LIST_SET, &name);
            },
            |msg| elements::parse_elements(msg, &mut raw),
        );
        result.map_err(|e: SendError| {
            FirewallError::from_send(
                format!(
                    "reading set {} {} {} (jail {})",
                    set.family_name, set.table, name, set.jail
                ),
                e,
            )
        })?;
        Ok(elements::assemble(set.kind, raw))
    }
}

/// A ban placed in its set, and its timeout in milliseconds (None = permanent).
type Timed = (Placed, Option<u64>);
impl Drop for Firewall {
    fn drop(&mut self) {
        own::remove_port(self.port_id());
    }
}

type Groups = BTreeMap<JailSet, Vec<Timed>>;

impl PartialEq for JailSet {
    fn eq(&self, other: &Self) -> bool {
        (self.family, &self.table, &self.jail, self.kind)
            == (other.family, &other.table, &other.jail, other.kind)
    }
}
impl Eq for JailSet {}
impl PartialOrd for JailSet {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for JailSet {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.family, &self.table, &self.jail, self.kind).cmp(&(
            other.family,
            &other.table,
            &other.jail,
            other.kind,
        ))
    }
}

fn delete_table(txn: &mut Txn, family: Family, table: &str) -> Result<(), FirewallError> {
    let fam = match family {
        Family::Inet => rustables::ProtocolFamily::Inet,
        Family::Bridge => rustables::ProtocolFamily::Bridge,
    };
    let mut b = rustables::Batch::new();
    b.add(
        &rustables::Table::new(fam).with_name(table),
        rustables::MsgType::Del,
    );
    txn.rustables(b, &format!("deleting table {family} {table}"))
}

/// Where a placement sorts within its set: by its keys (a set holds one kind).
fn order(p: &Placed) -> (elements::Key, Option<elements::Key>) {
    (p.start, p.end)
}

/// Sorts a set's items by placement, keeping the last of repeated ones (a later change of
/// the same target wins).
fn sort_unique_last(items: &mut Vec<Timed>) {
    items.reverse(); // the stable sort keeps the (now first) last one ahead of the others
    items.sort_by_key(|a| order(&a.0));
    items.dedup_by(|later, kept| order(&later.0) == order(&kept.0));
}

/// What a reconcile does to one set.
#[derive(Debug, Default, PartialEq, Eq)]
struct SetPlan {
    /// Held and not wanted.
    removes: Vec<Timed>,
    /// Held with a remaining time more than [`TIMEOUT_SLACK`] off the wanted one.
    refreshes: Vec<Timed>,
    /// Wanted and not held.
    adds: Vec<Timed>,
}

/// The set's plan in one pass over `wanted` (sorted and unique: [`sort_unique_last`]) and
/// what the set holds, sorted alike: no map of either (with 100k bans those maps, hashed
/// twice over, were most of the reconcile's own time).
fn plan(wanted: &[Timed], mut present: Vec<Present>) -> SetPlan {
    present.sort_unstable_by_key(|a| order(&a.placed));
    let mut plan = SetPlan::default();
    let mut held = present.into_iter().peekable();
    for &(p, timeout) in wanted {
        while let Some(q) = held.next_if(|q| order(&q.placed) < order(&p)) {
            plan.removes.push((q.placed, None));
        }
        match held.next_if(|q| order(&q.placed) == order(&p)) {
            None => plan.adds.push((p, timeout)),
            Some(q) if !close_enough(q.remaining, timeout) => plan.refreshes.push((p, timeout)),
            Some(_) => {}
        }
    }
    plan.removes.extend(held.map(|q| (q.placed, None)));
    plan
}

fn close_enough(remaining: Option<Duration>, wanted_ms: Option<u64>) -> bool {
    match (remaining, wanted_ms) {
        (None, None) => true,
        (Some(r), Some(w)) => r.abs_diff(Duration::from_millis(w)) <= TIMEOUT_SLACK,
        _ => false,
    }
}

/// Wanted networks without those inside another wanted one, in their order. Networks nest
/// or lie apart, so in order of start (widest first) a network is inside another exactly
/// when the last one kept covers it: O(n log n), where comparing every pair took minutes for
/// a 100k-entry blocklist.
fn outermost(items: &[Timed]) -> Vec<Timed> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| {
        let (start, end) = items[i].0.range();
        (start, std::cmp::Reverse(end))
    });
    let mut keep = vec![false; items.len()];
    let mut last: Option<Placed> = None;
    for i in order {
        let p = items[i].0;
        match last {
            Some(q) if q != p && q.covers(&p) => {}
            Some(q) if q == p => keep[i] = true,
            _ => {
                keep[i] = true;
                last = Some(p);
            }
        }
    }
    items
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(t, _)| *t)
        .collect()
}

/// For network bans: which present elements to delete (the same network, to refresh it, or
/// smaller ones inside a new ban) and which to add (not inside a larger present or new one).
/// Networks nest or lie apart, so each question is asked of one candidate found by its start:
/// the widest present networks and the additions are each apart from one another, and only the
/// last of them that starts at or before a network can hold it. O((n + m) log), where asking
/// every pair took n × m (a blocklist's or a burst's thousands of networks against a set's).
fn place_networks(present: &[Present], items: &[Timed]) -> (Vec<Timed>, Vec<Timed>) {
    let holder = |apart: &BTreeMap<u128, Placed>, p: &Placed| -> Option<Placed> {
        let (_, q) = apart.range(..=p.range().0).next_back()?;
        q.covers(p).then_some(*q)
    };
    let present_timed: Vec<Timed> = present.iter().map(|q| (q.placed, None)).collect();
    let widest: BTreeMap<u128, Placed> = outermost(&present_timed)
        .into_iter()
        .map(|(q, _)| (q.range().0, q))
        .collect();
    let mut sorted = items.to_vec();
    sorted.sort_by_key(|(p, _)| std::cmp::Reverse(p.range().1 - p.range().0)); // larger first
    let mut adds: Vec<Timed> = Vec::new();
    let mut added: BTreeMap<u128, Placed> = BTreeMap::new();
    for (p, timeout) in sorted {
        // A present network that holds `p` and is not `p` itself: the widest one holding it.
        let inside_present = holder(&widest, &p).is_some_and(|q| q != p);
        let inside_new = holder(&added, &p).is_some();
        if inside_present || inside_new {
            tracing::info!(network = %p.target, "already inside a banned network; not added");
            continue;
        }
        adds.push((p, timeout));
        added.insert(p.range().0, p);
    }
    let dels = present
        .iter()
        .filter(|q| holder(&added, &q.placed).is_some())
        .map(|q| (q.placed, None))
        .collect();
    (dels, adds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, n: u8) -> Placed {
        Placed::new(Target::Net(s.parse().unwrap(), n)).unwrap()
    }

    #[test]
    fn outermost_keeps_the_widest_networks_in_their_order() {
        let items = [
            (net("10.1.0.0", 16), Some(1)),
            (net("192.0.2.0", 24), None),
            (net("10.0.0.0", 8), Some(2)),
            (net("10.0.0.0", 8), Some(3)),
            (net("10.200.3.0", 24), None),
            (net("192.0.3.0", 24), None),
        ];
        let got = outermost(&items);
        assert_eq!(got, [items[1], items[2], items[3], items[5]]);
    }

    /// `place_networks` as it was first written: every pair asked.
    fn place_networks_pairwise(present: &[Present], items: &[Timed]) -> (Vec<Timed>, Vec<Timed>) {
        let mut sorted = items.to_vec();
        sorted.sort_by_key(|(p, _)| std::cmp::Reverse(p.range().1 - p.range().0));
        let mut adds: Vec<Timed> = Vec::new();
        for (p, timeout) in sorted {
            let inside_present = present.iter().any(|q| q.placed != p && q.placed.covers(&p));
            let inside_new = adds.iter().any(|(q, _)| q.covers(&p));
            if !(inside_present || inside_new) {
                adds.push((p, timeout));
            }
        }
        let dels = present
            .iter()
            .filter(|q| adds.iter().any(|(p, _)| p.covers(&q.placed)))
            .map(|q| (q.placed, None))
            .collect();
        (dels, adds)
    }

    #[test]
    fn placing_networks_answers_as_asking_every_pair_does() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // Networks of 10.0.0.0/8 and 11.0.0.0/8, often nested, sometimes repeated.
        let network = |random: &mut dyn FnMut(u64) -> u64| {
            let bits = 8 + random(23) as u8;
            let addr = (10u32 << 24 | random(1 << 24) as u32) ^ (random(2) as u32) << 24;
            let masked = addr & (u32::MAX << (32 - u32::from(bits)));
            net(&std::net::Ipv4Addr::from(masked).to_string(), bits)
        };
        for round in 0..300 {
            let present: Vec<Present> = (0..random(40))
                .map(|_| Present {
                    placed: network(&mut random),
                    remaining: None,
                })
                .collect();
            let items: Vec<Timed> = (0..1 + random(20))
                .map(|i| (network(&mut random), Some(i)))
                .collect();
            assert_eq!(
                place_networks(&present, &items),
                place_networks_pairwise(&present, &items),
                "round {round}: present {present:?}, items {items:?}"
            );
        }
    }

    #[test]
    fn networks_inside_others_are_not_added_twice() {
        let present = vec![Present {
            placed: net("10.0.0.0", 8),
            remaining: None,
        }];
        let (dels, adds) = place_networks(&present, &[(net("10.1.0.0", 16), Some(1000))]);
        assert!(dels.is_empty() && adds.is_empty());
    }

    #[test]
    fn a_larger_network_replaces_smaller_ones_and_the_same_is_refreshed() {
        let present = vec![
            Present {
                placed: net("10.1.0.0", 16),
                remaining: None,
            },
            Present {
                placed: net("192.0.2.0", 24),
                remaining: None,
            },
        ];
        let items = [
            (net("10.0.0.0", 8), Some(5)),
            (net("10.2.0.0", 16), Some(5)),
            (net("192.0.2.0", 24), Some(7)),
        ];
        let (dels, adds) = place_networks(&present, &items);
        let d: Vec<_> = dels.iter().map(|(p, _)| p.target.to_string()).collect();
        let a: Vec<_> = adds.iter().map(|(p, t)| (p.target.to_string(), *t)).collect();
        assert_eq!(d, vec!["10.1.0.0/16", "192.0.2.0/24"]);
        assert_eq!(
            a,
            vec![
                ("10.0.0.0/8".to_string(), Some(5)),
                ("192.0.2.0/24".to_string(), Some(7))
            ]
        );
    }

    /// Firewalls in different namespaces can have the same port id (the first netlink socket of
    /// a namespace gets the process id): one closing must not forget the other.
    #[test]
    fn own_ports_are_counted_per_firewall() {
        own::add_port(u32::MAX - 7);
        own::add_port(u32::MAX - 7);
        own::remove_port(u32::MAX - 7);
        assert!(own::ports().contains(&(u32::MAX - 7)));
        own::remove_port(u32::MAX - 7);
        assert!(!own::ports().contains(&(u32::MAX - 7)));
    }

    /// The map-based plan the one-pass [`plan`] replaced: the reference it must agree with.
    fn plan_by_maps(wanted: &[Timed], present: &[Present]) -> SetPlan {
        let held: HashMap<Placed, Option<Duration>> =
            present.iter().map(|p| (p.placed, p.remaining)).collect();
        let wanted_keys: HashMap<Placed, ()> = wanted.iter().map(|(p, _)| (*p, ())).collect();
        let mut plan = SetPlan {
            removes: held
                .keys()
                .filter(|p| !wanted_keys.contains_key(p))
                .map(|p| (*p, None))
                .collect(),
            ..SetPlan::default()
        };
        for (p, timeout) in wanted {
            match held.get(p) {
                None => plan.adds.push((*p, *timeout)),
                Some(remaining) if !close_enough(*remaining, *timeout) => plan.refreshes.push((*p, *timeout)),
                Some(_) => {}
            }
        }
        plan
    }

    /// A small xorshift: the same random sets on every run.
    struct Dice(u64);
    impl Dice {
        fn roll(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn the_one_pass_plan_agrees_with_the_maps_on_random_sets() {
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let space = 1 + dice.roll(200);
            let addr = |dice: &mut Dice| {
                let a = Target::Addr(std::net::Ipv4Addr::from(0x0a00_0000 + dice.roll(space) as u32).into());
                Placed::new(a).unwrap()
            };
            let timeouts = [None, Some(10_000), Some(60_000), Some(3_600_000)];
            let mut wanted: Vec<Timed> = (0..dice.roll(150))
                .map(|_| (addr(&mut dice), timeouts[dice.roll(4) as usize]))
                .collect();
            let expected_last = {
                let mut last: HashMap<Placed, Option<u64>> = HashMap::new();
                for (p, t) in &wanted {
                    last.insert(*p, *t);
                }
                last
            };
            sort_unique_last(&mut wanted);
            assert_eq!(wanted.len(), expected_last.len(), "round {round}: one of each");
            assert!(
                wanted.iter().all(|(p, t)| expected_last[p] == *t),
                "round {round}: the last wins"
            );
            let mut held: HashMap<Placed, Option<Duration>> = HashMap::new();
            for _ in 0..dice.roll(150) {
                let remaining = [None, Some(9), Some(59), Some(61), Some(3599)][dice.roll(5) as usize];
                held.insert(addr(&mut dice), remaining.map(Duration::from_secs));
            }
            let present: Vec<Present> = held
                .into_iter()
                .map(|(placed, remaining)| Present { placed, remaining })
                .collect();
            let sorted = |mut v: Vec<Timed>| {
                v.sort();
                v
            };
            let (got, want) = (plan(&wanted, present.clone()), plan_by_maps(&wanted, &present));
            assert_eq!(
                sorted(got.removes),
                sorted(want.removes),
                "round {round}: removes"
            );
            assert_eq!(
                sorted(got.refreshes),
                sorted(want.refreshes),
                "round {round}: refreshes"
            );
            assert_eq!(sorted(got.adds), sorted(want.adds), "round {round}: adds");
        }
    }

    #[test]
    fn others_committed_when_the_ruleset_moved_on_by_more_than_our_commits() {
        let at = |ruleset, own| Generation { ruleset, own };
        assert!(!at(12, 7).others_since(at(10, 5)), "our two commits");
        assert!(at(13, 7).others_since(at(10, 5)), "ours and one more");
        assert!(at(11, 5).others_since(at(10, 5)), "one by someone else");
        assert!(!at(1, 3).others_since(at(u32::MAX, 1)), "the generation wraps");
        assert!(
            at(11, 7).others_since(at(10, 5)),
            "a commit that changed nothing: checked"
        );
    }

    #[test]
    fn timeouts_within_two_seconds_are_close_enough() {
        assert!(close_enough(Some(Duration::from_millis(58_500)), Some(60_000)));
        assert!(!close_enough(Some(Duration::from_secs(50)), Some(60_000)));
        assert!(!close_enough(None, Some(60_000)));
        assert!(close_enough(None, None));
    }
}
