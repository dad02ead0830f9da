//! Reload (SIGHUP, `systemctl reload`, `banjo reload`): the config is read again; one that
//! does not validate is refused and the running one stays. Jails that stay keep their
//! failure windows and bans; a removed jail's bans are lifted with its sets; pipes that stay
//! stay open; the journal is read on from where it was. [`Reloads`] counts them.

use anyhow::Result;
use jiff::Timestamp;

use super::{Daemon, audit, enforce, load_config, notify};
use crate::metrics::{Counters, Exposition, Kind};

/// The reloads so far: their number (a turn that sees it change stops, the sources were
/// rebuilt) and how they went.
#[derive(Debug)]
pub struct Reloads {
    generation: u64,
    results: Counters<&'static str>,
    last_ok: bool,
}

impl Default for Reloads {
    fn default() -> Reloads {
        let mut results = Counters::default();
        results.touch("ok");
        results.touch("refused");
        Reloads {
            generation: 0,
            results,
            last_ok: true,
        }
    }
}

impl Reloads {
    /// Changes with every reload, taken or refused.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn record(&mut self, ok: bool) {
        self.generation += 1;
        self.results.inc(if ok { "ok" } else { "refused" });
        self.last_ok = ok;
    }

    pub fn expose(&self, out: &mut Exposition) {
        out.family(
            "banjo_reloads_total",
            Kind::Counter,
            "Reloads (SIGHUP, systemctl reload, banjo reload) by result: ok, or refused (the \
             new config did not validate or could not be applied; the running one stayed).",
        );
        for (result, n) in self.results.iter() {
            out.sample(&[("result", result)], n);
        }
        out.family(
            "banjo_config_last_reload_successful",
            Kind::Gauge,
            "1 when the last reload was taken (or none was asked since the start), 0 when refused.",
        );
        out.sample(&[], self.last_ok);
    }
}

impl Daemon {
    /// SIGHUP: the outcome is in the journal (and systemd's READY=1 ends the reload).
    pub(super) fn reload(&mut self) {
        let _ = self.reload_config();
    }

    /// RELOADING=1, the new config or the old one kept, READY=1; the error when refused.
    pub(super) fn reload_config(&mut self) -> Result<()> {
        notify::reloading();
        let result = self.take_new_config();
        match &result {
            Ok(()) => {
                if let Some(c) = &self.control {
                    c.set_access(self.access());
                }
                tracing::info!(
                    message_id = audit::RELOAD_ID,
                    "configuration reloaded: {}",
                    self.status_line()
                );
            }
            Err(e) => tracing::error!(
                message_id = audit::RELOAD_ID,
                "reload refused, the running configuration stays: {e:#}"
            ),
        }
        self.reloads.record(result.is_ok());
        self.notify.ready(&self.status_line());
        result
    }

    fn take_new_config(&mut self) -> Result<()> {
        let cfg = load_config(&self.config_path)?;
        let now = Timestamp::now();
        // the cursor and failures as they are now: the journal is read on from there
        self.save();
        self.enforce.firewall().apply(&enforce::layout(&cfg))?;
        self.cfg = cfg;
        self.drop_unconfigured_jails();
        self.enforce.blocklist.reload(&self.cfg);
        self.reconcile(now)?;
        self.jails.build(&self.cfg, self.bans.ledger());
        self.bans.know_jails(self.cfg.jails.iter().map(|j| &j.name));
        let jails = &self.jails;
        self.feeds.open(&self.cfg, |j| jails.filter(j), now)?;
        Ok(())
    }
}
