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
//! - `reload`: SIGHUP and `banjo reload`; `control`: the control socket's questions;
//! - `metrics`: the rooms' counters put together for `banjo metrics`.
//!
//! [`Daemon::start`] is the start-up as named steps; [`Daemon::turn`] is one turn of the loop.
//! [`Parts`] are what a test replaces: the firewall, the resolver, the journal, the signals.
pub mod audit;
mod bans;
mod blocklist;
mod control;
mod enforce;
mod feeds;
mod hot;
mod jails;
pub mod log;
mod metrics;
mod notify;
mod progress;
mod reload;
mod resolver;
mod start;
mod timers;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use jiff::Timestamp;

use crate::config::{self, Config};
use crate::control::Server;
use crate::sys::{self, Signal, Signals};

pub use resolver::{LOOKUP_TIMEOUT, Resolve, SystemResolver};
pub use start::Parts;

use bans::Bans;
use enforce::{Enforce, Reapply};
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

/// Runs until SIGTERM/SIGINT. Errors before READY=1 are fatal; later ones are logged. A config
/// that does not validate is a [`config::ConfigError`] (`banjo run` exits 78 for it).
pub fn run(config_path: &Path, opts: Options) -> Result<()> {
    let cfg = load_config(config_path)?;
    log::init(opts.log, cfg.daemon.loglevel.as_str(), "banjo")?;
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
    /// Reloads so far: one in a turn ends the turn (the pipe indexes changed).
    reloads: reload::Reloads,
    /// Failed writes of the state files, by file.
    save_errors: crate::metrics::Counters<&'static str>,
    started_at: Timestamp,
}

impl Daemon {
    /// Turns until a signal says stop.
    pub fn run_loop(&mut self) -> Result<()> {
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
        if self.feeds.journal_due(Instant::now()) && !woke.contains(&Wake::Journal) {
            self.read_journal()?;
        }
        let generation = self.reloads.generation();
        for wake in woke {
            if self.reloads.generation() != generation {
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
                        self.reapply(Reapply::ChangedByOthers);
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

    /// Until the next expiry, lookup timeout or watchdog ping, at most a second; a few ms in
    /// the journal's hot window; not at all while a journal backlog waits.
    fn sleep(&self, now: Timestamp) -> Duration {
        let mut sleep = self.timers.sleep(Instant::now());
        if let Some(journal) = self.feeds.journal_sleep(Instant::now()) {
            sleep = sleep.min(journal);
        }
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
        let mut entry = crate::source::Entry::default();
        self.feeds.begin_journal_read();
        while self.feeds.next_journal_entry(&mut hits, &mut entry, now)? {
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
        if !self.bans.save() {
            self.save_errors.inc("bans.json");
        }
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
            self.save_errors.inc("progress.json");
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
