//! What the control socket asks of the running daemon: the `Handler` side of
//! `crate::control`. Answers come from the ledger and the jails; changes go through them.
use jiff::Timestamp;

use super::Daemon;
use super::metrics::BanCause;
use crate::addr::Target;
use crate::config::BanTime;
use crate::control::{
    BannedAddr, ControlError, Explain, Handler, JailExplain, JailStats, JailStatus, JailSummary,
    MultilineMemory, Status,
};
use crate::name::JailName;

impl Daemon {
    fn config_jail(&self, name: &str) -> Result<&crate::config::Jail, ControlError> {
        self.cfg
            .jail(name)
            .ok_or_else(|| ControlError::no_jail(name, self.cfg.jails.iter().map(|j| j.name.as_str())))
    }

    /// Lifts the bans of `target` now (its own, the networks it lies in, the bans inside
    /// it): ledger, kernel, audit; their failures are forgotten too.
    fn lift(&mut self, jail: &str, target: &Target, why: &str) -> bool {
        let lifted = self.bans.unban(jail, target, why);
        if lifted.is_empty() {
            return false;
        }
        self.jails.forget(jail, target);
        for change in &lifted {
            self.jails.forget(jail, &change.target());
        }
        self.enforce.queue_all(lifted);
        true
    }
}

impl Handler for Daemon {
    fn status(&self) -> Status {
        let jails = self
            .cfg
            .jails
            .iter()
            .map(|j| {
                let ledger = self.bans.ledger();
                let refused = ledger.active(&j.name).filter(|b| b.refused().is_some()).count();
                JailSummary::new(j, ledger.count(&j.name), refused)
            })
            .collect();
        let mut status = Status::new(self.started_at, Timestamp::now(), jails);
        status.blocklist = self.enforce.blocklist.status();
        status
    }

    fn jail_status(&self, jail: &str) -> Result<JailStatus, ControlError> {
        let cfg = self.config_jail(jail)?;
        let now = Timestamp::now();
        let stats = self
            .jails
            .get(jail)
            .map(|j| j.jail.stats(now))
            .unwrap_or_default();
        let banned = self
            .bans
            .ledger()
            .active(jail)
            .map(|b| BannedAddr::new(b, now))
            .collect();
        let mut status = JailStatus::new(cfg, &stats, banned);
        status.multiline = self.feeds.multiline_stats(jail).map(|m| MultilineMemory {
            connections: m.ids,
            evicted: m.evicted,
            expired: m.expired,
        });
        Ok(status)
    }

    fn stats(&self) -> Vec<JailStats> {
        let now = Timestamp::now();
        self.cfg
            .jails
            .iter()
            .map(|j| {
                let stats = self
                    .jails
                    .get(&j.name)
                    .map(|r| r.jail.stats(now))
                    .unwrap_or_default();
                JailStats::new(j, &stats, self.bans.ledger().count(&j.name))
            })
            .collect()
    }

    fn banned(&self, jail: Option<&str>) -> Result<Vec<BannedAddr>, ControlError> {
        let now = Timestamp::now();
        match jail {
            Some(j) => {
                self.config_jail(j)?;
                Ok(self
                    .bans
                    .ledger()
                    .active(j)
                    .map(|b| BannedAddr::new(b, now))
                    .collect())
            }
            None => Ok(self
                .bans
                .ledger()
                .all()
                .map(|b| BannedAddr::new(b, now))
                .collect()),
        }
    }

    fn ban(&mut self, jail: &str, target: Target, time: Option<BanTime>) -> Result<BannedAddr, ControlError> {
        self.config_jail(jail)?;
        let running = self
            .jails
            .get(jail)
            .ok_or_else(|| ControlError::internal("the jail is configured but not running"))?;
        let now = Timestamp::now();
        let order = running.jail.manual_ban(target, time, now, self.bans.ledger());
        let target = order.target;
        let (changes, holder) = self.bans.ban(order, BanCause::Command, now);
        self.enforce.queue_all(changes);
        self.flush();
        // a network it lies in may hold it (a ban inside a banned network is that network's)
        let ban = self
            .bans
            .ledger()
            .get(jail, &holder.unwrap_or(target))
            .ok_or_else(|| ControlError::internal("the ban was not recorded"))?;
        Ok(BannedAddr::new(ban, now))
    }

    fn unban(&mut self, jail: Option<&str>, target: Target) -> Result<Vec<String>, ControlError> {
        let target = target.canonical();
        let jails: Vec<JailName> = match jail {
            Some(j) => vec![self.config_jail(j)?.name.clone()],
            None => self.cfg.jails.iter().map(|j| j.name.clone()).collect(),
        };
        let lifted: Vec<String> = jails
            .into_iter()
            .filter(|j| self.lift(j, &target, "unbanned by hand"))
            .map(String::from)
            .collect();
        self.flush();
        Ok(lifted)
    }

    fn unban_all(&mut self) -> Result<usize, ControlError> {
        let all: Vec<(JailName, Target)> = self
            .bans
            .ledger()
            .all()
            .map(|b| (b.jail.clone(), b.target))
            .collect();
        let n = all
            .iter()
            .filter(|(j, t)| self.lift(j, t, "unbanned by hand (all)"))
            .count();
        self.flush();
        Ok(n)
    }

    fn reload(&mut self, jail: Option<&str>) -> Result<(), ControlError> {
        if let Some(j) = jail {
            self.config_jail(j)?;
        }
        // A jail's reload reads the whole configuration: the other jails keep their state
        // (windows, bans) as they do on SIGHUP.
        self.reload_config()
            .map_err(|e| ControlError::refused(format!("{e:#}")))
    }

    fn explain(&self, addr: Target) -> Explain {
        let now = Timestamp::now();
        let target = addr.canonical();
        let jails = self
            .jails
            .iter()
            .map(|(name, running)| {
                let e = running.jail.explain(&target, now, self.bans.ledger());
                // an address inside a banned network is banned too
                let ban = self.bans.ledger().holding(name, &target);
                JailExplain::new(&e, ban, now)
            })
            .collect();
        Explain {
            addr: target,
            jails,
            blocklist: self.enforce.blocklist.holding(&target),
        }
    }

    fn metrics(&self) -> String {
        self.metrics_text(Timestamp::now())
    }
}
