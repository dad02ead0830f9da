//! Feeds: the journal and the multilog pipes, each with the jails it feeds and their filters
//! compiled into one match set. A feed reads entries and turns each into hits: (jail,
//! [`Outcome`]) pairs handed on with the entry. [`Feed::check`] is the one place an entry
//! meets the filters. A feed with a multi-line filter (sshd's connections) keeps its
//! `SourceLines`: the journal's one per reader, each filter seeing only its jail's entries,
//! and one per pipe. A reload starts them afresh (a connection open across it is judged by
//! its remaining lines alone).
//!
//! The journal is read at most [`ENTRIES_PER_TURN`] entries per loop turn, so signals,
//! expiries and bans get their turn during a long backlog; [`Feeds::backlog`] then says the
//! loop must come back at once (the journal's fd stays quiet for entries written before it
//! last woke). Pipes are read until they would block.
//!
//! Its metrics: entries and lines read per source, the ones dropped (overlong pipe lines,
//! journal entries that cannot be read), and how far behind the journal the reader is.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::Timestamp;

use crate::config::{self, Config, MultilogSource};
use crate::filter::{Filter, MatchSet, MultilineStats, Outcome, Scratch, SourceLines};
use crate::metrics::{Exposition, Kind};
use crate::name::JailName;
use crate::source::Entry;
use crate::source::journal::{Follower, Location, Route, Start};
use crate::source::multilog::Pipe;

use super::hot::HotWindow;

/// Journal entries read per loop turn (those no jail reads too) before signals, expiries and
/// bans get their turn.
pub const ENTRIES_PER_TURN: usize = 20_000;

/// What the filters found in one entry: the jail and its filter's outcome, per hit.
pub type Hits = Vec<(JailName, Outcome)>;

/// A source and the jails it feeds: filter `i` of `set` is jail `jails[i]`'s.
struct Feed<S> {
    source: S,
    set: MatchSet,
    jails: Vec<JailName>,
    /// What the multi-line filters of the set remember of this source's lines (sshd's
    /// connections); None when no filter spans lines, and then each line is judged alone.
    lines: Option<SourceLines>,
}

impl<S> Feed<S> {
    fn new(source: S, filters: Vec<Arc<Filter>>, jails: Vec<JailName>) -> Feed<S> {
        let set = MatchSet::new(filters);
        let multi_line = set.filters().iter().any(|f| f.is_multiline());
        let lines = multi_line.then(|| SourceLines::new(&set));
        Feed {
            source,
            set,
            jails,
            lines,
        }
    }

    /// Runs every filter of the feed over `entry` in one pass; each filter that `takes` (the
    /// journal's routes: the jails whose matches the entry fits) and does not miss is a hit.
    /// `now` stands in for the time of an entry that has none (multi-line memory ages by it).
    fn check(
        &mut self,
        entry: &Entry,
        now: Timestamp,
        scratch: &mut Scratch,
        takes: impl Fn(usize) -> bool,
        hits: &mut Hits,
    ) {
        let jails = &self.jails;
        let hit = |i: usize, outcome| hits.push((jails[i].clone(), outcome));
        match &mut self.lines {
            None => self.set.check_taken(&entry.text, scratch, takes, hit),
            Some(lines) => {
                let time = entry.time.unwrap_or(now);
                lines.feed(&self.set, &entry.text, time, scratch, takes, hit);
            }
        }
    }

    /// What jail `name`'s filter remembers of this source, if it reads it.
    fn multiline_stats(&self, name: &str) -> Option<MultilineStats> {
        let lines = self.lines.as_ref()?;
        let i = self.jails.iter().position(|j| j.as_str() == name)?;
        Some(lines.stats_of(i))
    }
}

/// Every source the configured jails read.
pub struct Feeds {
    location: Location,
    journal: Option<Feed<Follower>>,
    /// The journal routes (jail indexes) of the entry just read.
    routes: Vec<usize>,
    pipes: Vec<Feed<Pipe>>,
    /// Listen fds systemd passed that no jail has claimed yet (kept for a reload).
    spare_fds: Vec<(String, OwnedFd)>,
    /// The journal cursor last taken for the progress file.
    cursor: Option<String>,
    scratch: Scratch,
    /// Entries this read may still take.
    budget: usize,
    /// Entries this read took.
    taken: usize,
    backlog: bool,
    /// Looks at the journal every few ms for a while after it moved (see `hot`).
    hot: HotWindow,
    entries_read: u64,
    caught_up: bool,
    started: Instant,
    /// The loop thread's CPU time when the journal was opened: the "caught up" line says
    /// what the backlog cost, which a busy machine's wall clock does not.
    started_cpu: std::time::Duration,
    /// The log time of the last journal entry read.
    last_entry: Option<Timestamp>,
    /// Undecodable entries of journal readers closed by a reload.
    undecodable_before: u64,
}

impl Feeds {
    /// No source open yet; `cursor` is where the journal is read on from (the progress file).
    pub fn new(location: Location, spare_fds: Vec<(String, OwnedFd)>, cursor: Option<String>) -> Feeds {
        Feeds {
            location,
            journal: None,
            routes: Vec::new(),
            pipes: Vec::new(),
            spare_fds,
            cursor,
            scratch: Scratch::default(),
            budget: 0,
            taken: 0,
            backlog: false,
            hot: HotWindow::default(),
            entries_read: 0,
            caught_up: false,
            started: Instant::now(),
            started_cpu: crate::sys::thread_cpu_time(),
            last_entry: None,
            undecodable_before: 0,
        }
    }

    /// Takes a listen fd systemd passed under `name` (the control socket's).
    pub fn take_fd(&mut self, name: &str) -> Option<OwnedFd> {
        let i = self.spare_fds.iter().position(|(n, _)| n == name)?;
        Some(self.spare_fds.swap_remove(i).1)
    }

    /// (Re)opens the sources of the configured jails: the journal reader (from the cursor, or
    /// the longest findtime back) and one pipe per distinct multilog source (pipes that stay
    /// are kept open, so nothing written to them is lost). `filter` gives a jail's filter.
    pub fn open(
        &mut self,
        cfg: &Config,
        filter: impl Fn(&str) -> Option<Arc<Filter>>,
        now: Timestamp,
    ) -> Result<()> {
        self.open_journal(cfg, &filter, now)?;
        self.open_pipes(cfg, &filter);
        Ok(())
    }

    fn open_journal(
        &mut self,
        cfg: &Config,
        filter: &impl Fn(&str) -> Option<Arc<Filter>>,
        now: Timestamp,
    ) -> Result<()> {
        if let Some(old) = self.journal.take() {
            self.undecodable_before += old.source.undecodable();
        }
        let readers: Vec<&config::Jail> = cfg.jails.iter().filter(|j| !j.journal.is_empty()).collect();
        if readers.is_empty() {
            return Ok(());
        }
        let (mut routes, mut filters, mut jails) = (Vec::new(), Vec::new(), Vec::new());
        for j in &readers {
            let Some(f) = filter(&j.name) else { continue };
            let matches: Vec<String> = j.journal.iter().map(|m| m.to_string()).collect();
            routes.push(Route::new(&matches).with_context(|| format!("jails.{}.journal", j.name))?);
            filters.push(f);
            jails.push(j.name.clone());
        }
        let start = match &self.cursor {
            Some(c) => Start::After(c.clone()),
            None => {
                let longest = readers.iter().map(|j| j.findtime).max().unwrap_or_default();
                Start::Since(crate::time::before(now, longest))
            }
        };
        let source = Follower::open(&self.location, routes, &start).context("cannot read the journal")?;
        self.journal = Some(Feed::new(source, filters, jails));
        // what was written since the cursor (or within findtime) waits: read it before sleeping
        self.backlog = true;
        self.started = Instant::now();
        self.started_cpu = crate::sys::thread_cpu_time();
        Ok(())
    }

    fn open_pipes(&mut self, cfg: &Config, filter: &impl Fn(&str) -> Option<Arc<Filter>>) {
        let mut by_source: BTreeMap<String, Vec<JailName>> = BTreeMap::new();
        for j in &cfg.jails {
            if let Some(src) = &j.multilog {
                let key = match src {
                    MultilogSource::FdName(n) => n.clone(),
                    MultilogSource::Fifo(p) => p.display().to_string(),
                };
                by_source.entry(key).or_default().push(j.name.clone());
            }
        }
        let mut old = std::mem::take(&mut self.pipes);
        for (name, jails) in by_source {
            let source = match old.iter().position(|p| p.source.name == name) {
                Some(i) => old.swap_remove(i).source,
                None => match self.open_pipe(&name) {
                    Ok(p) => p,
                    Err(e) => {
                        let names: Vec<&str> = jails.iter().map(|j| j.as_str()).collect();
                        tracing::error!("jails {}: multilog {name}: {e:#}", names.join(", "));
                        continue;
                    }
                },
            };
            let filters = jails.iter().filter_map(|j| filter(j)).collect();
            self.pipes.push(Feed::new(source, filters, jails));
        }
        // a pipe no jail reads any more is closed (systemd keeps the FIFO itself)
        for feed in old {
            tracing::info!("multilog {} is no longer read by any jail", feed.source.name);
        }
    }

    fn open_pipe(&mut self, source: &str) -> Result<Pipe> {
        if source.starts_with('/') {
            return Pipe::open_fifo(Path::new(source))
                .with_context(|| format!("cannot open the FIFO {source}"));
        }
        let Some(fd) = self.take_fd(source) else {
            let passed: Vec<&str> = self.spare_fds.iter().map(|(n, _)| n.as_str()).collect();
            anyhow::bail!(
                "systemd passed no file descriptor named {source:?} (passed: {}); is the .socket unit with \
                 FileDescriptorName={source} enabled and listed in banjo.service's Sockets=?",
                if passed.is_empty() {
                    "none".to_string()
                } else {
                    passed.join(", ")
                }
            );
        };
        Pipe::from_fd(source, fd).with_context(|| format!("listen fd {source}"))
    }

    /// The journal's fd, to poll, when a jail reads the journal.
    pub fn journal_fd(&self) -> Result<Option<RawFd>> {
        Ok(match &self.journal {
            Some(j) => Some(j.source.fd()?),
            None => None,
        })
    }

    /// (index, fd) of every pipe still open, to poll.
    pub fn pipe_fds(&self) -> impl Iterator<Item = (usize, RawFd)> + '_ {
        let open = self.pipes.iter().enumerate().filter(|(_, p)| !p.source.closed);
        open.map(|(i, p)| (i, p.source.fd().as_raw_fd()))
    }

    /// The last journal read stopped at [`ENTRIES_PER_TURN`] with entries left.
    pub fn backlog(&self) -> bool {
        self.backlog
    }

    /// After the journal's fd woke: lets sd-journal take in rotated or new files. Opens the
    /// hot window: more entries are likely near.
    pub fn journal_woke(&mut self) -> Result<()> {
        if let Some(j) = &mut self.journal {
            j.source.process()?;
            self.hot.moved(Instant::now());
        }
        Ok(())
    }

    /// Whether the journal is to be looked at this turn although its fd did not wake: a
    /// backlog waits, or the hot window is open.
    pub fn journal_due(&self, now: Instant) -> bool {
        self.backlog || self.hot.open(now)
    }

    /// How long the loop may sleep before the journal is to be looked at again, when that is
    /// sooner than its fd would say: zero during a backlog, a few ms in the hot window.
    pub fn journal_sleep(&self, now: Instant) -> Option<std::time::Duration> {
        if self.backlog {
            return Some(std::time::Duration::ZERO);
        }
        self.hot.sleep(now)
    }

    /// Starts a read of the journal: up to [`ENTRIES_PER_TURN`] entries from here.
    pub fn begin_journal_read(&mut self) {
        self.budget = ENTRIES_PER_TURN;
        self.taken = 0;
        self.backlog = false;
    }

    /// The read ended: if it took entries, the hot window reopens from now.
    fn end_journal_read(&mut self) {
        if self.taken > 0 {
            self.hot.moved(Instant::now());
        }
    }

    /// The next journal entry that some jail's matches select, into `entry` (its buffer
    /// reused: nothing allocated per entry once warm), with its hits (`hits` is overwritten);
    /// false when the journal has no more, or this read's budget is spent (then
    /// [`Feeds::backlog`] is true). `now` stands in for an entry's time when it has none.
    pub fn next_journal_entry(&mut self, hits: &mut Hits, entry: &mut Entry, now: Timestamp) -> Result<bool> {
        hits.clear();
        let Some(feed) = &mut self.journal else {
            return Ok(false);
        };
        if !feed.source.read_next(&mut self.routes, &mut self.budget, entry)? {
            self.end_journal_read();
            if self.budget == 0 {
                self.backlog = true;
                return Ok(false);
            }
            if !self.caught_up {
                self.caught_up = true;
                tracing::info!(
                    "caught up with the journal: {} entries in {:.3}s (CPU {:.3}s)",
                    self.entries_read,
                    self.started.elapsed().as_secs_f64(),
                    (crate::sys::thread_cpu_time().saturating_sub(self.started_cpu)).as_secs_f64()
                );
            }
            return Ok(false);
        };
        self.entries_read += 1;
        self.taken += 1;
        self.last_entry = entry.time;
        let routes = &self.routes;
        feed.check(entry, now, &mut self.scratch, |i| routes.contains(&i), hits);
        Ok(true)
    }

    /// What pipe `i` has: each entry some filter hit, with its hits.
    pub fn read_pipe(&mut self, i: usize, now: Timestamp) -> Vec<(Hits, Entry)> {
        let mut out = Vec::new();
        let Some(feed) = self.pipes.get_mut(i) else {
            return out;
        };
        let mut entries = Vec::new();
        if let Err(e) = feed.source.read_available(now, |e| entries.push(e)) {
            tracing::error!("multilog {}: {e}", feed.source.name);
            return out;
        }
        if feed.source.closed {
            tracing::warn!(
                "multilog {}: the writer closed the pipe for good; it is no longer read",
                feed.source.name
            );
        }
        for entry in entries {
            let mut hits = Hits::new();
            feed.check(&entry, now, &mut self.scratch, |_| true, &mut hits);
            if !hits.is_empty() {
                out.push((hits, entry));
            }
        }
        out
    }

    /// What jail `name`'s filter remembers between lines, over the journal and its pipes;
    /// None when the filter does not span lines.
    pub fn multiline_stats(&self, name: &str) -> Option<MultilineStats> {
        let journal = self.journal.iter().filter_map(|f| f.multiline_stats(name));
        let pipes = self.pipes.iter().filter_map(|f| f.multiline_stats(name));
        journal.chain(pipes).reduce(|mut sum, s| {
            sum.add(s);
            sum
        })
    }

    /// The sources' metrics. A pipe's counts are its own since it was opened (a pipe that a
    /// reload keeps is not reopened).
    pub fn expose(&self, out: &mut Exposition, now: Timestamp) {
        let journal = self.journal.is_some() || self.entries_read > 0;
        out.family(
            "banjo_source_entries_total",
            Kind::Counter,
            "Journal entries (of the jails' matches) and multilog lines read, by source.",
        );
        if journal {
            out.sample(&[("source", "journal")], self.entries_read);
        }
        for pipe in &self.pipes {
            let source = format!("multilog:{}", pipe.source.name);
            out.sample(&[("source", &source)], pipe.source.lines);
        }
        out.family(
            "banjo_source_dropped_total",
            Kind::Counter,
            "Lines not read, by source and reason: overlong (a multilog line past 64 KiB) or \
             undecodable (a journal entry sd-journal cannot read).",
        );
        if journal {
            let undecodable =
                self.undecodable_before + self.journal.as_ref().map_or(0, |j| j.source.undecodable());
            out.sample(&[("source", "journal"), ("reason", "undecodable")], undecodable);
        }
        for pipe in &self.pipes {
            let source = format!("multilog:{}", pipe.source.name);
            out.sample(
                &[("source", &source), ("reason", "overlong")],
                pipe.source.overlong(),
            );
        }
        if self.journal.is_some() {
            out.family(
                "banjo_journal_lag_seconds",
                Kind::Gauge,
                "How far behind the journal banjo reads: now minus the log time of the last \
                 entry read while entries wait to be read; 0 once it has read them all.",
            );
            let lag = match (self.backlog, self.last_entry) {
                (true, Some(last)) => now.duration_since(last).as_secs_f64().max(0.0),
                _ => 0.0,
            };
            out.sample(&[], lag);
        }
    }

    /// The journal cursor to save: the last entry read (`moved`: it changed since last time).
    pub fn cursor(&mut self) -> (Option<&str>, bool) {
        let moved = match &mut self.journal {
            Some(feed) => match feed.source.take_cursor() {
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
        (self.cursor.as_deref(), moved)
    }
}
