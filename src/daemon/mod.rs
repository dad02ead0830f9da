//! The daemon: wires sources → filters → jails → ban ledger → firewall, and talks to systemd.
//!
//! One thread, one poll loop over the journal's fd, the multilog pipes, the signalfd and the
//! nftables monitor. Policy lives in `jail` and `ban`; this module only moves values between
//! them and does the I/O: reading, the firewall's batches, the state files, sd-notify.
pub mod audit;
mod control;
pub mod log;
mod progress;
pub mod signals;
pub mod sys;

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;

use crate::ban::{Ledger, LedgerError, Remaining, Target};
use crate::config::{self, Config, MultilogSource};
use crate::filter::{Filter, MatchSet, Outcome, Scratch};
use crate::firewall::{Element, Firewall, JailRules, Layout, Monitor};
use crate::jail::{self, Decision, Failure, HostAction, IgnoreList, Resolved};
use crate::source::Entry;
use crate::source::journal::{Follower, Location, Route, Start};
use crate::source::multilog::{self, Pipe};
use signals::{Signal, Signals};

/// How often, at most, the ban state and the journal cursor are written.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often, at most, STATUS= is sent to systemd.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How often the table is checked even without a monitor event.
const CHECK_TABLE_EVERY: Duration = Duration::from_secs(10);
/// Journal entries read per loop turn before signals, expiries and bans get their turn.
const ENTRIES_PER_TURN: usize = 20_000;

/// `banjo run`'s options beyond the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub log: log::LogTarget,
    /// Read this journal directory instead of the system journal (like journalctl -D).
    pub journal_dir: Option<PathBuf>,
    /// The control socket's path (`--socket`), when not passed by systemd.
    pub socket: Option<PathBuf>,
}

/// Runs until SIGTERM/SIGINT. Errors before READY=1 are fatal; later ones are logged.
pub fn run(config_path: &Path, opts: Options) -> Result<()> {
    let cfg = config::load(config_path)?;
    cfg.require_jails()?;
    log::init(opts.log, cfg.daemon.loglevel.as_str())?;
    let signals = Signals::open().context("cannot set up signal handling")?;
    let mut d = Daemon::start(config_path, cfg, &opts, signals)?;
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&d.status_text()),
    ]);
    tracing::info!("banjo {} started: {}", env!("CARGO_PKG_VERSION"), d.status_text());
    let result = d.main_loop();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    d.stop();
    result
}

/// One jail at run time: its policy state and compiled filter.
struct RunningJail {
    jail: jail::Jail,
    filter: Arc<Filter>,
}

/// The journal reader and the jails it feeds; route/filter index i is jail `jails[i]`.
struct JournalFeed {
    follower: Follower,
    set: MatchSet,
    jails: Vec<String>,
    routes: Vec<usize>,
}

/// One multilog pipe and the jails it feeds; filter index i is jail `jails[i]`.
struct PipeFeed {
    pipe: Pipe,
    set: MatchSet,
    jails: Vec<String>,
}

struct Daemon {
    config_path: PathBuf,
    cfg: Config,
    journal_location: Location,
    jails: BTreeMap<String, RunningJail>,
    journal: Option<JournalFeed>,
    pipes: Vec<PipeFeed>,
    /// Listen fds systemd passed that no jail has claimed yet (kept for a reload).
    spare_fds: Vec<(String, std::os::fd::OwnedFd)>,
    ledger: Ledger,
    firewall: Firewall,
    monitor: Option<Monitor>,
    signals: Signals,
    bans_path: PathBuf,
    progress_path: PathBuf,
    cursor: Option<String>,
    /// Pending failures read from the progress file, put back into the jails at start.
    restored_pending: BTreeMap<String, Vec<progress::Pending>>,
    pending_bans: Vec<Element>,
    pending_unbans: Vec<(String, Target)>,
    ledger_dirty: bool,
    /// The ban count changed since STATUS= was last sent.
    status_dirty: bool,
    last_status: Instant,
    /// A jail's pending failures changed (a pipe line counted) since the last save.
    pending_dirty: bool,
    last_save: Instant,
    last_table_check: Instant,
    watchdog: Option<Duration>,
    last_watchdog: Instant,
    scratch: Scratch,
    rng: u64,
    /// Journal entries read since start, and whether the backlog was read once.
    entries_read: u64,
    caught_up: bool,
    /// The last read stopped at ENTRIES_PER_TURN with entries left.
    journal_backlog: bool,
    started: Instant,
    started_at: Timestamp,
    /// The control socket (banjo status, ban, unban, reload, explain).
    control: Option<crate::control::Server>,
}

impl Daemon {
    fn start(config_path: &Path, cfg: Config, opts: &Options, signals: Signals) -> Result<Daemon> {
        let state_dir = crate::state::state_dir(cfg.daemon.state_dir.as_deref());
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
        let now = Timestamp::now();
        let bans_path = state_dir.join("bans.json");
        let ledger = load_ledger(&bans_path, now)?;
        let mut firewall = Firewall::open().context("cannot open the nftables netlink socket")?;
        let monitor = match Monitor::open_for(&cfg.daemon.table) {
            Ok(mut m) => {
                m.ignore(firewall.port_id());
                Some(m)
            }
            Err(e) => {
                tracing::warn!(
                    "no nftables monitor ({e}); the table is checked every {}s instead",
                    CHECK_TABLE_EVERY.as_secs()
                );
                None
            }
        };
        firewall
            .apply(&layout(&cfg))
            .context("cannot set up banjo's nftables table")?;
        let mut d = Daemon {
            config_path: config_path.to_path_buf(),
            journal_location: match &opts.journal_dir {
                Some(dir) => Location::Directory(dir.clone()),
                None => Location::System,
            },
            jails: BTreeMap::new(),
            journal: None,
            pipes: Vec::new(),
            spare_fds: multilog::listen_fds().context("cannot take the file descriptors systemd passed")?,
            ledger,
            firewall,
            monitor,
            signals,
            progress_path: state_dir.join("progress.json"),
            bans_path,
            cursor: None,
            restored_pending: BTreeMap::new(),
            pending_bans: Vec::new(),
            pending_unbans: Vec::new(),
            ledger_dirty: false,
            status_dirty: false,
            last_status: Instant::now(),
            pending_dirty: false,
            last_save: Instant::now(),
            last_table_check: Instant::now(),
            watchdog: sd_notify::watchdog_enabled(),
            last_watchdog: Instant::now(),
            scratch: Scratch::default(),
            rng: seed(),
            entries_read: 0,
            caught_up: false,
            journal_backlog: false,
            started: Instant::now(),
            started_at: now,
            control: None,
            cfg,
        };
        d.open_control(opts)?;
        d.adopt_kernel_bans(now);
        d.restore(now)?;
        match progress::Progress::load(&d.progress_path) {
            Ok(Some(p)) => {
                d.cursor = p.cursor;
                d.restored_pending = p.pending;
            }
            Ok(None) => {}
            Err(e) => {
                let moved = crate::ban::quarantine(&d.progress_path, now);
                tracing::error!(
                    "{e}; moved to {}: reading the journal from {} back",
                    moved.map(|p| p.display().to_string()).unwrap_or_default(),
                    "the longest findtime"
                );
            }
        }
        d.build_jails();
        d.open_sources(now)?;
        Ok(d)
    }

    /// The control socket: the fd systemd passed (banjo.socket), else one banjo binds itself.
    fn open_control(&mut self, opts: &Options) -> Result<()> {
        use crate::control::{self, Server};
        let access = control::Access {
            admin_group: self.cfg.daemon.admin_group.clone(),
            read_group: self.cfg.daemon.read_group.clone(),
        };
        let server = match self.spare_fds.iter().position(|(n, _)| n == control::FD_NAME) {
            Some(i) => {
                let (_, fd) = self.spare_fds.swap_remove(i);
                Server::from_fd(fd, access).context("the control socket systemd passed")?
            }
            None => {
                let path =
                    control::socket_path(opts.socket.as_deref(), self.cfg.daemon.runtime_dir.as_deref());
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

    /// Bans in the kernel that the state file does not know (banjo was killed between a ban
    /// and the next save) are taken back into the ledger with the time they have left.
    fn adopt_kernel_bans(&mut self, now: Timestamp) {
        for jail in &self.cfg.jails {
            let Ok(elements) = self.firewall.list(&jail.name) else {
                continue;
            };
            for (target, left) in elements {
                if self.ledger.get(&jail.name, &target).is_some() {
                    continue;
                }
                let until = left.map(|l| crate::ban::time::after(now, l));
                self.ledger.add(jail::BanOrder {
                    jail: jail.name.clone(),
                    target,
                    since: now,
                    until,
                    bantime: left,
                    failures: 0,
                    lines: Vec::new(),
                    count: 0,
                });
                self.ledger_dirty = true;
            }
        }
    }

    /// Lifts the bans of jails the config does not have (any more): a reload that removes a
    /// jail, or a state file from before a jail was removed. The firewall has no sets for them.
    fn drop_unconfigured_jails(&mut self) {
        let gone: Vec<String> = self
            .ledger
            .counts()
            .map(|(jail, _)| jail.to_string())
            .filter(|jail| self.cfg.jail(jail).is_none())
            .collect();
        for name in gone {
            for ban in self.ledger.remove_jail(&name) {
                audit::unban(&ban.jail, &ban.target, "jail removed from the configuration");
            }
            self.ledger_dirty = true;
        }
    }

    /// Puts every active ban of the ledger into the kernel, with the time it has left.
    fn restore(&mut self, now: Timestamp) -> Result<()> {
        self.drop_unconfigured_jails();
        let wanted = self.wanted(now);
        let report = self
            .firewall
            .reconcile(&wanted)
            .context("cannot restore the bans into nftables")?;
        self.kernel_answered(None, report.refused);
        for ban in self.ledger.all() {
            audit::restore(ban);
        }
        Ok(())
    }

    fn wanted(&self, now: Timestamp) -> Vec<Element> {
        self.ledger.remaining(now).map(element).collect()
    }

    /// (Re)builds the running jails from the config, keeping the windows of jails that stay.
    fn build_jails(&mut self) {
        let resolved = resolve_ignores(&self.cfg);
        let mut old = std::mem::take(&mut self.jails);
        for cfg in &self.cfg.jails {
            let ignore = IgnoreList::for_jail(cfg, &resolved);
            for name in ignore.unresolved() {
                tracing::warn!(jail = %cfg.name, "ignoreip: host name {name} does not resolve; it ignores nothing");
            }
            let filter = match Filter::compile(&cfg.filter_def) {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    // config::load compiled it already; this cannot fail unless the file changed
                    tracing::error!(jail = %cfg.name, "filter: {e}");
                    continue;
                }
            };
            let jail = match old.remove(&cfg.name) {
                Some(mut running) => {
                    running.jail.reconfigure(cfg, ignore);
                    running.jail
                }
                None => {
                    let mut jail = jail::Jail::new(cfg, ignore);
                    if let Some(saved) = self.restored_pending.remove(&cfg.name) {
                        let saved = saved.into_iter().map(|p| (p.target, p.failures)).collect();
                        jail.restore_pending(saved, Timestamp::now());
                    }
                    jail
                }
            };
            self.jails.insert(cfg.name.clone(), RunningJail { jail, filter });
        }
    }

    /// Opens the journal reader and the pipes for the jails now configured.
    fn open_sources(&mut self, now: Timestamp) -> Result<()> {
        let journal_jails: Vec<&config::Jail> =
            self.cfg.jails.iter().filter(|j| !j.journal.is_empty()).collect();
        self.journal = None;
        if !journal_jails.is_empty() {
            let mut routes = Vec::new();
            let mut filters = Vec::new();
            let mut names = Vec::new();
            for j in &journal_jails {
                let Some(running) = self.jails.get(&j.name) else {
                    continue;
                };
                let matches: Vec<String> = j.journal.iter().map(|m| m.to_string()).collect();
                routes.push(Route::new(&matches).with_context(|| format!("jails.{}.journal", j.name))?);
                filters.push(running.filter.clone());
                names.push(j.name.clone());
            }
            let start = match &self.cursor {
                Some(c) => Start::After(c.clone()),
                None => {
                    let longest = journal_jails.iter().map(|j| j.findtime).max().unwrap_or_default();
                    Start::Since(crate::ban::time::before(now, longest))
                }
            };
            let follower =
                Follower::open(&self.journal_location, routes, &start).context("cannot read the journal")?;
            self.journal = Some(JournalFeed {
                follower,
                set: MatchSet::new(filters),
                jails: names,
                routes: Vec::new(),
            });
        }
        self.open_pipes()
    }

    /// One pipe per distinct multilog source; pipes that stay are kept open (nothing is lost).
    fn open_pipes(&mut self) -> Result<()> {
        let mut by_source: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for j in &self.cfg.jails {
            if let Some(src) = &j.multilog {
                let key = match src {
                    MultilogSource::FdName(n) => n.clone(),
                    MultilogSource::Fifo(p) => p.display().to_string(),
                };
                by_source.entry(key).or_default().push(j.name.clone());
            }
        }
        let mut old: Vec<PipeFeed> = std::mem::take(&mut self.pipes);
        for (source, jail_names) in by_source {
            let pipe = match old.iter().position(|p| p.pipe.name == source) {
                Some(i) => old.swap_remove(i).pipe,
                None => match self.open_pipe(&source) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!("jails {}: multilog {source}: {e:#}", jail_names.join(", "));
                        continue;
                    }
                },
            };
            let filters = jail_names
                .iter()
                .filter_map(|n| self.jails.get(n).map(|j| j.filter.clone()))
                .collect();
            self.pipes.push(PipeFeed {
                pipe,
                set: MatchSet::new(filters),
                jails: jail_names,
            });
        }
        // a pipe no jail reads any more is closed (systemd keeps the FIFO itself)
        for feed in old {
            tracing::info!("multilog {} is no longer read by any jail", feed.pipe.name);
        }
        Ok(())
    }

    fn open_pipe(&mut self, source: &str) -> Result<Pipe> {
        if source.starts_with('/') {
            return Pipe::open_fifo(Path::new(source))
                .with_context(|| format!("cannot open the FIFO {source}"));
        }
        let i = self.spare_fds.iter().position(|(n, _)| n == source).with_context(|| {
            let passed: Vec<&str> = self.spare_fds.iter().map(|(n, _)| n.as_str()).collect();
            format!(
                "systemd passed no file descriptor named {source:?} (passed: {}); is the .socket unit with \
                 FileDescriptorName={source} enabled and listed in banjo.service's Sockets=?",
                if passed.is_empty() { "none".to_string() } else { passed.join(", ") }
            )
        })?;
        let (name, fd) = self.spare_fds.swap_remove(i);
        Pipe::from_fd(&name, fd).with_context(|| format!("listen fd {name}"))
    }

    fn main_loop(&mut self) -> Result<()> {
        self.read_journal(Timestamp::now())?;
        loop {
            let now = Timestamp::now();
            self.expire(now);
            self.flush_firewall(now);
            self.housekeeping(false);
            let mut fds = vec![self.signals.fd()];
            let journal_fd = match &self.journal {
                Some(j) => Some(j.follower.fd()?),
                None => None,
            };
            fds.extend(journal_fd);
            let monitor_at = fds.len();
            fds.extend(self.monitor.as_ref().map(|m| m.fd().as_raw_fd()));
            let control_at = fds.len();
            fds.extend(self.control.as_ref().map(|c| c.wake_fd()));
            let pipes_at = fds.len();
            fds.extend(self.pipes.iter().filter(|p| !p.pipe.closed).map(|p| p.pipe.fd()));
            let ready = sys::poll(&fds, Some(self.timeout(now)))?;
            if ready[0] {
                for s in self.signals.read()? {
                    match s {
                        Signal::Stop => return Ok(()),
                        Signal::Reload => self.reload(),
                    }
                }
            }
            if journal_fd.is_some() && ready[1] {
                if let Some(j) = &mut self.journal {
                    j.follower.process()?;
                }
                self.read_journal(Timestamp::now())?;
            } else if self.journal_backlog {
                self.read_journal(Timestamp::now())?;
            }
            if self.monitor.is_some() && ready.get(monitor_at) == Some(&true) {
                let changed = self.monitor.as_mut().map(|m| m.changed()).transpose();
                match changed {
                    Ok(Some(true)) => self.reapply("the table was changed by someone else"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("nftables monitor: {e}"),
                }
            }
            if self.control.is_some() && ready.get(control_at) == Some(&true) {
                let server = self.control.take();
                if let Some(server) = &server {
                    server.handle_pending(self);
                }
                self.control = server;
            }
            let open_pipes: Vec<usize> = (0..self.pipes.len())
                .filter(|&i| !self.pipes[i].pipe.closed)
                .collect();
            for (k, i) in open_pipes.into_iter().enumerate() {
                if ready.get(pipes_at + k) == Some(&true) {
                    self.read_pipe(i);
                }
            }
        }
    }

    /// Until the next expiry, watchdog ping or save, at most one second.
    fn timeout(&self, now: Timestamp) -> Duration {
        if self.journal_backlog {
            return Duration::ZERO;
        }
        let mut t = Duration::from_secs(1);
        if let Some(next) = self.ledger.next_expiry() {
            let ms = next.as_millisecond().saturating_sub(now.as_millisecond()).max(0) as u64;
            t = t.min(Duration::from_millis(ms));
        }
        if let Some(w) = self.watchdog {
            t = t.min((w / 2).saturating_sub(self.last_watchdog.elapsed()));
        }
        t
    }

    /// Reads up to ENTRIES_PER_TURN entries; `journal_backlog` says whether more wait, so the
    /// loop comes back at once instead of waiting for the journal fd (which stays quiet for
    /// entries that were written before it last woke).
    fn read_journal(&mut self, now: Timestamp) -> Result<()> {
        self.journal_backlog = false;
        for _ in 0..ENTRIES_PER_TURN {
            let Some(feed) = &mut self.journal else {
                return Ok(());
            };
            let Some(entry) = feed.follower.next_entry(&mut feed.routes)? else {
                if !self.caught_up {
                    self.caught_up = true;
                    tracing::info!(
                        "caught up with the journal: {} entries in {:.3}s",
                        self.entries_read,
                        self.started.elapsed().as_secs_f64()
                    );
                }
                return Ok(());
            };
            self.entries_read += 1;
            let mut hits = Vec::new();
            let routes = &feed.routes;
            feed.set.check(&entry.text, &mut self.scratch, |fi, outcome| {
                if routes.contains(&fi) {
                    hits.push((feed.jails[fi].clone(), outcome));
                }
            });
            for (jail, outcome) in hits {
                self.on_outcome(&jail, outcome, &entry, now);
            }
        }
        self.journal_backlog = true;
        Ok(())
    }

    fn read_pipe(&mut self, i: usize) {
        let now = Timestamp::now();
        let mut entries = Vec::new();
        if let Err(e) = self.pipes[i].pipe.read_available(now, |e| entries.push(e)) {
            tracing::error!("multilog {}: {e}", self.pipes[i].pipe.name);
            return;
        }
        if self.pipes[i].pipe.closed {
            tracing::warn!(
                "multilog {}: the writer closed the pipe for good; it is no longer read",
                self.pipes[i].pipe.name
            );
        }
        for entry in entries {
            let mut hits = Vec::new();
            let feed = &self.pipes[i];
            feed.set.check(&entry.text, &mut self.scratch, |fi, outcome| {
                hits.push((feed.jails[fi].clone(), outcome))
            });
            for (jail, outcome) in hits {
                self.on_outcome(&jail, outcome, &entry, now);
            }
        }
    }

    fn on_outcome(&mut self, jail_name: &str, outcome: Outcome, entry: &Entry, now: Timestamp) {
        let Outcome::Matched(m) = outcome else {
            if let Outcome::BadHost { text, .. } = outcome {
                tracing::debug!(
                    jail = jail_name,
                    "a failregex matched but {text:?} is not an address"
                );
            }
            return;
        };
        let Some(running) = self.jails.get(jail_name) else {
            return;
        };
        let targets = match HostAction::of(&m.host, running.jail.config().usedns) {
            HostAction::Count(t) => vec![t],
            HostAction::Skip => return,
            HostAction::Resolve { name, warn } => {
                if warn {
                    tracing::warn!(
                        jail = jail_name,
                        "failure names host {name}: resolving it (usedns)"
                    );
                }
                sys::resolve(&name).into_iter().map(Target::addr).collect()
            }
        };
        let line = String::from_utf8_lossy(&entry.text);
        let time = entry.time.unwrap_or(now);
        for target in targets {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let random = self.rng;
            let Some(running) = self.jails.get_mut(jail_name) else {
                return;
            };
            let decision = running.jail.failure(
                Failure {
                    target,
                    time,
                    line: &line,
                },
                now,
                &self.ledger,
                random,
            );
            match decision {
                Decision::Ban(order) => self.ban(order, now),
                Decision::Counted { failures } => {
                    self.pending_dirty = true;
                    tracing::debug!(jail = jail_name, ip = %target, "failure {failures}");
                }
                Decision::Ignored { .. } | Decision::Nothing => {}
            }
        }
    }

    fn ban(&mut self, order: jail::BanOrder, now: Timestamp) {
        let (jail, target) = (order.jail.clone(), order.target);
        let added = self.ledger.add(order);
        if !added.changed {
            return;
        }
        self.ledger_dirty = true;
        let timeout = added.until.map(|u| crate::ban::time::timeout(u, now));
        self.pending_bans.push(Element {
            jail: jail.clone(),
            target,
            timeout,
        });
        if let Some(ban) = self.ledger.get(&jail, &target) {
            audit::ban(ban);
        }
    }

    /// Records in the ledger what the kernel made of the bans just put in (`tried`, or every
    /// ban after a reconcile): the refused ones are marked, audited and tried again later; the
    /// others lose an old mark.
    fn kernel_answered(&mut self, tried: Option<&[Element]>, refused: Vec<crate::firewall::Refusal>) {
        let taken: Vec<(String, Target)> = match tried {
            Some(list) => list.iter().map(|e| (e.jail.clone(), e.target)).collect(),
            None => self
                .ledger
                .refused()
                .map(|b| (b.jail.clone(), b.target))
                .collect(),
        };
        let refused: Vec<(String, Target, String)> = refused
            .into_iter()
            .map(|r| (r.jail, r.target, r.error.to_string()))
            .collect();
        let keys: std::collections::HashSet<(&str, Target)> =
            refused.iter().map(|(j, t, _)| (j.as_str(), *t)).collect();
        for (jail, target) in &taken {
            if !keys.contains(&(jail.as_str(), *target)) {
                self.ledger.mark_applied(jail, target);
            }
        }
        for (jail, target, why) in refused {
            let before = self.ledger.get(&jail, &target).and_then(|b| b.refused.clone());
            if self.ledger.mark_refused(&jail, &target, why.clone()) && before.as_ref() != Some(&why) {
                audit::refused(&jail, &target, &why);
            }
        }
    }

    fn expire(&mut self, now: Timestamp) {
        for ban in self.ledger.expire(now) {
            audit::unban(&ban.jail, &ban.target, "bantime over");
            self.pending_unbans.push((ban.jail, ban.target));
            self.ledger_dirty = true;
        }
    }

    /// Sends the bans and unbans gathered in this turn as one batch each.
    fn flush_firewall(&mut self, now: Timestamp) {
        if !self.pending_bans.is_empty() {
            let bans = std::mem::take(&mut self.pending_bans);
            match self.firewall.ban(&bans) {
                Ok(applied) => self.kernel_answered(Some(&bans), applied.refused),
                Err(e) => {
                    tracing::error!(
                        "nftables: {} ban(s) not applied: {e}; re-applying the table",
                        bans.len()
                    );
                    self.reapply_at(now, "a ban failed");
                }
            }
            self.status_dirty = true;
        }
        if !self.pending_unbans.is_empty() {
            let unbans = std::mem::take(&mut self.pending_unbans);
            // the kernel may have expired them already: that is the timeout doing its job
            match self.firewall.unban(&unbans) {
                Ok(applied) => {
                    for r in applied.refused {
                        tracing::error!(jail = %r.jail, ip = %r.target, "nftables refused to lift the ban: {}", r.error);
                    }
                }
                Err(e) => tracing::debug!("nftables unban: {e}"),
            }
            self.status_dirty = true;
        }
    }

    /// Saves state and cursor (at most every SAVE_EVERY, or now when `force`), pings the
    /// watchdog, and checks the table when no monitor watches it.
    fn housekeeping(&mut self, force: bool) {
        // STATUS= at most once a second: sd_notify's send blocks when the manager is slow to
        // read, and a burst of bans must not become a burst of datagrams.
        if self.status_dirty && (force || self.last_status.elapsed() >= STATUS_EVERY) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&self.status_text())]);
            self.status_dirty = false;
            self.last_status = Instant::now();
        }
        // While a backlog is read, progress is saved once it is caught up: a crash meanwhile
        // re-reads from the last saved (cursor, failures) pair, which stay consistent.
        if force || (self.last_save.elapsed() >= SAVE_EVERY && !self.journal_backlog) {
            self.save();
            self.last_save = Instant::now();
        }
        if let Some(w) = self.watchdog
            && self.last_watchdog.elapsed() >= w / 2
        {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            self.last_watchdog = Instant::now();
        }
        if self.last_table_check.elapsed() >= CHECK_TABLE_EVERY {
            self.last_table_check = Instant::now();
            if !self.firewall.table_exists().unwrap_or(true) {
                self.reapply("the table was gone");
            }
            // bans the kernel refused are tried again (a full set may have room now)
            let now = Timestamp::now();
            let retry = self.ledger.refused().filter_map(|b| Remaining::of(b, now));
            self.pending_bans.extend(retry.map(element));
        }
    }

    fn save(&mut self) {
        if self.ledger_dirty {
            match self.ledger.save(&self.bans_path) {
                Ok(()) => self.ledger_dirty = false,
                Err(e) => tracing::error!("cannot save the bans: {e}"),
            }
        }
        let moved = match &mut self.journal {
            Some(feed) => match feed.follower.take_cursor() {
                Ok(Some(c)) => {
                    self.cursor = Some(c);
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::error!("journal cursor: {e}");
                    false
                }
            },
            None => false,
        };
        if moved || self.pending_dirty {
            let pending = self
                .jails
                .iter()
                .map(|(name, j)| {
                    let rows = j.jail.pending().into_iter();
                    (
                        name.clone(),
                        rows.map(|(target, failures)| progress::Pending { target, failures })
                            .collect(),
                    )
                })
                .collect();
            let progress = progress::Progress {
                version: 0,
                cursor: self.cursor.clone(),
                pending,
            };
            match progress.save(&self.progress_path) {
                Ok(()) => self.pending_dirty = false,
                Err(e) => tracing::error!("{e}"),
            }
        }
    }

    fn reapply(&mut self, why: &str) {
        self.reapply_at(Timestamp::now(), why);
    }

    /// Re-creates the table and puts every active ban back (after a flush or a failure).
    fn reapply_at(&mut self, now: Timestamp, why: &str) {
        let result = self
            .firewall
            .apply(&layout(&self.cfg))
            .and_then(|_| self.firewall.reconcile(&self.wanted(now)));
        match result {
            Ok(report) => {
                self.kernel_answered(None, report.refused);
                tracing::warn!(
                    message_id = audit::FIREWALL_RESTORED_ID,
                    "nftables table {} restored with {} ban(s): {why}",
                    self.cfg.daemon.table,
                    self.ledger.len()
                )
            }
            Err(e) => tracing::error!("cannot restore the nftables table ({why}): {e}"),
        }
    }

    /// SIGHUP: the new config, or the old one kept when the new one is bad.
    fn reload(&mut self) {
        self.notify_reloading();
        let result = self.try_reload();
        self.finish_reload(&result);
    }

    fn notify_reloading(&self) {
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Reloading,
            sd_notify::NotifyState::monotonic_usec_now()
                .unwrap_or(sd_notify::NotifyState::Status("reloading")),
        ]);
    }

    fn finish_reload(&mut self, result: &Result<()>) {
        match result {
            Ok(()) => {
                if let Some(c) = &self.control {
                    c.set_access(crate::control::Access {
                        admin_group: self.cfg.daemon.admin_group.clone(),
                        read_group: self.cfg.daemon.read_group.clone(),
                    });
                }
                tracing::info!(
                    message_id = audit::RELOAD_ID,
                    "configuration reloaded: {}",
                    self.status_text()
                );
            }
            Err(e) => {
                tracing::error!(
                    message_id = audit::RELOAD_ID,
                    "reload refused, the running configuration stays: {e:#}"
                );
            }
        }
        let status = self.status_text();
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&status),
        ]);
    }

    fn try_reload(&mut self) -> Result<()> {
        let cfg = config::load(&self.config_path)?;
        cfg.require_jails()?;
        let now = Timestamp::now();
        self.save();
        self.firewall.apply(&layout(&cfg))?;
        self.cfg = cfg;
        self.drop_unconfigured_jails();
        let report = self.firewall.reconcile(&self.wanted(now))?;
        self.kernel_answered(None, report.refused);
        self.build_jails();
        self.open_sources(now)?;
        Ok(())
    }

    fn status_text(&self) -> String {
        let jails = self.cfg.jails.len();
        let banned = self.ledger.len();
        format!(
            "{jails} jail{}, {banned} banned",
            if jails == 1 { "" } else { "s" }
        )
    }

    fn stop(&mut self) {
        self.housekeeping(true);
        if self.cfg.daemon.flush_on_stop {
            match self.firewall.remove() {
                Ok(()) => tracing::info!("flush_on_stop: table {} removed", self.cfg.daemon.table),
                Err(e) => tracing::error!("flush_on_stop: {e}"),
            }
        } else {
            tracing::info!(
                "stopping; {} ban(s) stay in nftables and expire there at their time",
                self.ledger.len()
            );
        }
    }
}

/// A ban as the firewall takes it.
fn element(r: Remaining<'_>) -> Element {
    Element {
        jail: r.jail.to_string(),
        target: r.target,
        timeout: r.timeout,
    }
}

/// The ledger from the state file; a corrupt file is moved aside (never lost) and banjo
/// starts with the bans the kernel still holds.
fn load_ledger(path: &Path, now: Timestamp) -> Result<Ledger> {
    match Ledger::load(path, now, crate::ban::DEFAULT_HISTORY_AGE) {
        Ok(l) => Ok(l),
        Err(e @ LedgerError::Io { .. }) => Err(e.into()),
        Err(e) => {
            let moved = crate::ban::quarantine(path, now);
            tracing::error!(
                "the ban state {} cannot be read ({e}); it was moved to {}; bans still in nftables are kept",
                path.display(),
                moved
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|e| format!("nowhere ({e})"))
            );
            Ok(Ledger::default())
        }
    }
}

/// The firewall's view of the config.
fn layout(cfg: &Config) -> Layout {
    Layout {
        table: cfg.daemon.table.clone(),
        jails: cfg
            .jails
            .iter()
            .map(|j| JailRules {
                name: j.name.clone(),
                hook: j.hook,
                family: j.family,
                ports: j.ports.clone(),
                protocols: j.protocols.clone(),
                blocktype: j.blocktype,
            })
            .collect(),
    }
}

/// Host names of every jail's ignoreip, resolved once per load, and this host's addresses.
fn resolve_ignores(cfg: &Config) -> Resolved {
    let mut names = BTreeMap::new();
    for j in &cfg.jails {
        for name in Resolved::names_in(&j.ignoreip) {
            names
                .entry(name.to_string())
                .or_insert_with(|| sys::resolve(name));
        }
    }
    let own = if cfg.jails.iter().any(|j| j.ignoreself) {
        sys::host_addresses().unwrap_or_else(|e| {
            tracing::warn!("ignoreself: cannot list this host's addresses: {e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    Resolved { names, own }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64 ^ (std::process::id() as u64) << 32) | 1
}
