//! The start-up, as named steps: state, firewall, control socket, bans (of jails no longer
//! configured dropped, the kernel's adopted, the ledger's restored), jails, sources. [`Parts`] are what it runs with besides the config: the real ones, or a test's.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::Timestamp;

use super::bans::Bans;
use super::enforce::Enforce;
use super::feeds::Feeds;
use super::jails::Jails;
use super::notify::{self, Notify};
use super::resolver::{self, Resolve, SystemResolver};
use super::timers::{self, Timers};
use super::{Daemon, Options, audit, progress};
use crate::config::Config;
use crate::control::Server;
use crate::firewall::{Backend, Firewall, Monitor};
use crate::name::JailName;
use crate::source::journal::Location;
use crate::sys::{self, Signals};

/// What the daemon runs with besides its config: the real ones from [`Parts::system`], or a
/// test's (a recording firewall, a slow resolver, a journal directory, no signals).
pub struct Parts {
    pub firewall: Box<dyn Backend>,
    /// Changes to the table by others; `None`: the table check job looks every 10 s.
    pub monitor: Option<Monitor>,
    pub resolver: Arc<dyn Resolve>,
    pub journal: Location,
    /// The control socket's path when systemd passed none (`None`: the runtime directory's).
    pub socket: Option<PathBuf>,
    /// The fds systemd passed, by name (the control socket, multilog FIFOs).
    pub listen_fds: Vec<(String, OwnedFd)>,
    /// SIGHUP/SIGTERM/SIGINT; `None`: the caller stops the loop.
    pub signals: Option<Signals>,
}

impl Parts {
    /// The netlink firewall and its monitor, the system's resolver and journal (or
    /// `--journal-dir`), the fds systemd passed and the signals. Blocks the signals first, so
    /// every thread started later inherits the mask.
    pub fn system(cfg: &Config, opts: &Options) -> Result<Parts> {
        let signals = Signals::open().context("cannot set up signal handling")?;
        let firewall = Firewall::open().context("cannot open the nftables netlink socket")?;
        let monitor = match Monitor::open_for(&cfg.daemon.table) {
            Ok(mut m) => {
                m.ignore(firewall.port_id());
                Some(m)
            }
            Err(e) => {
                let every = timers::CHECK_TABLE_EVERY.as_secs();
                tracing::warn!("no nftables monitor ({e}); the table is checked every {every}s instead");
                None
            }
        };
        Ok(Parts {
            firewall: Box::new(firewall),
            monitor,
            resolver: Arc::new(SystemResolver),
            journal: match &opts.journal_dir {
                Some(dir) => Location::Directory(dir.clone()),
                None => Location::System,
            },
            socket: opts.socket.clone(),
            listen_fds: sys::listen_fds().context("cannot take the file descriptors systemd passed")?,
            signals: Some(signals),
        })
    }
}

impl Daemon {
    /// The start-up, step by step: state, firewall, control socket, bans restored, jails,
    /// sources, the start-up's passing memory given back. The caller then says READY=1.
    pub fn start(config_path: &Path, cfg: Config, parts: Parts) -> Result<Daemon> {
        let now = Timestamp::now();
        // 1. state: bans.json and progress.json
        let state_dir = crate::state::state_dir(cfg.daemon.state_dir.as_deref());
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
        let bans = Bans::open(&state_dir.join("bans.json"), now)?;
        let progress_path = state_dir.join("progress.json");
        let (cursor, restored) = progress::load(&progress_path, now);
        // 2. firewall: the table as the config says
        let enforce = Enforce::open(parts.firewall, parts.monitor, &cfg)?;
        let mut d = Daemon {
            config_path: config_path.to_path_buf(),
            feeds: Feeds::new(parts.journal, parts.listen_fds, cursor),
            jails: Jails::new(restored),
            resolver: resolver::Resolver::new(parts.resolver).context("cannot set up the resolver")?,
            bans,
            enforce,
            control: None,
            signals: parts.signals,
            timers: Timers::new(Instant::now(), notify::watchdog_period()),
            notify: Notify::default(),
            progress_path,
            reloads: Default::default(),
            save_errors: Default::default(),
            started_at: now,
            cfg,
        };
        // 3. the control socket
        d.open_control(parts.socket.as_deref())?;
        // 4. bans: those of jails no longer configured lifted, those the kernel has and the
        //    ledger not taken back, then the ledger's into the kernel
        d.drop_unconfigured_jails();
        d.adopt_kernel_bans(now);
        d.restore(now)?;
        // 5. jails, with the failures saved before the restart
        d.jails.build(&d.cfg, d.bans.ledger());
        d.bans.know_jails(d.cfg.jails.iter().map(|j| &j.name));
        // 6. sources
        let jails = &d.jails;
        d.feeds.open(&d.cfg, |j| jails.filter(j), now)?;
        // 7. the heap's free pages back to the system: reading the state file and putting
        //    every ban into the kernel needed passing buffers as big as the ledger
        crate::sys::release_free_memory();
        Ok(d)
    }

    /// The control socket: the fd systemd passed (banjo.socket), else one banjo binds itself.
    fn open_control(&mut self, socket: Option<&Path>) -> Result<()> {
        use crate::control;
        let access = self.access();
        let server = match self.feeds.take_fd(control::FD_NAME) {
            Some(fd) => Server::from_fd(fd, access).context("the control socket systemd passed")?,
            None => {
                let path = control::socket_path(socket, self.cfg.daemon.runtime_dir.as_deref());
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {} for the control socket", dir.display()))?;
                }
                Server::bind(&path, access)
                    .with_context(|| format!("cannot open the control socket {}", path.display()))?
            }
        };
        self.control = Some(server);
        Ok(())
    }

    pub(super) fn access(&self) -> crate::control::Access {
        crate::control::Access {
            admin_group: self.cfg.daemon.admin_group.clone(),
            read_group: self.cfg.daemon.read_group.clone(),
        }
    }

    /// Bans in bans.json of jails the config no longer has are lifted, as a reload would
    /// have: the firewall has no sets for them, and they must not keep banjo from starting.
    pub(super) fn drop_unconfigured_jails(&mut self) {
        let cfg = &self.cfg;
        self.bans.drop_unconfigured_jails(|jail| cfg.jail(jail).is_some());
    }

    /// Bans in the kernel that the state file does not know (banjo was killed between a ban
    /// and the next save) are taken back into the ledger with the time they have left.
    fn adopt_kernel_bans(&mut self, now: Timestamp) {
        let names: Vec<JailName> = self.cfg.jails.iter().map(|j| j.name.clone()).collect();
        for jail in names {
            let Ok(held) = self.enforce.firewall().list(&jail) else {
                continue;
            };
            for (target, left) in held {
                self.bans.adopt(&jail, target, left, now);
            }
        }
    }

    /// Puts every active ban of the ledger into the kernel, with the time it has left; a ban
    /// the kernel refuses is marked, not fatal.
    fn restore(&mut self, now: Timestamp) -> Result<()> {
        self.reconcile(now)
            .context("cannot restore the bans into nftables")?;
        for (jail, bans) in self.bans.ledger().counts() {
            audit::restore(jail, bans);
        }
        Ok(())
    }
}
