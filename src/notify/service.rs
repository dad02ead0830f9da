//! The banjo-notify service: start-up steps, the poll loop over the journal, the signals and
//! the jobs that finished, and every sd_notify call. Policy is in `outbox`; the jobs run in
//! `jobs`; this file moves values between them and saves the state.
use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::jobs::{self, Done, Slot};
use super::journal::Records;
use super::log::{self, LogTarget};
use super::outbox::Finish;
use super::state::{self, State};
use super::whois::WhoisCache;
use crate::config::{self, notify::Notify};
use crate::source::journal::Location;
use crate::sys::{self, EventFd, Signal, Signals};

/// Records read per loop turn before finished jobs and signals get their turn.
const RECORDS_PER_TURN: usize = 5_000;
/// The longest sleep: a missed inotify wake-up costs at most this.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// STATUS= at most this often (a slow service manager must not stall the loop).
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// What woke the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// New records in the journal.
    Journal,
    Signal,
    /// A job finished (its `Done` is in the channel).
    Job,
}

/// `banjo notify`'s options beyond the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub log: LogTarget,
    /// Read this journal directory instead of the system journal (like journalctl -D).
    pub journal_dir: Option<PathBuf>,
}

/// Runs until SIGTERM/SIGINT. A config that does not load is a `config::ConfigError` (the
/// caller exits 78); with nothing configured it returns at once.
pub fn run(config_path: &Path, opts: Options) -> Result<()> {
    let cfg = config::load(config_path)?;
    log::init(opts.log, cfg.daemon.loglevel.as_str())?;
    if !cfg.notify.is_configured() {
        tracing::info!(
            "{}: no [notify.mail] and no [[notify.exec]]: banjo-notify has nothing to do",
            config_path.display()
        );
        return Ok(());
    }
    let signals = Signals::open().context("cannot set up signal handling")?;
    let mut service = Service::start(config_path, cfg.notify, &opts, signals)?;
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&service.status_text()),
    ]);
    tracing::info!(
        "banjo-notify {} started: {}",
        env!("CARGO_PKG_VERSION"),
        service.describe()
    );
    let result = service.main_loop();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    service.save();
    result
}

struct Service {
    config_path: PathBuf,
    cfg: Notify,
    records: Records,
    state: State,
    state_path: PathBuf,
    /// Held while running: a second banjo-notify on the same state would mail twice.
    _lock: sys::Locked,
    signals: Signals,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    /// Signalled by a job when it finishes, to wake the poll.
    wake: Arc<EventFd>,
    mail_busy: bool,
    exec_busy: BTreeSet<String>,
    whois: Arc<WhoisCache>,
    tz: TimeZone,
    /// State changed since the last save.
    dirty: bool,
    save_failing: bool,
    /// The last read stopped at RECORDS_PER_TURN: read on without sleeping.
    backlog: bool,
    stopping: bool,
    mails_sent: u64,
    runs_done: u64,
    watchdog: Option<Duration>,
    last_watchdog: Instant,
    last_status: Option<Instant>,
}

impl Service {
    /// Start-up: the state directory and its lock, the state, the journal at the cursor.
    fn start(config_path: &Path, cfg: Notify, opts: &Options, signals: Signals) -> Result<Service> {
        let dir = crate::state::notify_state_dir(cfg.state_dir.as_deref());
        let lock = lock_state_dir(&dir)?;
        let state_path = dir.join(state::FILE);
        let mut state = load_state(&state_path);
        let location = match &opts.journal_dir {
            Some(d) => Location::Directory(d.clone()),
            None => Location::System,
        };
        let (records, start) = Records::open(&location, state.cursor.as_deref(), state.since)
            .context("cannot read banjo's records from the journal")?;
        let first_start = state.cursor.is_none() && state.since.is_none();
        if first_start {
            state.cursor = start;
            if state.cursor.is_none() {
                state.since = Some(Timestamp::now());
            }
        }
        for (queue, n) in state.outbox.forget_unconfigured(&cfg) {
            log::dropped(&format!(
                "{n} job(s) of {queue} dropped: the configuration no longer has it"
            ));
        }
        let (done_tx, done_rx) = mpsc::channel();
        let wake = Arc::new(EventFd::new().context("cannot make the jobs' wake-up eventfd")?);
        let mut service = Service {
            config_path: config_path.to_path_buf(),
            cfg,
            records,
            state,
            state_path,
            _lock: lock,
            signals,
            done_tx,
            done_rx,
            wake,
            mail_busy: false,
            exec_busy: BTreeSet::new(),
            whois: Arc::new(WhoisCache::new("whois")),
            tz: TimeZone::system(),
            dirty: first_start,
            save_failing: false,
            backlog: false,
            stopping: false,
            mails_sent: 0,
            runs_done: 0,
            watchdog: sd_notify::watchdog_enabled(),
            last_watchdog: Instant::now(),
            last_status: None,
        };
        service.save();
        Ok(service)
    }

    fn main_loop(&mut self) -> Result<()> {
        loop {
            if !self.stopping {
                self.read_records()?;
            }
            let now = Timestamp::now();
            if self.state.outbox.flush_due(now) > 0 {
                self.dirty = true;
            }
            // Saved before anything starts: what a job is about to do is on disk first.
            self.save();
            if self.stopping {
                if !self.mail_busy && self.exec_busy.is_empty() {
                    return Ok(());
                }
            } else {
                self.dispatch(now);
            }
            self.housekeeping();
            for wake in self.wait(now)? {
                match wake {
                    Wake::Journal => self.records.process()?,
                    Wake::Signal => {
                        for signal in self.signals.read()? {
                            match signal {
                                Signal::Stop => self.stopping = true,
                                Signal::Reload => self.reload(),
                            }
                        }
                    }
                    Wake::Job => {
                        self.wake.clear();
                        while let Ok(done) = self.done_rx.try_recv() {
                            self.finished(done);
                        }
                    }
                }
            }
        }
    }

    /// One poll over the wake-up sources, until [`Service::timeout`]; what woke, in the
    /// order of [`Wake`].
    fn wait(&self, now: Timestamp) -> Result<Vec<Wake>> {
        let sources = [
            (Wake::Journal, self.records.fd()?),
            (Wake::Signal, self.signals.fd().as_raw_fd()),
            (Wake::Job, self.wake.as_fd().as_raw_fd()),
        ];
        let fds: Vec<_> = sources.iter().map(|&(_, fd)| fd).collect();
        let ready = sys::poll(&fds, Some(self.timeout(now))).context("poll")?;
        Ok(sources
            .into_iter()
            .zip(ready)
            .filter_map(|((wake, _), ready)| ready.then_some(wake))
            .collect())
    }

    /// Takes the new records into the outbox (at most RECORDS_PER_TURN).
    fn read_records(&mut self) -> Result<()> {
        let mut n = 0;
        while n < RECORDS_PER_TURN {
            let Some(record) = self.records.next_record()? else {
                break;
            };
            n += 1;
            self.state.cursor = Some(record.cursor);
            self.state.since = None;
            self.dirty = true;
            let event = match record.event {
                Ok(e) => e,
                Err(e) => {
                    log::dropped(&format!("a banjo record was skipped: {e}"));
                    continue;
                }
            };
            let taken = self.state.outbox.take(&event, &self.cfg);
            tracing::debug!(
                jail = %event.jail,
                ip = %event.target,
                "{} of {} in {}: mail {:?}, commands {:?}",
                event.kind.as_str(),
                event.target,
                event.jail,
                taken.mail,
                taken.execs
            );
            for queue in taken.full {
                log::dropped(&format!(
                    "the {} of {} in {} was dropped from {queue}: its queue is full \
                     ({} jobs wait; is the command or sendmail hanging?)",
                    event.kind.as_str(),
                    event.target,
                    event.jail,
                    super::outbox::QUEUE_LIMIT
                ));
            }
        }
        self.backlog = n == RECORDS_PER_TURN;
        Ok(())
    }

    /// Starts the first mail and each command's first run, where nothing runs yet.
    fn dispatch(&mut self, now: Timestamp) {
        if !self.mail_busy
            && let (Some(job), Some(cfg)) = (self.state.outbox.mail_ready(now), &self.cfg.mail)
        {
            self.mail_busy = true;
            jobs::spawn_mail(
                job.clone(),
                cfg.clone(),
                self.whois.clone(),
                self.tz.clone(),
                self.done_tx.clone(),
                wake_fn(&self.wake),
            );
        }
        for exec in &self.cfg.exec {
            if self.exec_busy.contains(&exec.name) {
                continue;
            }
            if let Some(job) = self.state.outbox.exec_ready(&exec.name, now) {
                self.exec_busy.insert(exec.name.clone());
                let wake = wake_fn(&self.wake);
                jobs::spawn_exec(exec.clone(), job.event.clone(), self.done_tx.clone(), wake);
            }
        }
    }

    /// A job reported back: the outbox learns the outcome, the log says it.
    fn finished(&mut self, done: Done) {
        let now = Timestamp::now();
        self.dirty = true;
        match done.slot {
            Slot::Mail => {
                self.mail_busy = false;
                let Some(job) = self.state.outbox.mails.front().filter(|j| j.id == done.id) else {
                    return; // dropped by a reload meanwhile
                };
                let attempt = job.attempts + 1;
                let cfg = self.cfg.mail.as_ref();
                let why = done.run.describe(cfg.map_or(Duration::ZERO, |c| c.timeout));
                let finish = self.state.outbox.mail_finished(done.run.ok(), now, cfg);
                let to = cfg.map(|c| c.dest.join(", ")).unwrap_or_default();
                log::mail(&done.subject, &to, attempt, &why, &done.run, finish);
                if finish == Finish::Done {
                    self.mails_sent += 1;
                }
            }
            Slot::Exec(name) => {
                self.exec_busy.remove(&name);
                let Some(job) = self.state.outbox.execs.get(&name).and_then(|q| q.front()) else {
                    return;
                };
                if job.event.id != done.id {
                    return;
                }
                let (event, attempt) = (job.event.clone(), job.attempts + 1);
                let cfg = self.cfg.exec.iter().find(|e| e.name == name);
                let why = done.run.describe(cfg.map_or(Duration::ZERO, |c| c.timeout));
                let finish = self.state.outbox.exec_finished(&name, done.run.ok(), now, cfg);
                log::exec(&name, &event, attempt, &why, &done.run, finish);
                self.runs_done += 1;
            }
        }
    }

    /// SIGHUP: the new config's [notify], or the running one when the new one is refused.
    fn reload(&mut self) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
        match config::load(&self.config_path) {
            Ok(cfg) => {
                if cfg.notify.state_dir != self.cfg.state_dir {
                    tracing::warn!("[notify] state_dir changed: it takes effect at the next start");
                }
                self.cfg = cfg.notify;
                for (queue, n) in self.state.outbox.forget_unconfigured(&self.cfg) {
                    log::dropped(&format!(
                        "{n} job(s) of {queue} dropped: the configuration no longer has it"
                    ));
                    self.dirty = true;
                }
                self.tz = TimeZone::system();
                if self.cfg.is_configured() {
                    tracing::info!("configuration reloaded: {}", self.describe());
                } else {
                    tracing::warn!(
                        "configuration reloaded: no [notify.mail] and no [[notify.exec]] left; \
                         banjo-notify idles (systemctl stop banjo-notify)"
                    );
                }
            }
            Err(e) => tracing::error!("configuration not reloaded, the running one stays: {e}"),
        }
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&self.status_text()),
        ]);
    }

    /// Writes the state if it changed. A failed write is logged and the loop goes on: a mail
    /// sent without its state saved may be sent twice after a crash, which beats not sending.
    fn save(&mut self) {
        if !self.dirty {
            return;
        }
        match self.state.save(&self.state_path) {
            Ok(()) => {
                self.dirty = false;
                if std::mem::take(&mut self.save_failing) {
                    tracing::info!("{} written again", self.state_path.display());
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut self.save_failing, true) {
                    tracing::error!("cannot save the state: {e}; mails may be sent twice after a restart");
                }
            }
        }
    }

    /// Until the next due digest or retry, the watchdog, at most MAX_SLEEP; zero in a backlog.
    fn timeout(&self, now: Timestamp) -> Duration {
        if self.backlog {
            return Duration::ZERO;
        }
        let busy = |queue: Option<&str>| match queue {
            None => self.mail_busy,
            Some(name) => self.exec_busy.contains(name),
        };
        let mut t = MAX_SLEEP;
        if let Some(due) = self.state.outbox.next_due(busy) {
            let left = Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO);
            t = t.min(left);
        }
        if let Some(w) = self.watchdog {
            t = t.min((w / 2).saturating_sub(self.last_watchdog.elapsed()));
        }
        t
    }

    /// WATCHDOG=1 and STATUS=, each at most as often as needed.
    fn housekeeping(&mut self) {
        if let Some(w) = self.watchdog
            && self.last_watchdog.elapsed() >= w / 2
        {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            self.last_watchdog = Instant::now();
        }
        if self.last_status.is_none_or(|t| t.elapsed() >= STATUS_EVERY) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&self.status_text())]);
            self.last_status = Some(Instant::now());
        }
    }

    fn status_text(&self) -> String {
        let (mails, digests, runs) = self.state.outbox.sizes();
        format!(
            "{} mail(s) sent, {} command run(s); waiting: {mails} mail(s), {digests} digest(s), \
             {runs} command run(s)",
            self.mails_sent, self.runs_done
        )
    }

    /// What this banjo-notify does, for the start-up log line.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.cfg.mail {
            let events: Vec<&str> = m.events.iter().map(|e| e.as_str()).collect();
            parts.push(format!(
                "mails on {} of {} to {} via {}",
                events.join("/"),
                m.jails,
                m.dest.join(", "),
                m.command.program()
            ));
        }
        for e in &self.cfg.exec {
            parts.push(format!("exec {}", e.name));
        }
        format!("{}; state {}", parts.join(", "), self.state_path.display())
    }
}

/// A closure for a job thread to call when it has sent its `Done`: wakes the loop's poll.
fn wake_fn(wake: &Arc<EventFd>) -> impl FnOnce() + Send + 'static {
    let wake = Arc::clone(wake);
    move || wake.signal()
}

/// The state; a damaged file is moved aside (and logged) and banjo-notify starts afresh.
fn load_state(path: &Path) -> State {
    match State::load(path) {
        Ok(Some(state)) => state,
        Ok(None) => State::default(),
        Err(e) => {
            let aside = crate::ban::quarantine(path, Timestamp::now())
                .map(|p| format!("moved to {}", p.display()))
                .unwrap_or_else(|q| format!("and cannot be moved aside: {q}"));
            log::dropped(&format!(
                "{e}; {aside}; starting after the newest record (records since the last \
                 good save are not mailed)"
            ));
            State::default()
        }
    }
}

/// Creates the state directory if needed and takes an exclusive lock in it.
fn lock_state_dir(dir: &Path) -> Result<sys::Locked> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let path = dir.join("notify.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match sys::try_lock_exclusive(file) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => anyhow::bail!(
            "another banjo-notify runs with the state directory {} (lock {} held)",
            dir.display(),
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}
