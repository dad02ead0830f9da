//! Enforcement: the firewall, its monitor, and the changes gathered in a loop turn. The
//! changes of one turn go to the kernel together (one batch for the additions, one for the
//! removals). An element the kernel refuses is left out of its batch, the rest go in, and the
//! ledger hears of it (`Bans::kernel_answered`); when the kernel refuses a batch for the table
//! or a set, or someone else changed or removed banjo's table, the table is applied again and
//! reconciled with the ledger's whole view. Its metrics count those re-applies by cause.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use anyhow::{Context, Result};
use jiff::Timestamp;

use super::blocklist::{self, Blocklist};
use super::{Daemon, audit};
use crate::ban::Change;
use crate::config::Config;
use crate::firewall::{Backend, FirewallError, JailRules, Layout, Monitor, ReconcileReport, Refusal};
use crate::metrics::{Counter, Counters, Exposition, Kind};

/// Why the table is applied again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reapply {
    /// The monitor saw someone else change or flush banjo's table.
    ChangedByOthers,
    /// The table check found the table gone (no monitor, or a missed event).
    TableGone,
    /// The kernel refused a batch of bans for the table or a set.
    BatchFailed,
    /// Someone else committed to the ruleset while a reconcile had the monitor deaf (it may
    /// not have been banjo's table: the ruleset's generation does not say).
    OthersCommitted,
}

impl Reapply {
    const ALL: [Reapply; 4] = [
        Reapply::ChangedByOthers,
        Reapply::TableGone,
        Reapply::BatchFailed,
        Reapply::OthersCommitted,
    ];

    /// In the log.
    fn text(self) -> &'static str {
        match self {
            Reapply::ChangedByOthers => "the table was changed by someone else",
            Reapply::TableGone => "the table was gone",
            Reapply::BatchFailed => "a ban failed",
            Reapply::OthersCommitted => "someone else changed the ruleset while banjo put its bans in",
        }
    }

    /// In the metrics.
    fn label(self) -> &'static str {
        match self {
            Reapply::ChangedByOthers => "changed_by_others",
            Reapply::TableGone => "table_gone",
            Reapply::BatchFailed => "batch_failed",
            Reapply::OthersCommitted => "others_committed",
        }
    }
}

pub struct Enforce {
    firewall: Box<dyn Backend>,
    /// Reports changes to banjo's table made by others; without it the table check job
    /// notices a table that is gone (within CHECK_TABLE_EVERY).
    monitor: Option<Monitor>,
    /// The changes of this turn, in the order the ledger made them.
    pending: Vec<Change>,
    reapplies: Counters<Reapply>,
    reapply_errors: Counter,
    /// `[blocklist]`: its entries go in with every reconcile.
    pub blocklist: Blocklist,
}

impl Enforce {
    /// Applies the config's layout (keeping the bans of sets that stay).
    /// Reads the blocklist's files.
    pub fn open(mut firewall: Box<dyn Backend>, monitor: Option<Monitor>, cfg: &Config) -> Result<Enforce> {
        firewall
            .apply(&layout(cfg))
            .context("cannot set up banjo's nftables table")?;
        let mut reapplies = Counters::default();
        for cause in Reapply::ALL {
            reapplies.touch(cause);
        }
        let mut blocklist = Blocklist::default();
        blocklist.reload(cfg);
        Ok(Enforce {
            firewall,
            monitor,
            pending: Vec::new(),
            reapplies,
            reapply_errors: Counter::default(),
            blocklist,
        })
    }

    pub fn firewall(&mut self) -> &mut dyn Backend {
        &mut *self.firewall
    }

    pub fn queue_all(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.pending.extend(changes);
    }

    /// Sends this turn's changes: additions in one batch, then removals in another. Answers
    /// the additions sent and the ones the kernel refused (left out alone); an error for the
    /// additions as a whole is returned (the table must be applied again). A removal's error
    /// or refusal is logged only: the kernel may have timed the element out itself. The
    /// removal of a ban inside a network whose addition the kernel refused is not sent: the
    /// narrower ban (folded into the network by the ledger) keeps blocking until the network
    /// goes in, which takes it out then.
    pub fn flush(&mut self) -> Result<(Vec<Change>, Vec<Refusal>), FirewallError> {
        if self.pending.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (adds, removes): (Vec<Change>, Vec<Change>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(Change::is_add);
        let added = match adds.is_empty() {
            true => Ok(Vec::new()),
            false => self.firewall.change(&adds).map(|a| a.refused).inspect_err(|e| {
                tracing::error!(
                    "nftables: {} ban(s) not applied: {e}; re-applying the table",
                    adds.len()
                )
            }),
        };
        let mut removes = removes;
        if let Ok(refused) = &added {
            removes.retain(|r| {
                !refused.iter().any(|f| {
                    f.jail == r.jail().as_str() && f.target != r.target() && f.target.covers(&r.target())
                })
            });
        }
        if !removes.is_empty() {
            match self.firewall.change(&removes) {
                Ok(applied) => {
                    for r in applied.refused {
                        let (jail, ip) = (&r.jail, r.target);
                        tracing::error!(%jail, %ip, "nftables refused to lift the ban: {}", r.error);
                    }
                }
                Err(e) => tracing::debug!("nftables unban: {e}"),
            }
        }
        Ok((adds, added?))
    }

    /// Makes the sets hold `wanted` (the whole view: start, reload) with the monitor deaf
    /// (`Monitor::deafen`), so that the kernel builds no event for each element it adds: for
    /// 100k bans those events were half of the start-up. Whether anyone else committed
    /// meanwhile is read from the ruleset's generation before and after; `true` in the answer
    /// says someone did, and the caller re-applies the table, listening, as the monitor would
    /// have made it. Without a monitor, or without a generation to read, nothing is deafened.
    pub fn reconcile(&mut self, wanted: &[Change]) -> Result<(ReconcileReport, bool), FirewallError> {
        let Some(monitor) = self.monitor.as_mut() else {
            return Ok((self.firewall.reconcile(wanted)?, false));
        };
        let before = match self.firewall.generation() {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!("reconciling with the monitor listening: {e}");
                return Ok((self.firewall.reconcile(wanted)?, false));
            }
        };
        if let Err(e) = monitor.deafen() {
            tracing::debug!("reconciling with the monitor listening: {e}");
            return Ok((self.firewall.reconcile(wanted)?, false));
        }
        let report = self.firewall.reconcile(wanted);
        let heard = monitor
            .listen()
            .inspect_err(|e| tracing::error!("nftables monitor: {e}"));
        let after = self.firewall.generation();
        let others = match (heard, after) {
            (Ok(()), Ok(after)) => {
                tracing::debug!(?before, ?after, "bans reconciled with the monitor deaf");
                after.others_since(before)
            }
            _ => true,
        };
        Ok((report?, others))
    }

    /// The table applied again for `cfg`, and its sets made to hold `wanted`.
    fn reapply(
        &mut self,
        cfg: &Config,
        wanted: &[Change],
        cause: Reapply,
    ) -> Result<ReconcileReport, FirewallError> {
        self.reapplies.inc(cause);
        let result = self
            .firewall
            .apply(&layout(cfg))
            .and_then(|()| self.firewall.reconcile(wanted));
        if result.is_err() {
            self.reapply_errors.inc();
        }
        result
    }

    /// The re-applies by cause, and those that failed.
    pub fn expose(&self, out: &mut Exposition) {
        out.family(
            "banjo_firewall_reapplies_total",
            Kind::Counter,
            "Times banjo put its nftables table and every ban back, by cause: changed_by_others \
             (someone flushed or changed the table), table_gone, batch_failed, others_committed \
             (someone changed the ruleset while banjo put every ban in, not listening).",
        );
        for (cause, n) in self.reapplies.iter() {
            out.sample(&[("cause", cause.label())], n);
        }
        out.family(
            "banjo_firewall_reapply_errors_total",
            Kind::Counter,
            "Re-applies of the table that failed (tried again at the next table check).",
        );
        out.sample(&[], self.reapply_errors.get());
    }

    /// Whether the table is there; a failed check counts as there (it is checked again).
    pub fn table_exists(&mut self) -> bool {
        self.firewall.table_exists().unwrap_or(true)
    }

    pub fn monitor_fd(&self) -> Option<RawFd> {
        self.monitor.as_ref().map(|m| m.as_fd().as_raw_fd())
    }

    /// After the monitor's fd woke: whether someone else changed banjo's table.
    pub fn changed_by_others(&mut self) -> bool {
        let Some(monitor) = &mut self.monitor else {
            return false;
        };
        monitor.changed().unwrap_or_else(|e| {
            tracing::warn!("nftables monitor: {e}");
            false
        })
    }

    /// Removes the table (`flush_on_stop`).
    pub fn remove_table(&mut self) -> Result<(), FirewallError> {
        self.firewall.remove()
    }
}

impl Daemon {
    /// Sends the changes gathered in this turn and tells the ledger what the kernel made of
    /// them; re-applies the table when the kernel refused a batch.
    pub(super) fn flush(&mut self) {
        match self.enforce.flush() {
            Ok((tried, refused)) => self.bans.kernel_answered(Some(&tried), refused),
            Err(_) => self.reapply(Reapply::BatchFailed),
        }
    }

    /// Makes the sets hold the ledger's whole view (start, reload, a table put back) and
    /// tells the ledger which bans the kernel refused.
    pub(super) fn reconcile(&mut self, now: Timestamp) -> Result<(), FirewallError> {
        let wanted = self.wanted(now);
        let (report, others) = self.enforce.reconcile(&wanted)?;
        self.bans
            .kernel_answered(None, blocklist_refusals(report.refused));
        if others {
            self.reapply(Reapply::OthersCommitted);
        }
        Ok(())
    }

    /// The ledger's whole view and the blocklist's entries.
    fn wanted(&self, now: Timestamp) -> Vec<Change> {
        let mut wanted: Vec<Change> = self.bans.ledger().as_changes(now).collect();
        wanted.extend(self.enforce.blocklist.changes());
        wanted
    }

    /// Re-creates the table and puts every active ban back (after a flush or a failure).
    pub(super) fn reapply(&mut self, cause: Reapply) {
        let why = cause.text();
        let wanted = self.wanted(Timestamp::now());
        match self.enforce.reapply(&self.cfg, &wanted, cause) {
            Ok(report) => {
                self.bans
                    .kernel_answered(None, blocklist_refusals(report.refused));
                tracing::warn!(
                    message_id = audit::FIREWALL_RESTORED_ID,
                    "nftables table {} restored with {} ban(s): {why}",
                    self.cfg.daemon.table,
                    self.bans.ledger().len()
                )
            }
            Err(e) => tracing::error!("cannot restore the nftables table ({why}): {e}"),
        }
    }
}

/// Logs the blocklist entries the kernel refused (they are no ledger's bans) and answers
/// the others.
fn blocklist_refusals(refused: Vec<Refusal>) -> Vec<Refusal> {
    let (list, bans): (Vec<Refusal>, Vec<Refusal>) =
        refused.into_iter().partition(|r| r.jail == blocklist::NAME);
    for r in &list {
        tracing::error!("blocklist: nftables refused {}: {}", r.target, r.error);
    }
    bans
}

/// The firewall's view of the config: the jails, and the blocklist after them.
pub fn layout(cfg: &Config) -> Layout {
    let jails = cfg.jails.iter().map(|j| JailRules {
        name: j.name.clone(),
        hook: j.hook,
        family: j.family,
        ports: j.ports.clone(),
        protocols: j.protocols.clone(),
        blocktype: j.blocktype,
    });
    Layout {
        table: cfg.daemon.table.clone(),
        jails: jails.chain(blocklist::rules(cfg)).collect(),
    }
}
