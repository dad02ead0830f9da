//! Failures that span lines, as fail2ban assembles them (server/filter.py findFailure and
//! _mergeFailure), sans I/O: a feed hands in each line of a source with its time and gets the
//! outcomes back.
//!
//! Two mechanisms, per filter and per source:
//! - `maxlines` > 1: the last lines are kept and a failregex searches them joined by `\n`
//!   (with `^`/`$` at every line); `<SKIPLINES>` lets it step over lines that are not its own.
//!   The lines a match took leave the buffer, the skipped ones stay.
//! - `<F-MLFID>`: a failure id (in practice the syslog head `host sshd[pid]: `) ties the lines
//!   of one connection together. A line marked `<F-NOFAIL>` is context, not a failure (sshd's
//!   `Connection from <HOST>`); a later line of the same id without an address (`Disconnecting:
//!   Too many authentication failures`) is a failure of the address remembered;
//!   `<F-MLFFORGET>` (the connection ended) forgets the id; `<F-MLFGAINED>` (a login succeeded)
//!   clears what was pending. Lines that match but are not failures come out as
//!   `Outcome::Context`.
//!
//! Memory is bounded: at most `maxlines` lines per filter, at most `IDS_PER_FILTER` ids per
//! filter and source, each forgotten `ID_LIFETIME` after it was first seen (in log time, as
//! fail2ban's 5-minute cache); when full, the oldest id goes and `MultilineStats` counts it.
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::{Captured, Filter, Hit, Host, MatchSet, Matched, Outcome, Scratch, Search};

/// How many failure ids one filter remembers per source (fail2ban: 100 per jail).
pub const IDS_PER_FILTER: usize = 4096;
/// How long an id is remembered after its first line (fail2ban's mlfidCache maxTime).
pub const ID_LIFETIME: SignedDuration = SignedDuration::from_secs(5 * 60);
/// The most lines a filter may keep (a larger `maxlines` is cut to this).
pub const MAX_LINES: usize = 1000;

/// What a source's multi-line memory holds and has dropped, for status and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MultilineStats {
    /// Failure ids remembered now.
    pub ids: usize,
    /// Ids dropped because the cap was reached while they were still alive.
    pub evicted: u64,
    /// Ids dropped because they outlived `ID_LIFETIME`.
    pub expired: u64,
    /// Lines held in maxlines buffers now.
    pub buffered_lines: usize,
}

impl MultilineStats {
    /// Adds another source's (or filter's) figures to these.
    pub fn add(&mut self, other: MultilineStats) {
        self.ids += other.ids;
        self.evicted += other.evicted;
        self.expired += other.expired;
        self.buffered_lines += other.buffered_lines;
    }
}

/// The multi-line memory of one source, for every filter of its `MatchSet` that needs one.
/// A feed owns one per source and passes every line through `feed`.
#[derive(Debug)]
pub struct SourceLines {
    /// Indexed like the set's filters; None for filters that remember nothing.
    states: Vec<Option<FilterState>>,
    /// Filters whose failregexes see several lines: they run on every line, whatever the
    /// prefilter says of the newest one.
    buffered: Vec<usize>,
    any: bool,
}

impl SourceLines {
    pub fn new(set: &MatchSet) -> SourceLines {
        let states: Vec<Option<FilterState>> = set
            .filters()
            .iter()
            .map(|f| f.is_multiline().then(|| FilterState::new(f)))
            .collect();
        let buffered = (0..states.len())
            .filter(|&i| set.filters()[i].maxlines() > 1)
            .collect();
        SourceLines {
            any: states.iter().any(Option::is_some),
            states,
            buffered,
        }
    }

    /// Runs every filter of `set` (the one this state was made for) that `takes` the line
    /// over the next line of the source and calls `each` with the filter's index for every
    /// outcome other than `Missed`. A filter that does not take a line (the journal's routes:
    /// the entry is not of its jail) neither sees nor remembers it. `time` is the line's time
    /// (or the feed's clock when the line has none).
    pub fn feed(
        &mut self,
        set: &MatchSet,
        text: &[u8],
        time: Timestamp,
        scratch: &mut Scratch,
        takes: impl Fn(usize) -> bool,
        mut each: impl FnMut(usize, Outcome),
    ) {
        if !self.any {
            return set.check_taken(text, scratch, takes, each);
        }
        let filters = set.filters();
        let states = &mut self.states;
        set.scan(text, scratch, |fi, candidate| {
            if !takes(fi) {
                return;
            }
            let f = &filters[fi];
            let outcome = match &mut states[fi] {
                // run below, on the buffer
                Some(_) if f.maxlines() > 1 => return,
                Some(state) => state.feed(f, text, time, candidate),
                None => f.evaluate(text, candidate),
            };
            if outcome != Outcome::Missed {
                each(fi, outcome);
            }
        });
        for &fi in &self.buffered {
            if !takes(fi) {
                continue;
            }
            let Some(state) = &mut self.states[fi] else {
                continue;
            };
            let outcome = state.feed(&filters[fi], text, time, |_| true);
            if outcome != Outcome::Missed {
                each(fi, outcome);
            }
        }
    }

    /// What every filter of the source remembers and has dropped, summed.
    pub fn stats(&self) -> MultilineStats {
        let mut s = MultilineStats::default();
        for fi in 0..self.states.len() {
            s.add(self.stats_of(fi));
        }
        s
    }

    /// What filter `fi` of the set remembers on this source and has dropped.
    pub fn stats_of(&self, fi: usize) -> MultilineStats {
        match self.states.get(fi) {
            Some(Some(state)) => MultilineStats {
                ids: state.ids.map.len(),
                evicted: state.ids.evicted,
                expired: state.ids.expired,
                buffered_lines: state.buffer.lines.len(),
            },
            _ => MultilineStats::default(),
        }
    }
}

/// One filter's memory on one source.
#[derive(Debug)]
pub struct FilterState {
    buffer: LineBuffer,
    ids: IdCache,
}

impl FilterState {
    pub fn new(filter: &Filter) -> FilterState {
        FilterState {
            buffer: LineBuffer::new(filter.maxlines().min(MAX_LINES)),
            ids: IdCache::new(IDS_PER_FILTER),
        }
    }

    /// The next line for `filter`; `candidate` as in `Filter::search`.
    pub fn feed(
        &mut self,
        filter: &Filter,
        text: &[u8],
        time: Timestamp,
        candidate: impl Fn(usize) -> bool,
    ) -> Outcome {
        if self.buffer.max <= 1 {
            return filter
                .search(text, candidate)
                .outcome(|hit| self.assemble(hit, 1, time));
        }
        self.buffer.push(text);
        let (search, content) = filter.search_narrowed(&self.buffer.joined, candidate);
        if let Some((a, b)) = content {
            // the prefregex narrowed the buffer to its content: that is all that is kept
            let line = self.buffer.joined[a..b].to_vec();
            self.buffer.replace(&line);
        }
        match search {
            Search::Missed => Outcome::Missed,
            Search::Ignored {
                failregex,
                ignoreregex,
                span,
                skipped,
            } => {
                self.buffer.take(span, &skipped);
                Outcome::Ignored {
                    failregex,
                    ignoreregex,
                }
            }
            Search::Hit(hit) => {
                let lines = self.buffer.take(hit.captured.span, &hit.captured.skipped);
                self.assemble(hit, lines, time)
            }
        }
    }

    fn assemble(&mut self, mut hit: Hit, lines: usize, time: Timestamp) -> Outcome {
        // the id leaves the fields: it is the key, not something to report
        let at = hit.captured.fields.iter().position(|(n, _)| &**n == "mlfid");
        match at.map(|i| hit.captured.fields.swap_remove(i).1) {
            Some(id) => self.ids.assemble(id.as_bytes(), hit, lines, time),
            None => single_of(hit, lines),
        }
    }
}

/// A hit on its own line(s), with no id to tie it to others: a failure if it names an address
/// and is not marked `<F-NOFAIL>` or `<F-MLFGAINED>`.
pub(crate) fn single(hit: Hit) -> Outcome {
    if hit.captured.field("mlfid").is_some() {
        // as the first line of its id: remembered nowhere, judged alone
        let mut ids = IdCache::new(0);
        return ids.assemble(b"", hit, 1, Timestamp::UNIX_EPOCH);
    }
    single_of(hit, 1)
}

fn single_of(hit: Hit, lines: usize) -> Outcome {
    let failregex = hit.failregex;
    let c = hit.captured;
    if flag(&c, "nofail") || flag(&c, "mlfgained") {
        return Outcome::Context { failregex };
    }
    outcome(failregex, c.host, c.fields, lines, Vec::new())
}

fn outcome(
    failregex: usize,
    host: Option<Result<Host, String>>,
    fields: Vec<(Arc<str>, String)>,
    lines: usize,
    users: Vec<String>,
) -> Outcome {
    match host.or_else(|| failure_id(&fields)) {
        Some(Ok(host)) => Outcome::Matched(Matched {
            failregex,
            host,
            fields: fields.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
            lines,
            users,
        }),
        Some(Err(text)) => Outcome::BadHost { failregex, text },
        None => Outcome::Context { failregex },
    }
}

/// fail2ban's `<F-ID>` stands in for the address when there is none; banjo bans addresses,
/// so it counts only when it is one.
fn failure_id(fields: &[(Arc<str>, String)]) -> Option<Result<Host, String>> {
    let (_, id) = fields.iter().find(|(n, _)| &**n == "fid")?;
    Some(id.parse().map(Host::Addr).map_err(|_| id.clone()))
}

/// Whether group `name` took part with a non-empty value (fail2ban tests these for truth).
fn flag(c: &Captured, name: &str) -> bool {
    c.field(name).is_some_and(|v| !v.is_empty())
}

/// The lines of `buf` a match took, without those `<SKIPLINES>` stepped over: what an
/// ignoreregex is checked against in a multi-line buffer.
pub(crate) fn matched_lines<'a>(
    buf: &'a [u8],
    span: (usize, usize),
    skipped: &[(usize, usize)],
) -> Cow<'a, [u8]> {
    let (first, end) = covered(buf, span);
    let lines = line_starts(buf);
    let mut out = Vec::new();
    for &start in lines.iter().take(end).skip(first) {
        if skipped.iter().any(|&(a, b)| start >= a && start < b) {
            continue;
        }
        let stop = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |n| start + n + 1);
        out.extend_from_slice(&buf[start..stop]);
    }
    Cow::Owned(out)
}

/// Where each line of `buf` starts (lines end in `\n`; a last line without one counts too).
fn line_starts(buf: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        memchr::memchr_iter(b'\n', buf)
            .map(|i| i + 1)
            .filter(|&i| i < buf.len()),
    );
    starts
}

/// The lines [first, end) a match spans: from the line holding its first byte to the line
/// holding its last (fail2ban's Regex.search bookkeeping).
fn covered(buf: &[u8], (start, end): (usize, usize)) -> (usize, usize) {
    let start = start.min(buf.len());
    let line_start = memchr::memrchr(b'\n', &buf[..(start + 1).min(buf.len())]).map_or(0, |i| i + 1);
    let last = end.saturating_sub(1).min(buf.len());
    let line_end = memchr::memchr(b'\n', &buf[last..]).map_or(buf.len(), |i| last + i + 1);
    let count = |upto: usize| memchr::memchr_iter(b'\n', &buf[..upto]).count();
    (count(line_start), count(line_end))
}

/// The last `max` lines, and the same joined by `\n` (each line ends in one, as fail2ban's
/// buffer does) for the failregexes to search.
#[derive(Debug)]
struct LineBuffer {
    lines: VecDeque<Vec<u8>>,
    max: usize,
    joined: Vec<u8>,
}

impl LineBuffer {
    fn new(max: usize) -> LineBuffer {
        LineBuffer {
            lines: VecDeque::with_capacity(max.min(64)),
            max,
            joined: Vec::new(),
        }
    }

    fn push(&mut self, line: &[u8]) {
        let mut slot = if self.lines.len() >= self.max {
            self.lines.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        slot.clear();
        slot.extend_from_slice(line);
        self.lines.push_back(slot);
        self.rejoin();
    }

    fn replace(&mut self, line: &[u8]) {
        self.lines.clear();
        self.lines.push_back(line.to_vec());
        self.rejoin();
    }

    fn rejoin(&mut self) {
        self.joined.clear();
        for l in &self.lines {
            self.joined.extend_from_slice(l);
            self.joined.push(b'\n');
        }
    }

    /// Removes the lines a match over `joined` took, keeping the skipped ones; returns how
    /// many it took (fail2ban's matched lines, its `attempts`).
    fn take(&mut self, span: (usize, usize), skipped: &[(usize, usize)]) -> usize {
        let (first, end) = covered(&self.joined, span);
        let end = end.min(self.lines.len());
        let mut taken = 0;
        let mut pos = 0;
        let mut kept = VecDeque::with_capacity(self.lines.len());
        for (i, line) in std::mem::take(&mut self.lines).into_iter().enumerate() {
            let start = pos;
            pos += line.len() + 1;
            let matched = i >= first && i < end;
            let skip = skipped.iter().any(|&(a, b)| start >= a && start < b);
            if matched && !skip {
                taken += 1;
            } else {
                kept.push_back(line);
            }
        }
        self.lines = kept;
        self.rejoin();
        taken
    }
}

/// A failure being assembled under one id: fail2ban's cached failure dict.
#[derive(Debug, Clone)]
struct Assembly {
    failregex: usize,
    host: Option<Result<Host, String>>,
    fields: Vec<(Arc<str>, String)>,
    users: Vec<String>,
    /// Lines counted toward the failure (fail2ban's `matches`).
    matches: usize,
    /// Lines of a `<F-NOFAIL>` stretch, counted in if a failure follows.
    nofail_matches: usize,
    nofail: bool,
    gained: bool,
    /// A line failed but named no address yet.
    pending: bool,
}

#[derive(Debug)]
struct IdEntry {
    assembly: Assembly,
    expires: Timestamp,
    /// Insertion number, to tell a live entry from a stale one in `order`.
    seq: u64,
}

/// Failure ids with their assemblies, oldest first, capped and aged.
#[derive(Debug)]
struct IdCache {
    /// Keys are shared with `order`: one allocation per id.
    map: HashMap<Arc<[u8]>, IdEntry>,
    order: VecDeque<(u64, Arc<[u8]>)>,
    cap: usize,
    seq: u64,
    evicted: u64,
    expired: u64,
}

impl IdCache {
    fn new(cap: usize) -> IdCache {
        IdCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
            seq: 0,
            evicted: 0,
            expired: 0,
        }
    }

    /// Whether `id` is remembered and alive at `now` (an aged-out one is dropped here).
    fn live(&mut self, id: &[u8], now: Timestamp) -> bool {
        match self.map.get(id) {
            Some(e) if e.expires <= now => {
                self.map.remove(id);
                self.expired += 1;
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Remembers `assembly` under `id`; None (and nothing kept) when this cache keeps nothing.
    fn insert(&mut self, id: &[u8], assembly: Assembly, now: Timestamp) -> Option<&mut Assembly> {
        if self.cap == 0 {
            return None;
        }
        // drop what aged out first, then the oldest if still full (fail2ban: FIFO)
        while self.map.len() >= self.cap {
            let Some((seq, old)) = self.order.pop_front() else {
                break;
            };
            let Some(entry) = self.map.get(&old).filter(|e| e.seq == seq) else {
                continue;
            };
            if entry.expires <= now {
                self.expired += 1;
            } else {
                self.evicted += 1;
            }
            self.map.remove(&old);
        }
        self.seq += 1;
        let id: Arc<[u8]> = Arc::from(id);
        self.order.push_back((self.seq, id.clone()));
        if self.order.len() > 2 * self.cap.max(16) {
            // removed ids leave stale order entries behind; sweep them now and then
            let map = &self.map;
            self.order
                .retain(|(seq, k)| map.get(k).is_some_and(|e| e.seq == *seq));
        }
        let entry = IdEntry {
            assembly,
            expires: now + ID_LIFETIME,
            seq: self.seq,
        };
        Some(&mut self.map.entry(id).insert_entry(entry).into_mut().assembly)
    }

    /// fail2ban's _mergeFailure followed by the rest of findFailure: what the line `hit`
    /// (covering `lines` lines) means for the failure of its id.
    fn assemble(&mut self, id: &[u8], hit: Hit, lines: usize, now: Timestamp) -> Outcome {
        // bits as in fail2ban: 1 this line is nofail, 2 forget the id, 4 the id's last line
        // was nofail or gained, 8 this line is a gained login
        let c = hit.captured;
        let gained = flag(&c, "mlfgained");
        let nofail = flag(&c, "nofail") || gained;
        let forget = flag(&c, "mlfforget");
        let mut bits = 0u8;
        if gained {
            bits |= 8 | 1;
        } else if nofail {
            bits |= 1;
        }
        if forget {
            bits |= 2;
        }
        let live = self.live(id, now);
        if forget && nofail && !live {
            // the end of a connection nothing was remembered of: nothing to do
            return Outcome::Context {
                failregex: hit.failregex,
            };
        }
        let user = c.field("user").filter(|u| !u.is_empty()).map(str::to_string);
        let current = Assembly {
            failregex: hit.failregex,
            host: c.host,
            fields: c.fields,
            users: Vec::new(),
            matches: 0,
            nofail_matches: 0,
            nofail,
            gained,
            pending: false,
        };
        let mut detached;
        let assembly: &mut Assembly = if live {
            let a = &mut self.map.get_mut(id).expect("entry just found").assembly;
            add_user(&mut a.users, user);
            if std::mem::take(&mut a.nofail) {
                bits |= 4;
            }
            if std::mem::take(&mut a.gained) {
                bits |= 4;
            }
            if bits & 8 != 0 {
                a.pending = false;
            }
            if bits & 4 == 0 && !a.pending {
                // the failure so far was reported already: start counting anew
                a.matches = 0;
            }
            a.failregex = current.failregex;
            if current.host.is_some() {
                a.host = current.host;
            }
            for (name, value) in current.fields {
                match a.fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, v)) => *v = value,
                    None => a.fields.push((name, value)),
                }
            }
            a.nofail = current.nofail;
            a.gained = current.gained;
            if forget {
                detached = self.map.remove(id).expect("entry just found").assembly;
                &mut detached
            } else {
                &mut self.map.get_mut(id).expect("entry just found").assembly
            }
        } else if !forget && self.cap > 0 {
            let mut a = current;
            add_user(&mut a.users, user);
            self.insert(id, a, now)
                .expect("a cache with room keeps what it is given")
        } else if !forget {
            detached = current;
            add_user(&mut detached.users, user);
            &mut detached
        } else {
            detached = current;
            &mut detached
        };
        // a pending failure, or a second user name, makes this line count whatever it says
        if std::mem::take(&mut assembly.pending) || assembly.users.len() > 1 {
            assembly.nofail = false;
            assembly.gained = false;
            bits &= !(8 | 1);
        }
        if bits & 1 == 0 {
            let mut m = std::mem::take(&mut assembly.nofail_matches) + assembly.matches;
            if bits & 8 == 0 {
                m += lines;
            }
            assembly.matches = m;
        } else if bits & 3 == 1 {
            assembly.nofail_matches += lines;
        }
        if assembly.nofail {
            return Outcome::Context {
                failregex: assembly.failregex,
            };
        }
        let host = assembly.host.clone().or_else(|| failure_id(&assembly.fields));
        if host.is_none() {
            assembly.pending = true;
            return Outcome::Context {
                failregex: assembly.failregex,
            };
        }
        outcome(
            assembly.failregex,
            host,
            assembly.fields.clone(),
            assembly.matches,
            assembly.users.clone(),
        )
    }
}

/// fail2ban's _updateUsers: the set of user names an id has tried.
fn add_user(users: &mut Vec<String>, user: Option<String>) {
    if let Some(u) = user
        && !users.contains(&u)
    {
        users.push(u);
        users.sort();
    }
}

/// A filter with its own `SourceLines`, for tools that run one filter over one stream.
#[derive(Debug)]
pub struct OneFilter {
    pub set: MatchSet,
    pub lines: SourceLines,
}

impl OneFilter {
    pub fn new(filter: Arc<Filter>) -> OneFilter {
        let set = MatchSet::new(vec![filter]);
        let lines = SourceLines::new(&set);
        OneFilter { set, lines }
    }

    /// The outcome of the next line.
    pub fn feed(&mut self, text: &[u8], time: Timestamp, scratch: &mut Scratch) -> Outcome {
        let mut outcome = Outcome::Missed;
        self.lines
            .feed(&self.set, text, time, scratch, |_| true, |_, o| outcome = o);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FilterDef;

    fn filter(pref: Option<&str>, fail: &[&str], maxlines: usize) -> Arc<Filter> {
        let def = FilterDef {
            name: "t".into(),
            origin: "test".into(),
            failregex: fail.iter().map(|s| s.to_string()).collect(),
            prefregex: pref.map(str::to_string),
            maxlines,
            ..Default::default()
        };
        Arc::new(Filter::compile(&def).unwrap())
    }

    fn at(s: u64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s as i64).unwrap()
    }

    /// Feeds `lines` one second apart; the outcome of each, as a short word.
    fn run(one: &mut OneFilter, lines: &[&str]) -> Vec<String> {
        let mut scratch = Scratch::default();
        lines
            .iter()
            .enumerate()
            .map(
                |(i, l)| match one.feed(l.as_bytes(), at(i as u64), &mut scratch) {
                    Outcome::Matched(m) => format!("fail {} x{}", m.host, m.lines),
                    Outcome::Context { .. } => "context".into(),
                    Outcome::Missed => "-".into(),
                    other => format!("{other:?}"),
                },
            )
            .collect()
    }

    /// sshd's shape: the syslog head is the id, `Connection from` is context.
    fn sshd_like() -> Arc<Filter> {
        filter(
            Some(r"^<F-MLFID>\S+ sshd\[\d+\]: </F-MLFID><F-CONTENT>.+</F-CONTENT>$"),
            &[
                r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>",
                r"^Failed password for <F-USER>\S+</F-USER> from <HOST>",
                r"^Disconnecting: Too many authentication failures",
                r"^<F-NOFAIL><F-MLFFORGET>Connection closed</F-MLFFORGET></F-NOFAIL> by <HOST>",
                r"^<F-MLFFORGET><F-MLFGAINED>Accepted \w+</F-MLFGAINED></F-MLFFORGET> for <F-USER>\S+</F-USER> from <HOST>",
            ],
            1,
        )
    }

    #[test]
    fn a_line_without_address_fails_for_the_address_its_id_saw_earlier() {
        let mut one = OneFilter::new(sshd_like());
        let out = run(
            &mut one,
            &[
                "h sshd[7]: Connection from 192.0.2.7 port 1",
                "h sshd[8]: Connection from 192.0.2.8 port 1",
                "h sshd[7]: Disconnecting: Too many authentication failures [preauth]",
                "h sshd[7]: Connection closed by 192.0.2.7 port 1 [preauth]",
            ],
        );
        assert_eq!(out, ["context", "context", "fail 192.0.2.7 x2", "context"]);
    }

    #[test]
    fn context_lines_alone_are_not_failures() {
        let mut one = OneFilter::new(sshd_like());
        let out = run(
            &mut one,
            &[
                "h sshd[7]: Connection from 192.0.2.7 port 1",
                "h sshd[7]: Connection closed by 192.0.2.7 port 1",
            ],
        );
        assert_eq!(out, ["context", "context"]);
    }

    #[test]
    fn a_pending_failure_is_counted_when_its_address_comes() {
        let mut one = OneFilter::new(sshd_like());
        let out = run(
            &mut one,
            &[
                "h sshd[9]: Disconnecting: Too many authentication failures",
                "h sshd[9]: Connection closed by 192.0.2.9 port 1",
            ],
        );
        assert_eq!(out, ["context", "fail 192.0.2.9 x2"]);
    }

    #[test]
    fn forget_ends_the_id() {
        let mut one = OneFilter::new(sshd_like());
        let out = run(
            &mut one,
            &[
                "h sshd[7]: Connection from 192.0.2.7 port 1",
                "h sshd[7]: Connection closed by 192.0.2.7 port 1",
                "h sshd[7]: Disconnecting: Too many authentication failures",
            ],
        );
        assert_eq!(out, ["context", "context", "context"]);
    }

    #[test]
    fn each_failure_counts_its_own_lines_and_every_user_tried() {
        let mut one = OneFilter::new(sshd_like());
        let mut scratch = Scratch::default();
        let lines = [
            "h sshd[5]: Failed password for root from 192.0.2.5 port 1",
            "h sshd[5]: Failed password for admin from 192.0.2.5 port 1",
        ];
        let outs: Vec<Outcome> = lines
            .iter()
            .map(|l| one.feed(l.as_bytes(), at(0), &mut scratch))
            .collect();
        let Outcome::Matched(second) = &outs[1] else {
            panic!("{outs:?}")
        };
        assert_eq!(second.lines, 1, "the first failure was reported on its own");
        assert_eq!(second.users, ["admin", "root"]);
        assert!(second.fields.contains(&("user".into(), "admin".into())));
    }

    #[test]
    fn a_successful_login_is_context() {
        let mut one = OneFilter::new(sshd_like());
        let out = run(
            &mut one,
            &[
                "h sshd[4]: Connection from 192.0.2.4 port 1",
                "h sshd[4]: Accepted publickey for bob from 192.0.2.4 port 1",
            ],
        );
        assert_eq!(out, ["context", "context"]);
    }

    #[test]
    fn ids_expire_after_their_lifetime() {
        let mut one = OneFilter::new(sshd_like());
        let mut scratch = Scratch::default();
        one.feed(
            b"h sshd[7]: Connection from 192.0.2.7 port 1",
            at(0),
            &mut scratch,
        );
        let late = at(0) + ID_LIFETIME + SignedDuration::from_secs(1);
        let o = one.feed(
            b"h sshd[7]: Disconnecting: Too many authentication failures",
            late,
            &mut scratch,
        );
        assert!(matches!(o, Outcome::Context { .. }), "{o:?}");
        assert_eq!(one.lines.stats().expired, 1);
    }

    #[test]
    fn ids_are_capped_and_evictions_counted() {
        let mut one = OneFilter::new(sshd_like());
        let mut scratch = Scratch::default();
        for pid in 0..IDS_PER_FILTER + 10 {
            let line = format!("h sshd[{pid}]: Connection from 192.0.2.1 port 1");
            one.feed(line.as_bytes(), at(0), &mut scratch);
        }
        let s = one.lines.stats();
        assert_eq!((s.ids, s.evicted), (IDS_PER_FILTER, 10));
        // the oldest went, the newest are still known
        let o = one.feed(
            b"h sshd[0]: Disconnecting: Too many authentication failures",
            at(1),
            &mut scratch,
        );
        assert!(matches!(o, Outcome::Context { .. }));
        let last = format!(
            "h sshd[{}]: Disconnecting: Too many authentication failures",
            IDS_PER_FILTER + 9
        );
        assert!(matches!(
            one.feed(last.as_bytes(), at(1), &mut scratch),
            Outcome::Matched(_)
        ));
    }

    #[test]
    fn without_memory_each_line_is_judged_alone() {
        let f = sshd_like();
        assert!(matches!(
            f.check(b"h sshd[7]: Connection from 192.0.2.7 port 1"),
            Outcome::Context { .. }
        ));
        assert!(matches!(
            f.check(b"h sshd[7]: Disconnecting: Too many authentication failures"),
            Outcome::Context { .. }
        ));
        assert!(matches!(
            f.check(b"h sshd[7]: Failed password for root from 192.0.2.7 port 1"),
            Outcome::Matched(Matched { lines: 1, .. })
        ));
    }

    #[test]
    fn maxlines_buffer_matches_across_lines_once() {
        let f = filter(
            None,
            &[r#"^.*\nWARNING: Authentication attempt from <HOST> for user "[^"]*" failed\.$"#],
            2,
        );
        let mut one = OneFilter::new(f);
        let out = run(
            &mut one,
            &[
                "org.apache.guacamole.net.basic.BasicAuthenticationProviderModule authenticate",
                r#"WARNING: Authentication attempt from 192.0.2.3 for user "x" failed."#,
                "unrelated",
                "unrelated",
            ],
        );
        assert_eq!(out, ["-", "fail 192.0.2.3 x2", "-", "-"]);
    }

    #[test]
    fn skiplines_step_over_other_lines_which_stay_buffered() {
        let f = filter(
            None,
            &[
                r"^\s+\[conn(?P<__connid>\d+)\] Failed to authenticate [^\n]+<SKIPLINES>\s+\[conn(?P=__connid)\] end connection <HOST>",
            ],
            10,
        );
        let mut one = OneFilter::new(f);
        let out = run(
            &mut one,
            &[
                " [conn1] Failed to authenticate a@b with mechanism MONGODB-CR",
                " [conn2] Failed to authenticate c@d with mechanism MONGODB-CR",
                " [conn1] end connection 192.0.2.1:53276 (0 connections now open)",
                " [conn2] end connection 192.0.2.2:53276 (0 connections now open)",
            ],
        );
        assert_eq!(out, ["-", "-", "fail 192.0.2.1 x2", "fail 192.0.2.2 x2"]);
        assert_eq!(one.lines.stats().buffered_lines, 0);
    }

    #[test]
    fn the_buffer_keeps_only_maxlines_lines() {
        let f = filter(None, &[r"^a\nb from <HOST>$"], 2);
        let mut one = OneFilter::new(f);
        let out = run(&mut one, &["a", "x", "b from 192.0.2.1", "a", "b from 192.0.2.2"]);
        assert_eq!(out, ["-", "-", "-", "-", "fail 192.0.2.2 x2"]);
        assert_eq!(one.lines.stats().buffered_lines, 0);
    }

    #[test]
    fn sources_without_multiline_filters_keep_no_state() {
        let set = MatchSet::new(vec![filter(None, &["from <HOST>"], 1)]);
        let mut lines = SourceLines::new(&set);
        let mut got = Vec::new();
        lines.feed(
            &set,
            b"x from 192.0.2.1",
            at(0),
            &mut Scratch::default(),
            |_| true,
            |i, o| got.push((i, o)),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(lines.stats(), MultilineStats::default());
    }

    #[test]
    fn a_filter_does_not_remember_lines_it_does_not_take() {
        // two jails with the same multi-line filter on one journal feed; the entries are
        // routed to jail 0 only, so jail 1 must not tie the connection's lines together
        let f = || {
            filter(
                None,
                &[
                    r"^<F-MLFID>\S+\[\d+\]: </F-MLFID><F-NOFAIL>Connection from</F-NOFAIL> <HOST>$",
                    r"^<F-MLFID>\S+\[\d+\]: </F-MLFID>Too many failures$",
                ],
                1,
            )
        };
        let set = MatchSet::new(vec![f(), f()]);
        let mut lines = SourceLines::new(&set);
        let mut scratch = Scratch::default();
        let mut got = Vec::new();
        for (i, text) in ["sshd[7]: Connection from 192.0.2.9", "sshd[7]: Too many failures"]
            .iter()
            .enumerate()
        {
            let routes = |fi: usize| fi == 0 || i == 1;
            lines.feed(
                &set,
                text.as_bytes(),
                at(i as u64),
                &mut scratch,
                routes,
                |fi, o| got.push((fi, o)),
            );
        }
        let failures: Vec<(usize, String)> = got
            .iter()
            .filter_map(|(fi, o)| match o {
                Outcome::Matched(m) => Some((*fi, m.host.to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(failures, [(0, "192.0.2.9".to_string())]);
    }

    #[test]
    fn matched_lines_leave_out_skipped_ones() {
        let buf = b"a1\nskip\na2\nafter\n";
        // a match from "a1" to "a2" whose skip group took "skip\n"
        let m = matched_lines(buf, (0, 10), &[(3, 8)]);
        assert_eq!(&*m, b"a1\na2\n");
        assert_eq!(covered(buf, (0, 10)), (0, 3));
    }
}
