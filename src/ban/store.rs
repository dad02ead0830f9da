//! The state file: the ledger as versioned JSON, written atomically (temporary file, fsync,
//! rename, fsync of the directory) and read back without the bans that ended meanwhile. A file
//! banjo cannot read is an error for the daemon to report and [`quarantine`], never something
//! to overwrite.
//!
//! ```json
//! {"version":1,
//!  "bans":[{"jail":"sshd","target":"192.0.2.7","since":"2025-03-01T12:00:00Z",
//!           "until":"2025-03-01T12:10:00Z","count":0,"failures":5,"lines":["…"]}],
//!  "history":[{"jail":"sshd","target":"192.0.2.7","count":1,
//!              "last":"2025-03-01T12:00:00Z","last_until":"2025-03-01T12:10:00Z"}]}
//! ```
//! `until`/`last_until` are `null` for a permanent ban.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::Ban;
use super::ledger::{BanRecord, Ledger};
use crate::addr::Target;
use crate::time::{opt_ts, ts};

/// The state file format this banjo writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why the state file could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What banjo was doing: "read", "write", "rename … to", …
        action: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "state file {} is damaged: {message}; move it aside (or delete it) to start without the saved bans",
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "state file {} has format version {version}, this banjo reads version {supported}: \
         it was written by a newer banjo; upgrade, or move the file aside to start without the saved bans",
        path.display()
    )]
    UnknownVersion {
        path: PathBuf,
        version: u64,
        supported: u32,
    },
}

impl LedgerError {
    fn io(action: impl Into<String>, path: &Path, source: io::Error) -> LedgerError {
        LedgerError::Io {
            action: action.into(),
            path: path.to_path_buf(),
            source,
        }
    }
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    bans: Vec<&'a Ban>,
    history: Vec<RecordRow<'a>>,
}

/// Read when the whole file does not parse, to tell a newer format from damage.
#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

#[derive(Serialize)]
struct RecordRow<'a> {
    jail: &'a str,
    target: Target,
    count: u32,
    #[serde(with = "ts")]
    last: Timestamp,
    #[serde(with = "opt_ts")]
    last_until: Option<Timestamp>,
}

#[derive(Deserialize)]
struct RecordRowIn<'a> {
    #[serde(borrow)]
    jail: Cow<'a, str>,
    target: Target,
    count: u32,
    #[serde(with = "ts")]
    last: Timestamp,
    #[serde(with = "opt_ts")]
    last_until: Option<Timestamp>,
}

impl Ledger {
    /// Writes the ledger to `path` atomically: `path.tmp` in the same directory (mode 0600),
    /// fsync, rename over `path`, fsync of the directory. On any error the old file is left
    /// as it was and the temporary file is removed.
    pub fn save(&self, path: &Path) -> Result<(), LedgerError> {
        // Sorted, so the same ledger always writes the same file (diffable, debuggable).
        let mut bans: Vec<&Ban> = self.all().collect();
        bans.sort_unstable_by(|a, b| (&a.jail, a.target).cmp(&(&b.jail, b.target)));
        let mut history: Vec<RecordRow> = self
            .records()
            .map(|(jail, target, r)| RecordRow {
                jail,
                target,
                count: r.count,
                last: r.last,
                last_until: r.last_until,
            })
            .collect();
        history.sort_unstable_by(|a, b| (a.jail, a.target).cmp(&(b.jail, b.target)));
        let file = FileOut {
            version: FORMAT_VERSION,
            bans,
            history,
        };
        crate::state::write_atomically_with(path, |w| {
            serde_json::to_writer(&mut *w, &file).map_err(io::Error::from)?;
            w.write_all(b"\n")
        })
        .map_err(|e| LedgerError::io(e.action, &e.path, e.source))
    }

    /// Reads the ledger saved at `path`, without the bans that ended before `now` and with the
    /// history pruned for `now`. A missing file is an empty ledger (the first start).
    pub fn load(path: &Path, now: Timestamp, history_age: Duration) -> Result<Ledger, LedgerError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ledger::new(history_age)),
            Err(e) => return Err(LedgerError::io("read", path, e)),
        };
        let mut ledger = parse(path, &bytes, now, history_age)?;
        drop(bytes);
        ledger.prune_history(now);
        ledger.pack_expiries();
        Ok(ledger)
    }
}

/// Parses the file straight into a ledger: each ban and history row is put in as it is read,
/// so no list of every ban is ever held beside the ledger (with 100k bans that list was as
/// big as the ledger itself, and the memory it took stayed in the heap after start).
fn parse(path: &Path, bytes: &[u8], now: Timestamp, history_age: Duration) -> Result<Ledger, LedgerError> {
    let unknown = |version| LedgerError::UnknownVersion {
        path: path.to_path_buf(),
        version,
        supported: FORMAT_VERSION,
    };
    let mut ledger = Ledger::new(history_age);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = serde::de::DeserializeSeed::deserialize(
        FileSeed {
            ledger: &mut ledger,
            now,
        },
        &mut de,
    )
    .and_then(|version| de.end().map(|()| version));
    match read {
        Ok(version) if version == u64::from(FORMAT_VERSION) => Ok(ledger),
        Ok(version) => Err(unknown(version)),
        Err(e) => match serde_json::from_slice::<VersionOnly>(bytes) {
            Ok(v) if v.version != u64::from(FORMAT_VERSION) => Err(unknown(v.version)),
            _ => Err(LedgerError::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        },
    }
}

/// The whole file, read into `ledger`; answers the file's version.
struct FileSeed<'l> {
    ledger: &'l mut Ledger,
    now: Timestamp,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<u64, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("banjo's state: an object with version, bans and history")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut version = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "version" => version = Some(map.next_value::<u64>()?),
                "bans" => map.next_value_seed(Rows {
                    ledger: &mut *self.ledger,
                    now: self.now,
                    kind: RowKind::Ban,
                })?,
                "history" => map.next_value_seed(Rows {
                    ledger: &mut *self.ledger,
                    now: self.now,
                    kind: RowKind::Record,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        version.ok_or_else(|| de::Error::missing_field("version"))
    }
}

#[derive(Clone, Copy)]
enum RowKind {
    Ban,
    Record,
}

/// The list of bans or of history records, each put into the ledger as it is read (a ban
/// that ended before `now` is left out).
struct Rows<'l> {
    ledger: &'l mut Ledger,
    now: Timestamp,
    kind: RowKind,
}

impl<'de> DeserializeSeed<'de> for Rows<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.kind {
            RowKind::Ban => {
                while let Some(mut ban) = seq.next_element::<Ban>()? {
                    if ban.until.is_some_and(|until| until <= self.now) {
                        continue;
                    }
                    ban.target = ban.target.canonical();
                    self.ledger.insert(ban);
                }
            }
            RowKind::Record => {
                while let Some(row) = seq.next_element::<RecordRowIn>()? {
                    let record = BanRecord {
                        count: row.count,
                        last: row.last,
                        last_until: row.last_until,
                    };
                    self.ledger
                        .insert_record(&row.jail, row.target.canonical(), record);
                }
            }
        }
        Ok(())
    }
}

/// Moves an unreadable state file aside as `path.corrupt-YYYYMMDDTHHMMSSZ` (with `-2`, `-3`…
/// when that name is taken) so nothing is lost, and returns the new name.
pub fn quarantine(path: &Path, now: Timestamp) -> Result<PathBuf, LedgerError> {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut n = 1;
    let aside = loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".corrupt-{stamp}"));
        if n > 1 {
            name.push(format!("-{n}"));
        }
        let aside = PathBuf::from(name);
        if !aside.exists() {
            break aside;
        }
        n += 1;
    };
    fs::rename(path, &aside)
        .map_err(|e| LedgerError::io(format!("move aside (to {})", aside.display()), path, e))?;
    crate::state::sync_dir(path).map_err(|e| LedgerError::io(e.action, &e.path, e.source))?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::jail::{BanHistory, BanOrder};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn order(jail: &str, target: Target, until: Option<i64>, lines: usize) -> BanOrder {
        BanOrder {
            jail: jail.into(),
            target,
            since: at(0),
            until: until.map(at),
            bantime: None,
            failures: 5,
            lines: (0..lines)
                .map(|i| {
                    format!(
                        "Mar  1 12:00:0{i} host sshd[1234]: Failed password for invalid user admin from {target} port 4711{i} ssh2"
                    )
                })
                .collect(),
            count: 0,
            seen: vec![],
            note: None,
        }
    }

    fn addr(i: u32) -> Target {
        Target::addr(std::net::Ipv4Addr::from(0x0a00_0000 + i).into())
    }

    #[test]
    fn save_load_roundtrip_drops_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", addr(1), Some(100), 2));
        ledger.add(order("sshd", addr(2), Some(1000), 1));
        ledger.add(order("sshd", "2001:db8::/64".parse().unwrap(), None, 0));
        ledger.add(order("dovecot", addr(1), Some(2000), 0));
        ledger.save(&path).unwrap();

        let loaded = Ledger::load(&path, at(500), Duration::from_secs(86400)).unwrap();
        assert_eq!(loaded.len(), 3, "the ban that ended at 100 is dropped");
        assert!(loaded.get("sshd", &addr(1)).is_none());
        assert_eq!(loaded.get("sshd", &addr(2)), ledger.get("sshd", &addr(2)));
        let permanent = loaded.get("sshd", &"2001:db8::/64".parse().unwrap()).unwrap();
        assert_eq!(permanent.until, None, "permanent bans persist");
        assert_eq!(loaded.next_expiry(), Some(at(1000)));
        assert_eq!(
            loaded.ban_count(&addr(1), Some("sshd")),
            1,
            "history outlives the ban"
        );
        assert_eq!(loaded.ban_count(&addr(1), None), 2);

        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"version\":1,"), "{text}");
        loaded.save(&path).unwrap();
        let mut expected = ledger.clone();
        expected.expire(at(500));
        let again = dir.path().join("again.json");
        expected.save(&again).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            fs::read(&again).unwrap(),
            "the same ledger, the same file"
        );
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_ban_written_twice_loads_once_with_its_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let ban = r#"{"jail":"sshd","target":"192.0.2.1","since":"2023-11-14T22:13:20Z",
                      "until":"2023-11-14T22:23:20Z","count":0,"failures":3}"#;
        fs::write(
            &path,
            format!(r#"{{"version":1,"bans":[{ban},{ban}],"history":[]}}"#),
        )
        .unwrap();
        let mut loaded = Ledger::load(&path, at(0), Duration::ZERO).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.next_expiry(), Some(at(600)));
        assert_eq!(loaded.expire(at(600)).len(), 1);
        assert!(loaded.is_empty());
    }

    #[test]
    fn missing_state_file_is_an_empty_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::load(&dir.path().join("state.json"), at(0), Duration::ZERO).unwrap();
        assert!(ledger.is_empty());
    }

    #[test]
    fn corrupt_state_file_is_quarantined_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\":1,\"bans\":[{\"jail\":").unwrap();
        let e = Ledger::load(&path, at(0), Duration::ZERO).unwrap_err();
        assert!(matches!(e, LedgerError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains("state.json is damaged"), "{e}");
        assert!(path.exists(), "load leaves the file alone");

        let aside = quarantine(&path, at(0)).unwrap();
        assert!(!path.exists());
        assert_eq!(
            aside.file_name().unwrap().to_str().unwrap(),
            "state.json.corrupt-20231114T221320Z"
        );
        assert_eq!(fs::read(&aside).unwrap(), b"{\"version\":1,\"bans\":[{\"jail\":");

        fs::write(&path, b"garbage").unwrap();
        let again = quarantine(&path, at(0)).unwrap();
        assert!(again.to_str().unwrap().ends_with(".corrupt-20231114T221320Z-2"));
        assert!(aside.exists(), "an earlier quarantined file is not overwritten");

        fs::write(
            &path,
            b"{\"version\":1,\"bans\":[{\"jail\":\"sshd\",\"target\":\"nope\"}]}",
        )
        .unwrap();
        let e = Ledger::load(&path, at(0), Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("`nope` is not an address"), "{e}");
    }

    #[test]
    fn newer_format_is_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\":2,\"bans\":{\"new\":\"shape\"}}").unwrap();
        let e = Ledger::load(&path, at(0), Duration::ZERO).unwrap_err();
        assert!(
            matches!(e, LedgerError::UnknownVersion { version: 2, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("newer banjo"), "{e}");
    }

    #[test]
    fn atomic_save_leaves_old_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut ledger = Ledger::default();
        ledger.add(order("sshd", addr(1), None, 1));
        ledger.save(&path).unwrap();
        let old = fs::read(&path).unwrap();

        // The temporary file cannot be created: a directory has its name. (Works as root too,
        // where a read-only directory would not stop the write.)
        fs::create_dir(dir.path().join("state.json.tmp")).unwrap();
        ledger.add(order("sshd", addr(2), None, 1));
        let e = ledger.save(&path).unwrap_err();
        assert!(e.to_string().contains("cannot create"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), old, "the old file is intact");
        fs::remove_dir(dir.path().join("state.json.tmp")).unwrap();

        // The directory is gone: nothing can be written at all.
        let gone = dir.path().join("gone/state.json");
        assert!(ledger.save(&gone).is_err());

        ledger.save(&path).unwrap();
        assert_eq!(Ledger::load(&path, at(0), Duration::ZERO).unwrap().len(), 2);
    }

    /// `cargo test --release save_load_100k -- --ignored --nocapture`: the best of three runs
    /// (the machine may be busy), with and without log lines.
    /// (wall time, this thread's CPU time) of `f`: CPU time is what a busy machine does not
    /// inflate.
    fn timed(f: impl FnOnce()) -> (Duration, Duration) {
        let cpu = crate::sys::thread_cpu_time;
        let (wall, cpu0) = (Instant::now(), cpu());
        f();
        (wall.elapsed(), cpu() - cpu0)
    }

    #[test]
    #[ignore = "a timing report, not a check"]
    fn save_load_100k_bans_timing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for lines in [0, 5] {
            let mut ledger = Ledger::default();
            for i in 0..100_000 {
                ledger.add(order("sshd", addr(i), Some(600 + i64::from(i % 3600)), lines));
            }
            let (mut save, mut load) = ((Duration::MAX, Duration::MAX), (Duration::MAX, Duration::MAX));
            for _ in 0..3 {
                let took = timed(|| ledger.save(&path).unwrap());
                save = (save.0.min(took.0), save.1.min(took.1));
                let took = timed(|| {
                    let loaded = Ledger::load(&path, at(0), crate::ban::DEFAULT_HISTORY_AGE).unwrap();
                    assert_eq!(loaded.len(), 100_000);
                });
                load = (load.0.min(took.0), load.1.min(took.1));
            }
            let size = fs::metadata(&path).unwrap().len();
            println!(
                "100k bans, {lines} lines each, {:.1} MB: save {:.0?} ({:.0?} CPU), load {:.0?} ({:.0?} CPU)",
                size as f64 / 1e6,
                save.0,
                save.1,
                load.0,
                load.1
            );
        }
    }
}
