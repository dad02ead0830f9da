//! banjo-notify's state file, `notify.json` in its state directory: the journal cursor and
//! the outbox, saved together and atomically. Everything read up to the cursor is either
//! done or in the outbox, so a restart, a crash or a reboot resumes with nothing lost and
//! nothing read twice.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::outbox::Outbox;

const VERSION: u32 = 1;
/// The file's name in the state directory.
pub const FILE: &str = "notify.json";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The cursor of the last record taken; None before the first one.
    pub cursor: Option<String>,
    /// When banjo-notify first ran and found no record to start after: until it has a
    /// cursor, a restart reads from here (records logged while it was down are not skipped).
    #[serde(default, with = "crate::time::opt_ts")]
    pub since: Option<jiff::Timestamp>,
    #[serde(default)]
    pub outbox: Outbox,
}

/// Why the state file could not be used: it is moved aside and banjo-notify starts afresh.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is damaged: {message}", path.display())]
    Damaged { path: PathBuf, message: String },
}

impl State {
    /// `Ok(None)`: no file yet, a first start.
    pub fn load(path: &Path) -> Result<Option<State>, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let damaged = |message: String| StateError::Damaged {
            path: path.to_path_buf(),
            message,
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        if state.version != VERSION {
            return Err(damaged(format!(
                "version {}, this banjo reads {VERSION}",
                state.version
            )));
        }
        Ok(Some(state))
    }

    pub fn save(&self, path: &Path) -> Result<(), crate::state::WriteError> {
        let me = State {
            version: VERSION,
            ..self.clone()
        };
        crate::state::write_atomically_with(path, |w| {
            serde_json::to_writer(w, &me).map_err(std::io::Error::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert!(State::load(&path).unwrap().is_none(), "no file: first start");
        let state = State {
            version: VERSION,
            cursor: Some("s=1;i=2".into()),
            since: None,
            outbox: Outbox::default(),
        };
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state));
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, b"{\"version\":1,\"cursor\":").unwrap();
        let e = State::load(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{} is damaged", path.display())), "{e}");
        std::fs::write(&path, b"{\"version\":9}").unwrap();
        assert!(State::load(&path).unwrap_err().to_string().contains("version 9"));
    }
}
