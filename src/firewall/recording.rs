//! A firewall that only writes down what it is asked: the [`Backend`] the daemon's wiring is
//! tested with (tests/pipeline.rs) without root. It keeps every call in order and the sets as a
//! kernel would hold them (without timing anything out: the ledger's expiries remove them), so
//! a restart can adopt and a reconcile can compare. Clones share one record: the test keeps
//! one and hands the daemon another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Backend, Change, FirewallError, Layout, ReconcileReport, Target};
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

    /// Puts an element in as someone else (or a banjo killed before its save) would have.
    pub fn insert(&self, jail: &str, target: Target, timeout: Option<Duration>) {
        self.lock().sets.insert((JailName::from(jail), target), timeout);
    }
}

impl Record {
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
        record
            .sets
            .retain(|(jail, _), _| layout.jails.iter().any(|j| j.name == *jail));
        record.layout = Some(layout.clone());
        Ok(())
    }

    fn change(&mut self, changes: &[Change]) -> Result<(), FirewallError> {
        let mut record = self.lock();
        for c in changes {
            record.known(c.jail())?;
        }
        record.calls.push(Call::Change(changes.to_vec()));
        for c in changes {
            let key = (c.jail().clone(), c.target());
            match c {
                Change::Add { timeout, .. } => record.sets.insert(key, *timeout),
                Change::Remove { .. } => record.sets.remove(&key),
            };
        }
        Ok(())
    }

    fn reconcile(&mut self, wanted: &[Change]) -> Result<ReconcileReport, FirewallError> {
        let mut record = self.lock();
        record.calls.push(Call::Reconcile(wanted.to_vec()));
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
        let report = ReconcileReport {
            removed: record.sets.keys().filter(|k| !wanted.contains_key(*k)).count(),
            added: wanted.keys().filter(|k| !record.sets.contains_key(*k)).count(),
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
        record.layout = None;
        record.sets.clear();
        Ok(())
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
}
