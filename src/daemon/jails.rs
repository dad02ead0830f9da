//! The running jails and what reaches them: a filter's outcome becomes failures (host names
//! go to the resolver first), each failure the jail's decision, a ban the ledger's change for
//! the kernel. The counting and the ban policy are the jails' and the ledger's own
//! (`crate::jail`, `crate::ban`); this room draws the random numbers and moves the values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;

use super::Daemon;
use super::metrics::BanCause;
use super::progress::Pending;
use super::resolver::{Answer, Lookup};
use crate::addr::Target;
use crate::addrlist::AddrList;
use crate::ban::Ledger;
use crate::config::Config;
use crate::filter::{Filter, Outcome};
use crate::jail::{BanHistory, Decision, Failure, HostAction, IgnoreList, Jail, Resolved};
use crate::name::JailName;
use crate::source::Entry;
use crate::sys;

/// One jail at run time: its policy state and compiled filter.
pub struct Running {
    pub jail: Jail,
    pub filter: Arc<Filter>,
}

/// The configured jails, by name.
pub struct Jails {
    running: BTreeMap<JailName, Running>,
    /// xorshift state for `bantime_rndtime`.
    rng: u64,
    /// A failure was counted (or a window cleared) since the last save of progress.json.
    unsaved: bool,
    /// Failures from progress.json of jails not (yet) configured, kept for a reload.
    restored: BTreeMap<JailName, Vec<Pending>>,
    /// The `ignoreip` list files as last read: a file that cannot be read on reload keeps
    /// these, so a partner is never banned because its list was being rewritten.
    ignore_files: BTreeMap<PathBuf, Vec<Target>>,
}

impl Jails {
    /// No jail yet; `restored`: the failures progress.json saved, per jail.
    pub fn new(restored: BTreeMap<JailName, Vec<Pending>>) -> Jails {
        Jails {
            running: BTreeMap::new(),
            rng: seed(),
            unsaved: false,
            restored,
            ignore_files: BTreeMap::new(),
        }
    }

    /// (Re)builds the jails from the config, keeping the windows of jails that stay; a new
    /// jail takes its failures saved in progress.json, if any, and remembers its recent bans
    /// from the ledger's history (so widening counts bans made before a restart).
    pub fn build(&mut self, cfg: &Config, ledger: &Ledger) {
        let resolved = resolve_ignores(cfg, &self.ignore_files);
        self.ignore_files = resolved.files.clone();
        let mut old = std::mem::take(&mut self.running);
        for jc in &cfg.jails {
            let ignore = IgnoreList::for_jail(jc, &resolved);
            for name in ignore.unresolved() {
                tracing::warn!(jail = %jc.name, "ignoreip: host name {name} does not resolve; it ignores nothing");
            }
            let filter = match Filter::compile(&jc.filter_def) {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    // config::load compiled it already; this cannot fail unless the file changed
                    tracing::error!(jail = %jc.name, "filter: {e}");
                    continue;
                }
            };
            let jail = match old.remove(&jc.name) {
                Some(mut running) => {
                    running.jail.reconfigure(jc, ignore);
                    running.jail
                }
                None => {
                    let now = Timestamp::now();
                    let mut jail = Jail::new(jc, ignore);
                    if let Some(saved) = self.restored.remove(&jc.name) {
                        let saved = saved.into_iter().map(|p| (p.target, p.failures)).collect();
                        jail.restore_pending(saved, now);
                    }
                    let recent = ledger.records().filter(|(j, _, _)| *j == jc.name.as_str());
                    jail.remember_bans(recent.map(|(_, target, r)| (target, r.last)), now);
                    jail
                }
            };
            self.running.insert(jc.name.clone(), Running { jail, filter });
        }
    }

    pub fn get(&self, name: &str) -> Option<&Running> {
        self.running.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&JailName, &Running)> {
        self.running.iter()
    }

    pub fn filter(&self, name: &str) -> Option<Arc<Filter>> {
        self.running.get(name).map(|r| r.filter.clone())
    }

    /// `jail`'s decision on one failure.
    fn failure(
        &mut self,
        jail: &str,
        failure: Failure<'_>,
        now: Timestamp,
        bans: &dyn BanHistory,
    ) -> Decision {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let Some(running) = self.running.get_mut(jail) else {
            return Decision::Nothing;
        };
        let decision = running.jail.failure(failure, now, bans, self.rng);
        self.unsaved |= matches!(decision, Decision::Counted { .. } | Decision::Ban(_));
        decision
    }

    /// Forgets an address's failures in a jail (an admin's unban).
    pub fn forget(&mut self, jail: &str, target: &Target) {
        if let Some(running) = self.running.get_mut(jail) {
            self.unsaved |= running.jail.forget(target);
        }
    }

    /// Every jail's failures not yet banned, for progress.json, when they changed since the
    /// last call (or `always`).
    pub fn pending(&mut self, always: bool) -> Option<BTreeMap<JailName, Vec<Pending>>> {
        if !std::mem::take(&mut self.unsaved) && !always {
            return None;
        }
        let pending = self.running.iter().map(|(name, r)| {
            let rows = r.jail.pending().into_iter();
            let rows = rows.map(|(target, failures)| Pending { target, failures });
            (name.clone(), rows.collect())
        });
        Some(pending.collect())
    }

    /// Marks the failures unsaved again (the save failed).
    pub fn save_failed(&mut self) {
        self.unsaved = true;
    }
}

impl Daemon {
    /// A filter's outcome for `jail` on `entry`: failures counted, hosts sent to be resolved.
    pub(super) fn on_outcome(&mut self, jail: &JailName, outcome: Outcome, entry: &Entry, now: Timestamp) {
        let m = match outcome {
            Outcome::Matched(m) => m,
            Outcome::BadHost { text, .. } => {
                tracing::debug!(jail = %jail, "a failregex matched but {text:?} is not an address");
                return;
            }
            // a line of a multi-line failure that is not one itself ("Connection from")
            Outcome::Missed | Outcome::Ignored { .. } | Outcome::Context { .. } => return,
        };
        let Some(running) = self.jails.get(jail) else {
            return;
        };
        let time = entry.time.unwrap_or(now);
        match HostAction::of(&m.host, running.jail.config().usedns) {
            HostAction::Count(target) => {
                let line = String::from_utf8_lossy(&entry.text);
                self.count(jail, target, time, &line, now);
            }
            HostAction::Skip => {}
            HostAction::Resolve { name, warn } => {
                if warn {
                    tracing::warn!(jail = %jail, "failure names host {name}: resolving it (usedns)");
                }
                let line = String::from_utf8_lossy(&entry.text).into_owned();
                let lookup = Lookup {
                    jail: jail.clone(),
                    name,
                    time,
                    line,
                };
                let name = lookup.name.clone();
                if let Err(e) = self.resolver.ask(lookup, Instant::now()) {
                    tracing::warn!(jail = %jail, "failure names host {name}, not counted: {e}");
                }
            }
        }
    }

    /// Failures whose host names were resolved meanwhile: counted now, with their log time.
    pub(super) fn on_resolved(&mut self, now: Timestamp) {
        for answer in self.resolver.answers(Instant::now()) {
            match answer {
                Answer::Resolved(lookup, addrs) => {
                    for ip in addrs {
                        self.count(&lookup.jail, Target::addr(ip), lookup.time, &lookup.line, now);
                    }
                }
                Answer::TimedOut(lookup) => tracing::warn!(
                    jail = %lookup.jail,
                    "host {} did not resolve within {}s; its failure is not counted",
                    lookup.name,
                    super::resolver::LOOKUP_TIMEOUT.as_secs()
                ),
            }
        }
    }

    /// One failure in one jail; a ban it decides goes to the ledger and the kernel.
    fn count(&mut self, jail: &JailName, target: Target, time: Timestamp, line: &str, now: Timestamp) {
        let failure = Failure { target, time, line };
        match self.jails.failure(jail, failure, now, self.bans.ledger()) {
            Decision::Ban(orders) => {
                for order in orders {
                    let (changes, _) = self.bans.ban(order, BanCause::Failures { at: time }, now);
                    self.enforce.queue_all(changes);
                }
            }
            Decision::Counted { failures } => {
                tracing::debug!(jail = %jail, ip = %target, "failure {failures}");
            }
            Decision::Ignored { .. } | Decision::Nothing => {}
        }
    }
}

/// Host names of every jail's ignoreip, resolved once per load (blocking: at load and reload
/// time only), its list files, read (a bad line is logged and skipped, a file that cannot be
/// read keeps what it had in `before`), and this host's addresses.
fn resolve_ignores(cfg: &Config, before: &BTreeMap<PathBuf, Vec<Target>>) -> Resolved {
    let mut names = BTreeMap::new();
    let mut files = BTreeMap::new();
    for j in &cfg.jails {
        for name in Resolved::names_in(&j.ignoreip) {
            names
                .entry(name.to_string())
                .or_insert_with(|| sys::resolve(name));
        }
        for path in Resolved::files_in(&j.ignoreip) {
            if files.contains_key(path) {
                continue;
            }
            match AddrList::read(path) {
                Ok(list) => {
                    for bad in &list.bad {
                        tracing::warn!(file = %path.display(), line = bad.line, "ignoreip: {bad}");
                    }
                    tracing::info!(
                        "ignoreip: {} address(es) and network(s) from {}",
                        list.entries.len(),
                        path.display()
                    );
                    files.insert(path.to_path_buf(), list.entries);
                }
                Err(e) => {
                    let kept = before.get(path).cloned().unwrap_or_default();
                    tracing::error!(
                        jail = %j.name,
                        "ignoreip: {e}; the {} entr(ies) read before stay until it can be read (on reload)",
                        kept.len()
                    );
                    files.insert(path.to_path_buf(), kept);
                }
            }
        }
    }
    let own = if cfg.jails.iter().any(|j| j.ignoreself) {
        sys::host_addresses().unwrap_or_else(|e| {
            tracing::warn!("ignoreself: cannot list this host's addresses: {e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    Resolved { names, own, files }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64 ^ (std::process::id() as u64) << 32) | 1
}
