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
        Ok(Reader { journal })
    }

    /// The next entry, as `HOSTNAME IDENTIFIER[PID]: MESSAGE` like fail2ban's journal backend,
    /// so fail2ban filter files written for syslog lines match it unchanged.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, JournalError> {
        if self.journal.next()? == 0 {
            return Ok(None);
        }
        let time = match self.field("_SOURCE_REALTIME_TIMESTAMP")? {
            Some(us) => std::str::from_utf8(&us).ok().and_then(|s| s.parse::<i64>().ok()),
            None => None,
        };
        let time = match time {
            Some(us) => Some(us),
            None => Some(self.journal.timestamp_usec()? as i64),
        }
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok());
        let mut text = Vec::with_capacity(128);
        if let Some(host) = self.field("_HOSTNAME")? {
            text.extend_from_slice(&host);
            text.push(b' ');
        }
        let ident = match self.field("SYSLOG_IDENTIFIER")? {
            Some(i) => Some(i),
            None => self.field("_COMM")?,
        };
        if let Some(ident) = ident {
            text.extend_from_slice(&ident);
            let pid = match self.field("SYSLOG_PID")? {
                Some(p) => Some(p),
                None => self.field("_PID")?,
            };
            if let Some(pid) = pid {
                text.push(b'[');
                text.extend_from_slice(&pid);
                text.push(b']');
            }
            text.extend_from_slice(b": ");
        }
        if let Some(msg) = self.field("MESSAGE")? {
            text.extend_from_slice(&msg);
        }
        Ok(Some(Entry { time, text }))
    }

    fn field(&mut self, name: &str) -> Result<Option<Vec<u8>>, JournalError> {
        Ok(self
            .journal
            .get_data(name)?
            .and_then(|f| f.value().map(<[u8]>::to_vec)))
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
}
