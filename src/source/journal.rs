//! Reading the systemd journal through sd-journal: which journal, which matches, and each
//! entry turned into the text fail2ban's filters expect.
use std::path::PathBuf;

use systemd::journal::{Journal, OpenDirectoryOptions, OpenFilesOptions, OpenOptions};

use super::Entry;

/// Which journal to read, as journalctl chooses with no option, `-D DIR` or `--file FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    System,
    Directory(PathBuf),
    Files(Vec<PathBuf>),
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal {what}: {cause}")]
    Open { what: String, cause: String },
    #[error("journal match {0:?}: expected FIELD=VALUE (e.g. _SYSTEMD_UNIT=dovecot.service) or \"+\"")]
    BadMatch(String),
    #[error("reading the journal: {0}")]
    Read(String),
}

/// sd-journal errors carry their cause both in the text and as a source; keep the text once.
impl From<systemd::Error> for JournalError {
    fn from(e: systemd::Error) -> Self {
        JournalError::Read(e.to_string())
    }
}

/// Checks one journalctl-style match: `FIELD=VALUE` with a journal field name, or `+`.
pub fn parse_match(m: &str) -> Result<Option<(&str, &str)>, JournalError> {
    if m == "+" {
        return Ok(None);
    }
    let (field, value) = m
        .split_once('=')
        .ok_or_else(|| JournalError::BadMatch(m.to_string()))?;
    let valid = field.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && field
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(JournalError::BadMatch(m.to_string()));
    }
    Ok(Some((field, value)))
}

/// A journal opened with matches, read from the start.
pub struct Reader {
    journal: Journal,
    /// The current entry's fields, reused entry after entry.
    fields: Fields,
}

impl Reader {
    /// Several values of one field OR, different fields AND, `+` starts an alternative group:
    /// sd-journal's own rules, the same as journalctl's.
    pub fn open(location: &Location, matches: &[String]) -> Result<Reader, JournalError> {
        for m in matches {
            parse_match(m)?;
        }
        let mut journal = open(location)?;
        for m in matches {
            match parse_match(m)? {
                None => {
                    journal.match_or()?;
                }
                Some((field, value)) => {
                    journal.match_add(field, value)?;
                }
            }
        }
        journal.seek_head()?;
        Ok(Reader {
            journal,
            fields: Fields::default(),
        })
    }

    /// The next entry, as `HOSTNAME IDENTIFIER[PID]: MESSAGE` like fail2ban's journal backend,
    /// so fail2ban filter files written for syslog lines match it unchanged.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, JournalError> {
        if self.journal.next()? == 0 {
            return Ok(None);
        }
        self.fields.read(&mut self.journal, &[])?;
        let mut entry = Entry::default();
        self.fields.entry(&self.journal, &mut entry)?;
        Ok(Some(entry))
    }
}

/// The journal at `location`, without matches, before its first entry.
pub fn open(location: &Location) -> Result<Journal, JournalError> {
    let opened = match location {
        Location::System => OpenOptions::default().system(true).open(),
        Location::Directory(d) => {
            OpenDirectoryOptions::default().open_directory(d.to_string_lossy().as_ref())
        }
        Location::Files(f) => {
            OpenFilesOptions::default().open_files(f.iter().map(|p| p.to_string_lossy().into_owned()))
        }
    };
    opened.map_err(|e| JournalError::Open {
        what: match location {
            Location::System => "of this system".to_string(),
            Location::Directory(d) => format!("directory {}", d.display()),
            Location::Files(f) => format!(
                "file(s) {}",
                f.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        cause: e.to_string(),
    })
}

/// Places `journal` just after the entry at `cursor`: nothing read twice, nothing missed.
pub fn seek_after(journal: &mut Journal, cursor: &str) -> Result<(), JournalError> {
    journal.seek_cursor(cursor)?;
    // The entry at the cursor, if it still exists, was read before the restart.
    if journal.next()? > 0 && !journal.test_cursor(cursor)? {
        // It was vacuumed: we stand on the next newer entry, which is unread.
        journal.previous()?;
    }
    Ok(())
}

/// The fields banjo reads of an entry, gathered in one pass over its data (one lookup per
/// field walks the entry's items once each: five of them cost three times the one pass, see
/// [`Follower`]). Every value is copied into one buffer reused entry after entry (sd-journal's
/// slice lives only until the next call), so a warm reader allocates nothing per entry.
#[derive(Debug, Default)]
struct Fields {
    /// Where each [`Slot`]'s value is in `data`, if the entry has that field.
    at: [Option<std::ops::Range<usize>>; SLOTS],
    /// Every value of the fields routes look at (an entry may carry a field more than once,
    /// and sd-journal matches any of them): (index in `route_fields`, range in `data`).
    route: Vec<(usize, std::ops::Range<usize>)>,
    data: Vec<u8>,
}

/// The fields the line and its time are made of, as indexes into [`Fields::at`].
#[derive(Debug, Clone, Copy)]
enum Slot {
    Message,
    Hostname,
    Ident,
    Comm,
    SyslogPid,
    Pid,
    /// `_SOURCE_REALTIME_TIMESTAMP` as written: parsed only for an entry some jail takes.
    SourceUs,
}
const SLOTS: usize = 7;

impl Slot {
    fn of(name: &[u8]) -> Option<Slot> {
        Some(match name {
            b"MESSAGE" => Slot::Message,
            b"_HOSTNAME" => Slot::Hostname,
            b"SYSLOG_IDENTIFIER" => Slot::Ident,
            b"_COMM" => Slot::Comm,
            b"SYSLOG_PID" => Slot::SyslogPid,
            b"_PID" => Slot::Pid,
            b"_SOURCE_REALTIME_TIMESTAMP" => Slot::SourceUs,
            _ => return None,
        })
    }
}

/// The bytes [`Fields`] makes room for at once.
const FIELDS_ROOM: usize = 1024;

impl Fields {
    fn read(&mut self, journal: &mut Journal, route_fields: &[String]) -> Result<(), JournalError> {
        self.at = Default::default();
        self.route.clear();
        self.data.clear();
        // room for a usual entry's fields at once: a slot of the read-ahead is then not grown
        // by each entry a little longer than the last one it held
        self.data.reserve(FIELDS_ROOM);
        journal.restart_data();
        while let Some(field) = journal.enumerate_data()? {
            let (name, Some(value)) = (field.name(), field.value()) else {
                continue;
            };
            let slot = Slot::of(name);
            let route = route_fields.iter().position(|f| f.as_bytes() == name);
            if slot.is_none() && route.is_none() {
                continue;
            }
            let start = self.data.len();
            self.data.extend_from_slice(value);
            let range = start..self.data.len();
            if let Some(slot) = slot {
                self.at[slot as usize] = Some(range.clone());
            }
            if let Some(i) = route {
                self.route.push((i, range));
            }
        }
        Ok(())
    }

    fn get(&self, slot: Slot) -> Option<&[u8]> {
        self.at[slot as usize].clone().map(|r| &self.data[r])
    }

    /// Whether the entry has field `route_fields[i]` with this value.
    fn has(&self, i: usize, value: &[u8]) -> bool {
        self.route
            .iter()
            .any(|(f, r)| *f == i && &self.data[r.clone()] == value)
    }

    /// The entry's own time in µs: `_SOURCE_REALTIME_TIMESTAMP`, else the time journald
    /// received it (`journal` standing on this entry).
    fn time_us(&self, journal: &Journal) -> Result<i64, JournalError> {
        Ok(match self.get(Slot::SourceUs).and_then(decimal) {
            Some(us) => us,
            None => journal.timestamp_usec()? as i64,
        })
    }

    /// Writes the entry into `entry` (its buffer reused) as `HOSTNAME IDENTIFIER[PID]: MESSAGE`
    /// with its own time (see [`Fields::time_us`]).
    fn entry(&self, journal: &Journal, entry: &mut Entry) -> Result<(), JournalError> {
        self.entry_at(self.time_us(journal)?, entry);
        Ok(())
    }

    /// [`Fields::entry`] with its time already taken.
    fn entry_at(&self, us: i64, entry: &mut Entry) {
        entry.time = jiff::Timestamp::from_microsecond(us).ok();
        let text = &mut entry.text;
        text.clear();
        if let Some(host) = self.get(Slot::Hostname) {
            text.extend_from_slice(host);
            text.push(b' ');
        }
        if let Some(ident) = self.get(Slot::Ident).or(self.get(Slot::Comm)) {
            text.extend_from_slice(ident);
            if let Some(pid) = self.get(Slot::SyslogPid).or(self.get(Slot::Pid)) {
                text.push(b'[');
                text.extend_from_slice(pid);
                text.push(b']');
            }
            text.extend_from_slice(b": ");
        }
        if let Some(msg) = self.get(Slot::Message) {
            text.extend_from_slice(msg);
        }
        super::one_record(text);
    }
}

/// A journal timestamp field: ASCII decimal microseconds (`None` if it is anything else).
fn decimal(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 18 {
        return None; // 18 digits cannot overflow an i64
    }
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Which entries one jail reads: its journal matches, evaluated in userspace to route each
/// entry of the shared reader to the jails it belongs to, with sd-journal's own semantics:
/// the `+`-separated groups OR; within a group, values of one field OR and different fields
/// AND. So `_SYSTEMD_UNIT=ssh.service + SYSLOG_IDENTIFIER=sshd SYSLOG_IDENTIFIER=sshd-session
/// _UID=0` is "the unit, or (either identifier and uid 0)": an OR of ANDs of ORs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    groups: Vec<Vec<(String, Vec<Vec<u8>>)>>,
}

impl Route {
    pub fn new(matches: &[String]) -> Result<Route, JournalError> {
        let mut groups: Vec<Vec<(String, Vec<Vec<u8>>)>> = vec![Vec::new()];
        for m in matches {
            match parse_match(m)? {
                None => groups.push(Vec::new()),
                Some((field, value)) => {
                    let group = groups.last_mut().expect("at least one group");
                    match group.iter_mut().find(|(f, _)| f == field) {
                        Some((_, values)) => values.push(value.as_bytes().to_vec()),
                        None => group.push((field.to_string(), vec![value.as_bytes().to_vec()])),
                    }
                }
            }
        }
        groups.retain(|g| !g.is_empty());
        if groups.is_empty() {
            return Err(JournalError::BadMatch(String::new()));
        }
        Ok(Route { groups })
    }

    /// The fields this route looks at.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().flatten().map(|(f, _)| f.as_str())
    }

    /// Whether an entry belongs to this route; `has(field, value)` says whether the entry
    /// carries that field with that value (among its values, if it has the field twice).
    pub fn accepts(&self, has: impl Fn(&str, &[u8]) -> bool) -> bool {
        let fields: Vec<&str> = self.fields().collect();
        self.accepts_at(|k, v| has(fields[k], v))
    }

    /// [`Route::accepts`] with each field named by its place `k` in [`Route::fields`]: the
    /// reader maps places to its own field slots once, not by name at every entry.
    pub fn accepts_at(&self, has: impl Fn(usize, &[u8]) -> bool) -> bool {
        let mut first = 0; // the place of the group's first field
        self.groups.iter().any(|group| {
            let k0 = first;
            first += group.len();
            group
                .iter()
                .enumerate()
                .all(|(j, (_, values))| values.iter().any(|v| has(k0 + j, v)))
        })
    }
}

/// The match as a reader would say it: `_SYSTEMD_UNIT=ssh.service OR (SYSLOG_IDENTIFIER=sshd|sshd-session AND _UID=0)`.
impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let many = self.groups.len() > 1;
        for (i, group) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(" OR ")?;
            }
            let paren = many && group.len() > 1;
            if paren {
                f.write_str("(")?;
            }
            for (j, (field, values)) in group.iter().enumerate() {
                if j > 0 {
                    f.write_str(" AND ")?;
                }
                let values: Vec<_> = values.iter().map(|v| String::from_utf8_lossy(v)).collect();
                write!(f, "{field}={}", values.join("|"))?;
            }
            if paren {
                f.write_str(")")?;
            }
        }
        Ok(())
    }
}

/// Where a follower starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Just after this entry (a saved cursor): nothing read twice, nothing missed.
    After(String),
    /// At this time (first start: now minus the longest findtime).
    Since(jiff::Timestamp),
}

/// One reader for all jails on the journal, woken by the journal's fd, each entry handed out
/// with the routes (jails) it belongs to.
///
/// The routes are evaluated here, not given to sd-journal as matches: with the OR of ten
/// jails' matches sd-journal looks up every match's entry array at each step, which cost
/// three times a bare read of the same journal (bench/daemon.py `intake`), while reading
/// every entry's fields and routing them here costs little more than the bare read. An entry
/// no jail reads is skipped before its line is built; on a journal where few entries are for
/// jails this reads more entries than matches would, at about 1.3 µs each.
pub struct Follower {
    journal: Journal,
    routes: Vec<Route>,
    /// Every field some route looks at, read once per entry.
    route_fields: Vec<String>,
    /// Per route, the index in `route_fields` of each of its fields (in [`Route::fields`]'s
    /// order).
    slots: Vec<Vec<usize>>,
    /// Entries read and routed ahead of the caller, buffers reused.
    ahead: Ahead,
    /// The error that ended the last read-ahead, returned once its entries are handed out.
    failed: Option<JournalError>,
    /// Whether an entry was read since the cursor was last taken.
    moved: bool,
    /// Entries skipped because sd-journal could not read their fields (a corrupt object, a
    /// compression it does not know).
    undecodable: u64,
}

/// Largest field value read from an entry (sd-journal's data threshold).
const DATA_THRESHOLD: usize = 64 * 1024;

/// Entries a [`Follower`] reads and routes before handing the first of them out.
///
/// Reading an entry's fields runs libsystemd's code, handing it out runs banjo's filters and
/// jails: entry by entry, each evicted the other from the instruction cache (cachegrind, 100k
/// entries of the intake bench: 88 first-level instruction misses per entry, a bare
/// sd-journal reader none). In runs of 64 each stays warm for the run: 46 misses per entry
/// (runs of 16: 61, and more data misses, the run's fields read back from farther away).
const READ_AHEAD: usize = 64;

/// The entries read ahead (see [`READ_AHEAD`]); every buffer is reused from run to run.
#[derive(Debug, Default)]
struct Ahead {
    /// One slot per entry kept in this run (grown to [`READ_AHEAD`], then reused).
    fields: Vec<Fields>,
    /// The routes of the kept entries, one after the other.
    routes: Vec<usize>,
    /// The kept entries, in journal order.
    kept: Vec<Kept>,
    /// The next of `kept` to hand out.
    next: usize,
}

/// An entry read ahead that some route takes.
#[derive(Debug)]
struct Kept {
    /// Its slot in [`Ahead::fields`].
    fields: usize,
    /// Its routes, in [`Ahead::routes`].
    routes: std::ops::Range<usize>,
    /// Its time (µs), taken while sd-journal stood on it.
    us: i64,
}

impl Follower {
    pub fn open(location: &Location, routes: Vec<Route>, start: &Start) -> Result<Follower, JournalError> {
        let mut journal = open(location)?;
        journal.set_data_threshold(DATA_THRESHOLD)?;
        let mut route_fields: Vec<String> = routes
            .iter()
            .flat_map(|r| r.fields().map(str::to_string))
            .collect();
        route_fields.sort();
        route_fields.dedup();
        let slots = routes
            .iter()
            .map(|r| {
                r.fields()
                    .map(|f| route_fields.iter().position(|g| g == f).unwrap_or_default())
                    .collect()
            })
            .collect();
        let mut f = Follower {
            ahead: Ahead::default(),
            failed: None,
            journal,
            routes,
            route_fields,
            slots,
            moved: false,
            undecodable: 0,
        };
        f.seek(start)?;
        Ok(f)
    }

    fn seek(&mut self, start: &Start) -> Result<(), JournalError> {
        match start {
            Start::After(cursor) => seek_after(&mut self.journal, cursor)?,
            Start::Since(t) => {
                let us = t.as_microsecond().max(0) as u64;
                self.journal.seek_realtime_usec(us)?;
            }
        }
        Ok(())
    }

    /// The fd to poll for new entries.
    pub fn fd(&self) -> Result<std::os::fd::RawFd, JournalError> {
        Ok(self.journal.fd()?)
    }

    /// After the fd woke: lets sd-journal take in rotated or new files.
    pub fn process(&mut self) -> Result<(), JournalError> {
        self.journal.process()?;
        Ok(())
    }

    /// The next entry some route takes and the indexes of those routes (`routes` is
    /// overwritten). Every entry read, taken or skipped, spends one of `budget`: `None` when
    /// the journal has no more or `budget` is spent (then it is 0), so a long run of entries
    /// no jail reads never holds up the caller's loop.
    pub fn next_entry(
        &mut self,
        routes: &mut Vec<usize>,
        budget: &mut usize,
    ) -> Result<Option<Entry>, JournalError> {
        let mut entry = Entry::default();
        Ok(self.read_next(routes, budget, &mut entry)?.then_some(entry))
    }

    /// [`Follower::next_entry`] into `entry`, whose buffer is reused: false where that gives
    /// `None`. The daemon's way, allocating nothing per entry once warm.
    pub fn read_next(
        &mut self,
        routes: &mut Vec<usize>,
        budget: &mut usize,
        entry: &mut Entry,
    ) -> Result<bool, JournalError> {
        loop {
            if let Some(k) = self.ahead.kept.get(self.ahead.next) {
                self.ahead.next += 1;
                routes.clear();
                routes.extend_from_slice(&self.ahead.routes[k.routes.clone()]);
                self.ahead.fields[k.fields].entry_at(k.us, entry);
                return Ok(true);
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            self.read_ahead(budget);
            // it stops short of an entry only at the journal's end or the budget's
            if self.ahead.kept.is_empty() && self.failed.is_none() {
                return Ok(false);
            }
        }
    }

    /// Reads entries until [`READ_AHEAD`] of them are taken by some route, the journal ends
    /// or `budget` is spent; an error stops it, kept in `failed`. Entries no route takes are
    /// dropped here, their slot reused.
    fn read_ahead(&mut self, budget: &mut usize) {
        let ahead = &mut self.ahead;
        ahead.kept.clear();
        ahead.routes.clear();
        ahead.next = 0;
        while ahead.kept.len() < READ_AHEAD && *budget > 0 {
            match self.journal.next() {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    self.failed = Some(e.into());
                    return;
                }
            }
            *budget -= 1;
            self.moved = true;
            let slot = ahead.kept.len();
            if slot == ahead.fields.len() {
                ahead.fields.push(Fields::default());
            }
            let fields = &mut ahead.fields[slot];
            if let Err(e) = fields.read(&mut self.journal, &self.route_fields) {
                // one bad entry must not stop the reader (nor, read again at every restart, banjo)
                self.undecodable += 1;
                if self.undecodable.is_power_of_two() {
                    tracing::warn!(
                        "journal: {} entr(ies) skipped that cannot be read: {e}",
                        self.undecodable
                    );
                }
                continue;
            }
            let start = ahead.routes.len();
            ahead.routes.extend(
                self.routes
                    .iter()
                    .zip(&self.slots)
                    .enumerate()
                    .filter(|(_, (r, slots))| r.accepts_at(|k, value| fields.has(slots[k], value)))
                    .map(|(i, _)| i),
            );
            if ahead.routes.len() == start {
                continue;
            }
            match fields.time_us(&self.journal) {
                Ok(us) => ahead.kept.push(Kept {
                    fields: slot,
                    routes: start..ahead.routes.len(),
                    us,
                }),
                Err(e) => {
                    self.failed = Some(e);
                    return;
                }
            }
        }
    }

    /// Entries skipped so far because their fields could not be read.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// The cursor of the last entry read, if any was read since the last call. Entries are
    /// read ahead, but [`Follower::read_next`] hands out all of them before it gives false:
    /// after a false this is also the last entry handed out, the one a restart reads on from.
    pub fn take_cursor(&mut self) -> Result<Option<String>, JournalError> {
        debug_assert_eq!(
            self.ahead.next,
            self.ahead.kept.len(),
            "a cursor taken past entries not handed out"
        );
        if !std::mem::take(&mut self.moved) {
            return Ok(None);
        }
        Ok(Some(self.journal.cursor()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `entries` (FIELD=VALUE lines each, `__REALTIME_TIMESTAMP` and the rest added) as a
    /// journal file in a new directory, written by systemd-journal-remote; None without it.
    fn journal_of(entries: &[String]) -> Option<tempfile::TempDir> {
        let remote = [
            "/lib/systemd/systemd-journal-remote",
            "/usr/lib/systemd/systemd-journal-remote",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
        let dir = tempfile::tempdir().unwrap();
        let mut export = String::new();
        for (i, e) in entries.iter().enumerate() {
            export += &format!(
                "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n{e}\n\n",
                1_763_980_000_000_000u64 + i as u64 * 1_000_000,
                1_000_000 + i * 1_000_000
            );
        }
        let path = dir.path().join("in.export");
        std::fs::write(&path, export).unwrap();
        let out = std::process::Command::new(remote)
            .arg(format!("--output={}", dir.path().join("t.journal").display()))
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Some(dir)
    }

    fn follower(dir: &tempfile::TempDir, matches: &str) -> Follower {
        let routes = vec![route(matches), route("SYSLOG_IDENTIFIER=other")];
        let start = Start::Since(jiff::Timestamp::UNIX_EPOCH);
        Follower::open(&Location::Directory(dir.path().to_path_buf()), routes, &start).unwrap()
    }

    #[test]
    fn lines_are_host_ident_pid_message_with_the_source_time() {
        let entries = [
            "_HOSTNAME=mx1\nSYSLOG_IDENTIFIER=sshd\nSYSLOG_PID=7\n_PID=8\n_COMM=sshd-session\n\
             _SOURCE_REALTIME_TIMESTAMP=1700000000000001\nMESSAGE=Failed password for root from 192.0.2.1",
            // no SYSLOG_IDENTIFIER nor SYSLOG_PID: _COMM and _PID stand in; the receive time
            "_HOSTNAME=mx1\n_COMM=sshd\n_PID=9\nMESSAGE=two",
            // a jail's match that no line part shows still routes; no host, no pid
            "_COMM=sshd\nSYSLOG_IDENTIFIER=other\nMESSAGE=three",
            // taken by no route: skipped, its line never built
            "SYSLOG_IDENTIFIER=nobody\nMESSAGE=four",
            // a field twice: either value routes (sd-journal's rule)
            "SYSLOG_IDENTIFIER=x\nSYSLOG_IDENTIFIER=sshd\nMESSAGE=five",
        ]
        .map(str::to_string);
        let Some(dir) = journal_of(&entries) else {
            eprintln!("SKIP: systemd-journal-remote is not installed");
            return;
        };
        let mut f = follower(&dir, "SYSLOG_IDENTIFIER=sshd + _COMM=sshd");
        let (mut routes, mut budget, mut entry) = (Vec::new(), usize::MAX, Entry::default());
        let mut got = Vec::new();
        while f.read_next(&mut routes, &mut budget, &mut entry).unwrap() {
            let us = entry.time.map(|t| t.as_microsecond());
            got.push((String::from_utf8(entry.text.clone()).unwrap(), us, routes.clone()));
        }
        let base = 1_763_980_000_000_000;
        assert_eq!(
            got,
            [
                (
                    "mx1 sshd[7]: Failed password for root from 192.0.2.1".into(),
                    Some(1_700_000_000_000_001),
                    vec![0]
                ),
                ("mx1 sshd[9]: two".into(), Some(base + 1_000_000), vec![0]),
                ("other: three".into(), Some(base + 2_000_000), vec![0, 1]),
                ("x: five".into(), Some(base + 4_000_000), vec![0]),
            ]
        );
    }

    #[test]
    fn a_warm_reader_allocates_nothing_per_entry() {
        let entries: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    "_HOSTNAME=mx1\nSYSLOG_IDENTIFIER={}\n_PID={i}\n_SOURCE_REALTIME_TIMESTAMP={}\n\
                     MESSAGE=session opened for user u{i} by (uid=0) noise {i}",
                    if i % 3 == 0 { "sshd" } else { "other" },
                    1_700_000_000_000_000u64 + i
                )
            })
            .collect();
        let Some(dir) = journal_of(&entries) else {
            eprintln!("SKIP: systemd-journal-remote is not installed");
            return;
        };
        let mut f = follower(&dir, "SYSLOG_IDENTIFIER=sshd");
        let (mut routes, mut budget, mut entry) = (Vec::new(), usize::MAX, Entry::default());
        for _ in 0..20 {
            assert!(f.read_next(&mut routes, &mut budget, &mut entry).unwrap());
        }
        let mut n = 0;
        let allocations = crate::sys::alloc_count::allocations(|| {
            while f.read_next(&mut routes, &mut budget, &mut entry).unwrap() {
                n += 1;
            }
        });
        assert_eq!(n, 180);
        assert_eq!(allocations, 0);
    }

    #[test]
    fn timestamps_are_plain_decimal_microseconds() {
        assert_eq!(decimal(b"1732960000123456"), Some(1_732_960_000_123_456));
        assert_eq!(decimal(b"0"), Some(0));
        for bad in [&b""[..], b"-1", b"12a", b" 12", b"1234567890123456789"] {
            assert_eq!(decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn matches_follow_journalctl_syntax() {
        assert_eq!(
            parse_match("_SYSTEMD_UNIT=dovecot.service").unwrap(),
            Some(("_SYSTEMD_UNIT", "dovecot.service"))
        );
        assert_eq!(parse_match("+").unwrap(), None);
        assert!(parse_match("syslog_identifier=x").is_err());
        assert!(parse_match("NOEQUALS").is_err());
        assert_eq!(parse_match("MESSAGE=a=b").unwrap(), Some(("MESSAGE", "a=b")));
    }

    fn route(words: &str) -> Route {
        let words: Vec<String> = words.split_whitespace().map(str::to_string).collect();
        Route::new(&words).unwrap()
    }

    /// An entry given as FIELD=VALUE words (a field may repeat).
    fn accepts(r: &Route, entry: &str) -> bool {
        let fields: Vec<(&str, &str)> = entry
            .split_whitespace()
            .map(|w| w.split_once('=').unwrap())
            .collect();
        r.accepts(|name, value| fields.iter().any(|(f, v)| *f == name && v.as_bytes() == value))
    }

    const SSHD: &str = "_SYSTEMD_UNIT=ssh.service + _SYSTEMD_UNIT=sshd.service + \
                        SYSLOG_IDENTIFIER=sshd SYSLOG_IDENTIFIER=sshd-session SYSLOG_IDENTIFIER=sshd-auth _UID=0";

    #[test]
    fn route_is_an_or_of_groups_each_an_and_of_fields() {
        let r = route(SSHD);
        assert!(accepts(
            &r,
            "_SYSTEMD_UNIT=ssh.service SYSLOG_IDENTIFIER=sshd-session _UID=0"
        ));
        assert!(accepts(
            &r,
            "_SYSTEMD_UNIT=ssh.service SYSLOG_IDENTIFIER=anything _UID=1000"
        ));
        assert!(
            accepts(&r, "SYSLOG_IDENTIFIER=sshd-session _UID=0"),
            "the unit lost at exit"
        );
        assert!(accepts(&r, "SYSLOG_IDENTIFIER=sshd-auth _UID=0"));
        assert!(accepts(&r, "SYSLOG_IDENTIFIER=sshd _UID=0"));
        assert!(
            !accepts(&r, "SYSLOG_IDENTIFIER=sshd-session _UID=1000"),
            "forged by a user"
        );
        assert!(!accepts(&r, "SYSLOG_IDENTIFIER=sshd-session"), "no uid at all");
        assert!(!accepts(&r, "SYSLOG_IDENTIFIER=sshdx _UID=0"));
        assert!(!accepts(
            &r,
            "_SYSTEMD_UNIT=user@1000.service SYSLOG_IDENTIFIER=sshd _UID=1000"
        ));
    }

    #[test]
    fn route_sees_every_value_of_a_repeated_field() {
        let r = route(SSHD);
        assert!(accepts(&r, "SYSLOG_IDENTIFIER=x SYSLOG_IDENTIFIER=sshd _UID=0"));
        assert!(accepts(&r, "SYSLOG_IDENTIFIER=sshd SYSLOG_IDENTIFIER=x _UID=0"));
    }

    #[test]
    fn route_reads_as_an_expression() {
        assert_eq!(
            route(SSHD).to_string(),
            "_SYSTEMD_UNIT=ssh.service OR _SYSTEMD_UNIT=sshd.service OR \
             (SYSLOG_IDENTIFIER=sshd|sshd-session|sshd-auth AND _UID=0)"
        );
        assert_eq!(route("A=1 B=2").to_string(), "A=1 AND B=2");
    }
}
