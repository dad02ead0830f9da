//! The daemon: wires sources → filters → jails → ban ledger → firewall, and talks to systemd.
//! It owns the I/O and the wiring; the policy is in `jail` and `ban`.
//!
//! One thread runs one poll loop over a typed set of wake-ups ([`Wake`]). Its rooms:
//! - `feeds`: the journal and the multilog pipes → (jail, filter outcome, entry);
//! - `jails`: outcomes → failures → the jails' decisions (host names via `resolver`, a pool of
//!   worker threads, so a slow DNS answer never holds up the loop);
//! - `bans`: the ledger, its audit records and bans.json;
//! - `enforce`: the firewall (a [`Backend`]), its monitor and the changes of a turn;
//! - `timers`: the periodic jobs, one `Every` each; `notify`: every sd_notify call;
//! - `reload`: SIGHUP and `banjo reload`; `control`: the control socket's questions.
//!
//! [`Daemon::start`] is the start-up as named steps; [`Daemon::turn`] is one turn of the loop.
//! [`Parts`] are what a test replaces: the firewall, the resolver, the journal, the signals.
pub mod audit;
mod bans;
mod control;
mod enforce;
mod feeds;
mod jails;
pub mod log;
mod notify;
mod progress;
mod reload;
mod resolver;
mod timers;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;

use crate::ban::Change;
use crate::config::{self, Config};
use crate::control::Server;
use crate::firewall::{Backend, Firewall, Monitor};
use crate::name::JailName;
use crate::source::journal::Location;
use crate::sys::{self, Signal, Signals};

pub use resolver::{LOOKUP_TIMEOUT, Resolve, SystemResolver};

use bans::Bans;
use enforce::Enforce;
use feeds::Feeds;
use jails::Jails;
use notify::Notify;
use timers::Timers;

/// `banjo run`'s options beyond the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub log: log::LogTarget,
    /// Read this journal directory instead of the system journal (like journalctl -D).
    pub journal_dir: Option<PathBuf>,
    /// The control socket's path (`--socket`), when not passed by systemd.
    pub socket: Option<PathBuf>,
}

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

/// Runs until SIGTERM/SIGINT. Errors before READY=1 are fatal; later ones are logged. A config
/// that does not validate is a [`config::ConfigError`] (`banjo run` exits 78 for it).
pub fn run(config_path: &Path, opts: Options) -> Result<()> {
    let cfg = load_config(config_path)?;
    log::init(opts.log, cfg.daemon.loglevel.as_str())?;
    let parts = Parts::system(&cfg, &opts)?;
    let mut d = Daemon::start(config_path, cfg, parts)?;
    d.notify.ready(&d.status_line());
    tracing::info!("banjo {} started: {}", env!("CARGO_PKG_VERSION"), d.status_line());
    let result = d.run_loop();
    notify::stopping();
    d.stop();
    result
}

/// The config, with at least one jail.
fn load_config(path: &Path) -> Result<Config, config::ConfigError> {
    let cfg = config::load(path)?;
    cfg.require_jails()?;
    Ok(cfg)
}

/// What woke the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Signal,
    Journal,
    Monitor,
    Control,
    Resolver,
    /// The multilog pipe with this index in the feeds.
    Pipe(usize),
}

/// Whether the loop goes on after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Continue,
    Stop,
}

/// The running daemon: its config and its rooms.
pub struct Daemon {
    config_path: PathBuf,
    cfg: Config,
    feeds: Feeds,
    jails: Jails,
    resolver: resolver::Resolver,
    bans: Bans,
    enforce: Enforce,
    control: Option<Server>,
    signals: Option<Signals>,
    timers: Timers,
    notify: Notify,
    progress_path: PathBuf,
    /// Config generations: a reload in a turn ends the turn (the pipe indexes changed).
    reloads: u64,
    started_at: Timestamp,
}

impl Daemon {
    /// The start-up, step by step: state, firewall, control socket, bans restored, jails,
    /// sources. The caller then says READY=1.
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
            reloads: 0,
            started_at: now,
            cfg,
        };
        // 3. the control socket
        d.open_control(parts.socket.as_deref())?;
        // 4. bans: those the kernel has and the ledger not, then the ledger's into the kernel
        d.adopt_kernel_bans(now);
        d.restore(now)?;
        // 5. jails, with the failures saved before the restart
        d.jails.build(&d.cfg);
        // 6. sources
        let jails = &d.jails;
        d.feeds.open(&d.cfg, |j| jails.filter(j), now)?;
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

    fn access(&self) -> crate::control::Access {
        crate::control::Access {
            admin_group: self.cfg.daemon.admin_group.clone(),
            read_group: self.cfg.daemon.read_group.clone(),
        }
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

    /// Puts every active ban of the ledger into the kernel, with the time it has left.
    fn restore(&mut self, now: Timestamp) -> Result<()> {
        let wanted: Vec<Change> = self.bans.ledger().as_changes(now).collect();
        self.enforce
            .firewall()
            .reconcile(&wanted)
            .context("cannot restore the bans into nftables")?;
        for ban in self.bans.ledger().all() {
            audit::restore(ban);
        }
        Ok(())
    }

    /// Turns until a signal says stop; the journal's backlog is read first.
    pub fn run_loop(&mut self) -> Result<()> {
        self.read_journal()?;
        while self.turn()? == Turn::Continue {}
        Ok(())
    }

    /// One turn: expiries, this turn's changes to the kernel, the jobs that are due; then one
    /// poll over every wake-up source and each one that woke handled, in a fixed order.
    pub fn turn(&mut self) -> Result<Turn> {
        let now = Timestamp::now();
        let expired = self.bans.lift_expired(now);
        self.enforce.queue_all(expired);
        self.flush();
        self.run_due_jobs(Instant::now());
        let (wakes, fds) = self.wake_sources()?;
        let ready = sys::poll(&fds, Some(self.sleep(now)))?;
        let woke: Vec<Wake> = wakes
            .into_iter()
            .zip(ready)
            .filter(|(_, r)| *r)
            .map(|(w, _)| w)
            .collect();
        if self.feeds.backlog() && !woke.contains(&Wake::Journal) {
            self.read_journal()?;
        }
        let generation = self.reloads;
        for wake in woke {
            if self.reloads != generation {
                break; // the sources were rebuilt: what else woke is polled again next turn
            }
            match wake {
                Wake::Signal => {
                    if self.on_signals()? == Turn::Stop {
                        return Ok(Turn::Stop);
                    }
                }
                Wake::Journal => {
                    self.feeds.journal_woke()?;
                    self.read_journal()?;
                }
                Wake::Monitor => {
                    if self.enforce.changed_by_others() {
                        self.reapply("the table was changed by someone else");
                    }
                }
                Wake::Control => {
                    if let Some(server) = self.control.take() {
                        server.handle_pending(self);
                        self.control = Some(server);
                    }
                }
                Wake::Resolver => self.on_resolved(Timestamp::now()),
                Wake::Pipe(i) => self.read_pipe(i),
            }
        }
        Ok(Turn::Continue)
    }

    /// Every fd to poll this turn, with what it means.
    fn wake_sources(&self) -> Result<(Vec<Wake>, Vec<std::os::fd::RawFd>)> {
        let mut sources = Vec::new();
        if let Some(s) = &self.signals {
            sources.push((Wake::Signal, s.fd().as_raw_fd()));
        }
        if let Some(fd) = self.feeds.journal_fd()? {
            sources.push((Wake::Journal, fd));
        }
        if let Some(fd) = self.enforce.monitor_fd() {
            sources.push((Wake::Monitor, fd));
        }
        if let Some(c) = &self.control {
            sources.push((Wake::Control, c.wake_fd().as_raw_fd()));
        }
        sources.push((Wake::Resolver, self.resolver.fd()));
        sources.extend(self.feeds.pipe_fds().map(|(i, fd)| (Wake::Pipe(i), fd)));
        Ok(sources.into_iter().unzip())
    }

    /// Until the next expiry, lookup timeout or watchdog ping, at most a second; not at all
    /// while a journal backlog waits.
    fn sleep(&self, now: Timestamp) -> Duration {
        if self.feeds.backlog() {
            return Duration::ZERO;
        }
        let mut sleep = self.timers.sleep(Instant::now());
        if let Some(next) = self.bans.ledger().next_expiry() {
            sleep = sleep.min(crate::time::left(next, now).unwrap_or_default());
        }
        if let Some(deadline) = self.resolver.next_deadline() {
            sleep = sleep.min(deadline.saturating_duration_since(Instant::now()));
        }
        sleep
    }

    fn on_signals(&mut self) -> Result<Turn> {
        let Some(signals) = &self.signals else {
            return Ok(Turn::Continue);
        };
        for s in signals.read()? {
            match s {
                Signal::Stop => return Ok(Turn::Stop),
                Signal::Reload => self.reload(),
            }
        }
        Ok(Turn::Continue)
    }

    /// Reads up to ENTRIES_PER_TURN journal entries; `feeds.backlog()` then says whether more
    /// wait, so the loop comes back at once.
    fn read_journal(&mut self) -> Result<()> {
        let now = Timestamp::now();
        let mut hits = feeds::Hits::new();
        self.feeds.begin_journal_read();
        while let Some(entry) = self.feeds.next_journal_entry(&mut hits)? {
            for (jail, outcome) in hits.drain(..) {
                self.on_outcome(&jail, outcome, &entry, now);
            }
        }
        Ok(())
    }

    fn read_pipe(&mut self, i: usize) {
        let now = Timestamp::now();
        for (hits, entry) in self.feeds.read_pipe(i, now) {
            for (jail, outcome) in hits {
                self.on_outcome(&jail, outcome, &entry, now);
            }
        }
    }

    /// Writes bans.json and progress.json (the journal cursor with the failures counted up to
    /// it), each when it changed.
    fn save(&mut self) {
        self.bans.save();
        let (cursor, moved) = self.feeds.cursor();
        let cursor = cursor.map(str::to_string);
        let Some(pending) = self.jails.pending(moved) else {
            return;
        };
        let progress = progress::Progress {
            version: 0,
            cursor,
            pending,
        };
        if let Err(e) = progress.save(&self.progress_path) {
            tracing::error!("{e}");
            self.jails.save_failed();
        }
    }

    /// "2 jails, 5 banned": the STATUS= line.
    fn status_line(&self) -> String {
        let jails = self.cfg.jails.len();
        let banned = self.bans.ledger().len();
        format!(
            "{jails} jail{}, {banned} banned",
            if jails == 1 { "" } else { "s" }
        )
    }

    /// The ledger (for tests and the control socket's answers).
    pub fn ledger(&self) -> &crate::ban::Ledger {
        self.bans.ledger()
    }

    /// Saves everything, and removes the table with `flush_on_stop`.
    pub fn stop(&mut self) {
        self.flush();
        self.notify.status(&self.status_line());
        self.save();
        if self.cfg.daemon.flush_on_stop {
            match self.enforce.remove_table() {
                Ok(()) => tracing::info!("flush_on_stop: table {} removed", self.cfg.daemon.table),
                Err(e) => tracing::error!("flush_on_stop: {e}"),
            }
        } else {
            tracing::info!(
                "stopping; {} ban(s) stay in nftables and expire there at their time",
                self.bans.ledger().len()
            );
        }
    }
}
