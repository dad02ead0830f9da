//! banjo-notify's own journal reader: banjo's ban and unban records only, from root, resumed
//! after a saved cursor. The match is on trusted fields too (`_UID=0`, stamped by journald),
//! because any local user can log a record with banjo's MESSAGE_ID, and a forged "ban" must
//! not send mail or run a command.
use std::collections::HashMap;
use std::os::fd::RawFd;

use jiff::Timestamp;
use systemd::journal::Journal;

use super::record::{Event, RecordError, id_from_cursor};
use crate::daemon::audit;
use crate::source::journal::{self as source, JournalError, Location};

/// The fields of a record banjo-notify reads.
const FIELDS: &[&str] = &[
    "MESSAGE_ID",
    "JAIL",
    "IP",
    "BANTIME",
    "UNTIL",
    "FAILURES",
    "BANS_BEFORE",
    "MATCHES",
    "REASON",
    "_HOSTNAME",
];

/// Largest field value read (the matched lines are a few KiB).
const DATA_THRESHOLD: usize = 256 * 1024;

/// One record read: its cursor, and the event or why it was not taken.
pub struct Record {
    pub cursor: String,
    pub event: Result<Event, RecordError>,
}

pub struct Records {
    journal: Journal,
}

impl Records {
    /// Opens the journal with banjo's matches, after `cursor` when one was saved; else at
    /// `since` (a start that found no record yet); else after the last record there is (a
    /// first start mails nothing from the past). Returns the reader and, when it started
    /// after the last record, that record's cursor to save as the starting point.
    pub fn open(
        location: &Location,
        cursor: Option<&str>,
        since: Option<Timestamp>,
    ) -> Result<(Records, Option<String>), JournalError> {
        let mut journal = source::open(location)?;
        journal.set_data_threshold(DATA_THRESHOLD)?;
        for id in [audit::BAN_ID, audit::UNBAN_ID] {
            journal.match_add("MESSAGE_ID", id)?;
        }
        journal.match_add("_UID", "0")?;
        journal.match_add("SYSLOG_IDENTIFIER", "banjo")?;
        let start = match cursor {
            Some(c) => {
                source::seek_after(&mut journal, c)?;
                None
            }
            None if since.is_some() => {
                let us = since.map_or(0, |t| t.as_microsecond().max(0) as u64);
                journal.seek_realtime_usec(us)?;
                None
            }
            None => {
                journal.seek_tail()?;
                if journal.previous()? > 0 {
                    Some(journal.cursor()?)
                } else {
                    // no record at all yet: every one to come is new
                    journal.seek_head()?;
                    None
                }
            }
        };
        Ok((Records { journal }, start))
    }

    /// The fd to poll for new entries.
    pub fn fd(&self) -> Result<RawFd, JournalError> {
        Ok(self.journal.fd()?)
    }

    /// After the fd woke: lets sd-journal take in new or rotated files.
    pub fn process(&mut self) -> Result<(), JournalError> {
        self.journal.process()?;
        Ok(())
    }

    /// The next record, if there is one.
    pub fn next_record(&mut self) -> Result<Option<Record>, JournalError> {
        if self.journal.next()? == 0 {
            return Ok(None);
        }
        let mut fields = HashMap::new();
        self.journal.restart_data();
        while let Some(data) = self.journal.enumerate_data()? {
            let (Some(value), Ok(name)) = (data.value(), std::str::from_utf8(data.name())) else {
                continue;
            };
            if FIELDS.contains(&name) {
                fields.insert(name.to_string(), String::from_utf8_lossy(value).into_owned());
            }
        }
        let cursor = self.journal.cursor()?;
        let us = self.journal.timestamp_usec()? as i64;
        let time = Timestamp::from_microsecond(us).unwrap_or_else(|_| Timestamp::now());
        let event = Event::from_record(&fields, id_from_cursor(&cursor), time);
        Ok(Some(Record { cursor, event }))
    }
}
