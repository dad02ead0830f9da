//! A firewall that only writes down what it is asked: the [`Backend`] the daemon's wiring is
//! tested with (tests/pipeline.rs) without root. It keeps every call in order and the sets as a
//! kernel would hold them (without timing anything out: the ledger's expiries remove them), so
//! a restart can adopt and a reconcile can compare. Clones share one record: the test keeps
//! one and hands the daemon another. A test can make it refuse elements
//! ([`Recording::refuse`]) as the kernel does (a full set, a timeout out of range): each one
//! left out alone, the rest applied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Applied, Backend, Change, FirewallError, Generation, Layout, ReconcileReport, Refusal, Target};
use crate::name::JailName;

/// One call, as the daemon made it.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Apply(Layout),
    Change(Vec<Change>),
    Reconcile(Vec<Change>),
    Remove,
}

#[derive(Debug, Default)]
struct Record {
    calls: Vec<Call>,
    layout: Option<Layout>,
    sets: BTreeMap<(JailName, Target), Option<Duration>>,
    /// Elements it refuses to add, with the errno a kernel would give.
    refuse: BTreeMap<(JailName, Target), i32>,
    /// Its commits (every call that changes something), and others' ([`Recording::commit_as_other`]).
    commits: u64,
    others: u32,
}

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    record: Arc<Mutex<Record>>,
}

impl Recording {
    pub fn new() -> Recording {
        Recording::default()
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Every change applied so far (reconciles left out), oldest first.
    pub fn changes(&self) -> Vec<Change> {
        let record = self.lock();
        let applied = record.calls.iter().filter_map(|c| match c {
            Call::Change(changes) => Some(changes.iter().cloned()),
            _ => None,
        });
        applied.flatten().collect()
    }

    /// Whether `target` is in `jail`'s set now, and with which timeout.
    pub fn holds(&self, jail: &str, target: Target) -> Option<Option<Duration>> {
        self.lock().sets.get(&(JailName::from(jail), target)).copied()
    }

    /// From now on, refuses to add `target` to `jail`'s set, as the kernel does with `errno`
    /// (`libc::ENFILE`: the set is full): left out, listed in the answer's `refused`.
    pub fn refuse(&self, jail: &str, target: Target, errno: i32) {
        self.lock().refuse.insert((JailName::from(jail), target), errno);
    }

    /// Takes `target` in `jail` again (the set has room now).
    pub fn accept(&self, jail: &str, target: Target) {
        self.lock().refuse.remove(&(JailName::from(jail), target));
    }

    /// Puts an element in as someone else (or a banjo killed before its save) would have.
    pub fn insert(&self, jail: &str, target: Target, timeout: Option<Duration>) {
        let mut record = self.lock();
        record.sets.insert((JailName::from(jail), target), timeout);
        record.others += 1;
    }

    /// Counts a commit of someone else's in the ruleset's generation.
    pub fn commit_as_other(&self) {
        self.lock().others += 1;
    }
}

impl Record {
    /// The refusal of adding `target` to `jail`, when the test asked for one.
    fn refusal(&self, jail: &JailName, target: Target, action: &str) -> Option<Refusal> {
        let errno = *self.refuse.get(&(jail.clone(), target))?;
        Some(Refusal {
            jail: jail.to_string(),
            target,
            action: action.to_string(),
            error: FirewallError::Kernel {
                action: format!("{action}: {target} in jail {jail}"),
                errno,
                detail: None,
            },
        })
    }

    fn known(&self, jail: &str) -> Result<(), FirewallError> {
        let layout = self
            .layout
            .as_ref()
            .ok_or(FirewallError::NoLayout("changing or listing bans"))?;
        if layout.jails.iter().any(|j| j.name == jail) {
            return Ok(());
        }
        Err(FirewallError::UnknownJail {
            jail: jail.to_string(),
            table: layout.table.clone(),
        })
    }
}

impl Backend for Recording {
    fn apply(&mut self, layout: &Layout) -> Result<(), FirewallError> {
        let mut record = self.lock();
        record.calls.push(Call::Apply(layout.clone()));
        record.commits += 1;
        record
            .sets
            .retain(|(jail, _), _| layout.jails.iter().any(|j| j.name == *jail));
        record.layout = Some(layout.clone());
        Ok(())
    }

    fn change(&mut self, changes: &[Change]) -> Result<Applied, FirewallError> {
        let mut record = self.lock();
        for c in changes {
            record.known(c.jail())?;
        }
        record.calls.push(Call::Change(changes.to_vec()));
        record.commits += 1;
        let mut applied = Applied {
            transactions: 1,
            ..Applied::default()
        };
        for c in changes {
            let key = (c.jail().clone(), c.target());
            match c {
                Change::Add { timeout, .. } => match record.refusal(c.jail(), c.target(), "banning") {
                    Some(refusal) => applied.refused.push(refusal),
                    None => {
                        record.sets.insert(key, *timeout);
                    }
                },
                Change::Remove { .. } => {
                    record.sets.remove(&key);
                }
            };
        }
        Ok(applied)
    }

    fn reconcile(&mut self, wanted: &[Change]) -> Result<ReconcileReport, FirewallError> {
        let mut record = self.lock();
        record.calls.push(Call::Reconcile(wanted.to_vec()));
        record.commits += 1;
        let wanted: BTreeMap<(JailName, Target), Option<Duration>> = wanted
            .iter()
            .filter_map(|c| match c {
                Change::Add {
                    jail,
                    target,
                    timeout,
                } => Some(((jail.clone(), *target), *timeout)),
                Change::Remove { .. } => None,
            })
            .collect();
        let refused: BTreeSet<(JailName, Target)> = wanted
            .keys()
            .filter(|k| record.refuse.contains_key(*k))
            .cloned()
            .collect();
        let wanted: BTreeMap<_, _> = wanted.into_iter().filter(|(k, _)| !refused.contains(k)).collect();
        let report = ReconcileReport {
            removed: record.sets.keys().filter(|k| !wanted.contains_key(*k)).count(),
            added: wanted.keys().filter(|k| !record.sets.contains_key(*k)).count(),
            transactions: 1,
            refused: refused
                .iter()
                .filter_map(|(jail, target)| record.refusal(jail, *target, "reconciling (adding)"))
                .collect(),
            ..ReconcileReport::default()
        };
        record.sets = wanted;
        Ok(report)
    }

    fn list(&mut self, jail: &str) -> Result<Vec<(Target, Option<Duration>)>, FirewallError> {
        let record = self.lock();
        record.known(jail)?;
        let held = record.sets.iter().filter(|((j, _), _)| *j == jail);
        Ok(held.map(|((_, target), timeout)| (*target, *timeout)).collect())
    }

    fn table_exists(&mut self) -> Result<bool, FirewallError> {
        Ok(self.lock().layout.is_some())
    }

    fn remove(&mut self) -> Result<(), FirewallError> {
        let mut record = self.lock();
        record.calls.push(Call::Remove);
        record.commits += 1;
        record.layout = None;
        record.sets.clear();
        Ok(())
    }

    fn generation(&mut self) -> Result<Generation, FirewallError> {
        let record = self.lock();
        Ok(Generation {
            ruleset: (record.commits as u32).wrapping_add(record.others),
            own: record.commits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{BlockType, Family, Hook, JailRules};

    fn layout() -> Layout {
        Layout {
            table: "banjo".into(),
            jails: vec![JailRules {
                name: "sshd".into(),
                hook: Hook::Input,
                family: Family::Inet,
                ports: vec![],
                protocols: vec![],
                blocktype: BlockType::Drop,
            }],
        }
    }

    #[test]
    fn records_calls_and_holds_the_sets_like_a_kernel() {
        let seen = Recording::new();
        let mut fw: Box<dyn Backend> = Box::new(seen.clone());
        let a: Target = "192.0.2.1".parse().unwrap();
        let add = Change::Add {
            jail: "sshd".into(),
            target: a,
            timeout: Some(Duration::from_secs(60)),
        };
        assert!(fw.change(std::slice::from_ref(&add)).is_err(), "no layout yet");
        fw.apply(&layout()).unwrap();
        fw.change(std::slice::from_ref(&add)).unwrap();
        assert_eq!(seen.holds("sshd", a), Some(Some(Duration::from_secs(60))));
        assert_eq!(fw.list("sshd").unwrap(), [(a, Some(Duration::from_secs(60)))]);
        assert!(
            fw.list("postfix").is_err(),
            "an unknown jail is an error, as in the kernel"
        );
        fw.change(&[Change::Remove {
            jail: "sshd".into(),
            target: a,
        }])
        .unwrap();
        assert_eq!(seen.holds("sshd", a), None);
        let report = fw.reconcile(std::slice::from_ref(&add)).unwrap();
        assert_eq!((report.added, report.removed), (1, 0));
        assert_eq!(seen.changes().len(), 2, "reconciles are not changes");
        assert!(matches!(seen.calls()[0], Call::Apply(_)));
    }

    #[test]
    fn a_refused_element_is_left_out_alone_and_listed() {
        let seen = Recording::new();
        let mut fw: Box<dyn Backend> = Box::new(seen.clone());
        fw.apply(&layout()).unwrap();
        let (a, b): (Target, Target) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let add = |target| Change::Add {
            jail: "sshd".into(),
            target,
            timeout: None,
        };
        seen.refuse("sshd", a, libc::ENFILE);
        let applied = fw.change(&[add(a), add(b)]).unwrap();
        assert_eq!(applied.refused.len(), 1);
        assert_eq!(applied.refused[0].target, a);
        assert_eq!(applied.refused[0].error.errno(), Some(libc::ENFILE));
        assert_eq!((seen.holds("sshd", a), seen.holds("sshd", b)), (None, Some(None)));
        let report = fw.reconcile(&[add(a), add(b)]).unwrap();
        assert_eq!(report.refused.len(), 1, "a reconcile refuses it too");
        seen.accept("sshd", a);
        assert!(fw.change(&[add(a)]).unwrap().refused.is_empty());
        assert_eq!(seen.holds("sshd", a), Some(None));
    }
}
