//! What the control socket asks of the running daemon: the `Handler` side of
//! `crate::control`. Answers come from the ledger and the jails; changes go through them.
use jiff::Timestamp;

use super::{Daemon, audit};
use crate::ban::Target;
use crate::config::BanTime;
use crate::control::{
    BannedAddr, ControlError, Explain, Handler, JailExplain, JailStats, JailStatus, JailSummary, Status,
};
use crate::jail::{BanHistory, BanOrder};

impl Daemon {
    fn config_jail(&self, name: &str) -> Result<&crate::config::Jail, ControlError> {
        self.cfg
            .jail(name)
            .ok_or_else(|| ControlError::no_jail(name, self.cfg.jails.iter().map(|j| j.name.as_str())))
    }

    /// Lifts one ban now: ledger, kernel, audit; the address's failures are forgotten too.
    fn lift(&mut self, jail: &str, target: &Target, why: &str) -> bool {
        let Some(ban) = self.ledger.remove(jail, target) else {
            return false;
        };
        if let Some(running) = self.jails.get_mut(jail) {
            running.jail.forget(target);
        }
        audit::unban(&ban.jail, &ban.target, why);
        self.pending_unbans.push((ban.jail, ban.target));
        self.ledger_dirty = true;
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
                let refused = self
                    .ledger
                    .active(&j.name)
                    .filter(|b| b.refused.is_some())
                    .count();
                JailSummary::new(j, self.ledger.count(&j.name), refused)
            })
            .collect();
        Status::new(self.started_at, Timestamp::now(), jails)
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
            .ledger
            .active(jail)
            .map(|b| BannedAddr::new(b, now))
            .collect();
        Ok(JailStatus::new(cfg, &stats, banned))
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
                JailStats::new(j, &stats, self.ledger.count(&j.name))
            })
            .collect()
    }

    fn banned(&self, jail: Option<&str>) -> Result<Vec<BannedAddr>, ControlError> {
        let now = Timestamp::now();
        match jail {
            Some(j) => {
                self.config_jail(j)?;
                Ok(self.ledger.active(j).map(|b| BannedAddr::new(b, now)).collect())
            }
            None => Ok(self.ledger.all().map(|b| BannedAddr::new(b, now)).collect()),
        }
    }

    fn ban(&mut self, jail: &str, target: Target, time: Option<BanTime>) -> Result<BannedAddr, ControlError> {
        let bantime = match time {
            Some(t) => t,
            None => self.config_jail(jail)?.bantime,
        };
        self.config_jail(jail)?;
        let now = Timestamp::now();
        let target = target.canonical();
        let bantime = bantime.duration();
        let order = BanOrder {
            jail: jail.to_string(),
            target,
            since: now,
            until: bantime.map(|d| crate::ban::time::after(now, d)),
            bantime,
            failures: 0,
            lines: vec!["banned by hand (banjo ban)".to_string()],
            count: self.ledger.ban_count(&target, Some(jail)),
        };
        self.ban(order, now);
        self.flush_firewall(now);
        let ban = self
            .ledger
            .get(jail, &target)
            .ok_or_else(|| ControlError::internal("the ban was not recorded"))?;
        Ok(BannedAddr::new(ban, now))
    }

    fn unban(&mut self, jail: Option<&str>, target: Target) -> Result<Vec<String>, ControlError> {
        let target = target.canonical();
        let jails: Vec<String> = match jail {
            Some(j) => vec![self.config_jail(j)?.name.clone()],
            None => self.cfg.jails.iter().map(|j| j.name.clone()).collect(),
        };
        let lifted: Vec<String> = jails
            .into_iter()
            .filter(|j| self.lift(j, &target, "unbanned by hand"))
            .collect();
        self.flush_firewall(Timestamp::now());
        Ok(lifted)
    }

    fn unban_all(&mut self) -> Result<usize, ControlError> {
        let all: Vec<(String, Target)> = self.ledger.all().map(|b| (b.jail.clone(), b.target)).collect();
        let n = all
            .iter()
            .filter(|(j, t)| self.lift(j, t, "unbanned by hand (all)"))
            .count();
        self.flush_firewall(Timestamp::now());
        Ok(n)
    }

    fn reload(&mut self, jail: Option<&str>) -> Result<(), ControlError> {
        if let Some(j) = jail {
            self.config_jail(j)?;
        }
        // A jail's reload reads the whole configuration: the other jails keep their state
        // (windows, bans) as they do on SIGHUP.
        self.notify_reloading();
        let result = self.try_reload();
        self.finish_reload(&result);
        result.map_err(|e| ControlError::refused(format!("{e:#}")))
    }

    fn explain(&self, addr: Target) -> Explain {
        let now = Timestamp::now();
        let target = addr.canonical();
        let jails = self
            .jails
            .iter()
            .map(|(name, running)| {
                let e = running.jail.explain(&target, now, &self.ledger);
                let ban = self.ledger.get(name, &target).or_else(|| {
                    // an address inside a banned network is banned too
                    self.ledger.active(name).find(|b| b.target.contains(target.ip()))
                });
                JailExplain::new(&e, ban, now)
            })
            .collect();
        Explain { addr: target, jails }
    }
}
