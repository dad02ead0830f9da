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
        let opened = match location {
            Location::System => OpenOptions::default().system(true).open(),
            Location::Directory(d) => {
                OpenDirectoryOptions::default().open_directory(d.to_string_lossy().as_ref())
            }
            Location::Files(f) => {
                OpenFilesOptions::default().open_files(f.iter().map(|p| p.to_string_lossy().into_owned()))
            }
        };
        for m in matches {
            parse_match(m)?;
        }
        let mut journal = opened.map_err(|e| JournalError::Open {
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
        })?;
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
        self.fields.entry(&self.journal).map(Some)
    }
}

/// The fields banjo reads of an entry, gathered in one pass over its data (one lookup per
/// field would walk the entry's items once each); the buffers are reused entry after entry.
#[derive(Debug, Default)]
struct Fields {
    message: Option<Vec<u8>>,
    hostname: Option<Vec<u8>>,
    ident: Option<Vec<u8>>,
    comm: Option<Vec<u8>>,
    syslog_pid: Option<Vec<u8>>,
    pid: Option<Vec<u8>>,
    source_us: Option<i64>,
    /// Every value of the fields routes look at (an entry may carry a field more than once,
    /// and sd-journal matches any of them): (index in `route_fields`, range in `route_data`).
    route: Vec<(usize, std::ops::Range<usize>)>,
    route_data: Vec<u8>,
}

fn put(slot: &mut Option<Vec<u8>>, value: &[u8]) {
    let v = slot.get_or_insert_with(Vec::new);
    v.clear();
    v.extend_from_slice(value);
}

impl Fields {
    fn read(&mut self, journal: &mut Journal, route_fields: &[String]) -> Result<(), JournalError> {
        for slot in [
            &mut self.message,
            &mut self.hostname,
            &mut self.ident,
            &mut self.comm,
            &mut self.syslog_pid,
            &mut self.pid,
        ] {
            *slot = None;
        }
        self.source_us = None;
        self.route.clear();
        self.route_data.clear();
        journal.restart_data();
        while let Some(field) = journal.enumerate_data()? {
            let (name, Some(value)) = (field.name(), field.value()) else {
                continue;
            };
            match name {
                b"MESSAGE" => put(&mut self.message, value),
                b"_HOSTNAME" => put(&mut self.hostname, value),
                b"SYSLOG_IDENTIFIER" => put(&mut self.ident, value),
                b"_COMM" => put(&mut self.comm, value),
                b"SYSLOG_PID" => put(&mut self.syslog_pid, value),
                b"_PID" => put(&mut self.pid, value),
                b"_SOURCE_REALTIME_TIMESTAMP" => {
                    self.source_us = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
                }
                _ => {}
            }
            if let Some(i) = route_fields.iter().position(|f| f.as_bytes() == name) {
                let start = self.route_data.len();
                self.route_data.extend_from_slice(value);
                self.route.push((i, start..self.route_data.len()));
            }
        }
        Ok(())
    }

    /// Whether the entry has field `route_fields[i]` with this value.
    fn has(&self, i: usize, value: &[u8]) -> bool {
        self.route
            .iter()
            .any(|(f, r)| *f == i && &self.route_data[r.clone()] == value)
    }

    /// The entry as `HOSTNAME IDENTIFIER[PID]: MESSAGE` with its own time
    /// (`_SOURCE_REALTIME_TIMESTAMP`, else the time journald received it).
    fn entry(&self, journal: &Journal) -> Result<Entry, JournalError> {
        let us = match self.source_us {
            Some(us) => us,
            None => journal.timestamp_usec()? as i64,
        };
        let mut text = Vec::with_capacity(128);
        if let Some(host) = &self.hostname {
            text.extend_from_slice(host);
            text.push(b' ');
        }
        if let Some(ident) = self.ident.as_ref().or(self.comm.as_ref()) {
            text.extend_from_slice(ident);
            if let Some(pid) = self.syslog_pid.as_ref().or(self.pid.as_ref()) {
                text.push(b'[');
                text.extend_from_slice(pid);
                text.push(b']');
            }
            text.extend_from_slice(b": ");
        }
        if let Some(msg) = &self.message {
            text.extend_from_slice(msg);
        }
        super::one_record(&mut text);
        Ok(Entry {
            time: jiff::Timestamp::from_microsecond(us).ok(),
            text,
        })
    }
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
        self.groups.iter().any(|group| {
            group
                .iter()
                .all(|(field, values)| values.iter().any(|v| has(field, v)))
        })
    }

    fn add_to(&self, journal: &mut Journal) -> Result<(), JournalError> {
        for (i, group) in self.groups.iter().enumerate() {
            if i > 0 {
                journal.match_or()?;
            }
            for (field, values) in group {
                for v in values {
                    journal.match_add(field, v.clone())?;
                }
            }
        }
        Ok(())
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

/// One reader for all jails on the journal: subscribed to the OR of their matches, woken by
/// the journal's fd, each entry handed out with the routes (jails) it belongs to.
pub struct Follower {
    journal: Journal,
    routes: Vec<Route>,
    /// Every field some route looks at, read once per entry.
    route_fields: Vec<String>,
    /// The current entry's fields, buffers reused.
    fields: Fields,
    /// Whether an entry was read since the cursor was last taken.
    moved: bool,
    /// Entries skipped because sd-journal could not read their fields (a corrupt object, a
    /// compression it does not know).
    undecodable: u64,
}

/// Largest field value read from an entry (sd-journal's data threshold).
const DATA_THRESHOLD: usize = 64 * 1024;

impl Follower {
    pub fn open(location: &Location, routes: Vec<Route>, start: &Start) -> Result<Follower, JournalError> {
        let mut journal = Reader::open(location, &[])?.journal;
        journal.set_data_threshold(DATA_THRESHOLD)?;
        journal.match_flush()?;
        for (i, r) in routes.iter().enumerate() {
            if i > 0 {
                journal.match_or()?;
            }
            r.add_to(&mut journal)?;
        }
        let mut route_fields: Vec<String> = routes
            .iter()
            .flat_map(|r| r.fields().map(str::to_string))
            .collect();
        route_fields.sort();
        route_fields.dedup();
        let mut f = Follower {
            fields: Fields::default(),
            journal,
            routes,
            route_fields,
            moved: false,
            undecodable: 0,
        };
        f.seek(start)?;
        Ok(f)
    }

    fn seek(&mut self, start: &Start) -> Result<(), JournalError> {
        match start {
            Start::After(cursor) => {
                self.journal.seek_cursor(cursor.as_str())?;
                // The entry at the cursor, if it still exists, was read before the restart.
                if self.journal.next()? > 0 && !self.journal.test_cursor(cursor.as_str())? {
                    // It was vacuumed: we stand on the next newer entry, which is unread.
                    self.journal.previous()?;
                }
            }
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

    /// The next entry and the indexes of the routes it belongs to (`routes` is overwritten).
    pub fn next_entry(&mut self, routes: &mut Vec<usize>) -> Result<Option<Entry>, JournalError> {
        loop {
            if self.journal.next()? == 0 {
                return Ok(None);
            }
            self.moved = true;
            if let Err(e) = self.fields.read(&mut self.journal, &self.route_fields) {
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
            routes.clear();
            let (names, fields) = (&self.route_fields, &self.fields);
            let has = |name: &str, value: &[u8]| {
                names
                    .iter()
                    .position(|f| f == name)
                    .is_some_and(|i| fields.has(i, value))
            };
            routes.extend(
                self.routes
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.accepts(has))
                    .map(|(i, _)| i),
            );
            if routes.is_empty() {
                continue;
            }
            return self.fields.entry(&self.journal).map(Some);
        }
    }

    /// Entries skipped so far because their fields could not be read.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// The cursor of the last entry read, if any was read since the last call.
    pub fn take_cursor(&mut self) -> Result<Option<String>, JournalError> {
        if !std::mem::take(&mut self.moved) {
            return Ok(None);
        }
        Ok(Some(self.journal.cursor()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
