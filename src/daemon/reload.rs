//! Reload (SIGHUP, `systemctl reload`, `banjo reload`): the config is read again; one that
//! does not validate is refused and the running one stays. Jails that stay keep their
//! failure windows and bans; a removed jail's bans are lifted with its sets; pipes that stay
//! stay open; the journal is read on from where it was.

use anyhow::Result;
use jiff::Timestamp;

use super::{Daemon, audit, enforce, load_config, notify};

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
        self.reloads += 1;
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
        let jails = &self.jails;
        self.feeds.open(&self.cfg, |j| jails.filter(j), now)?;
        Ok(())
    }
}
