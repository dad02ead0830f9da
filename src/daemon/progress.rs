//! What a restart must resume from, saved as one file so the two always agree: the journal
//! cursor and the failures counted up to it (not yet a ban). With both, a restart neither
//! misses a failure logged while banjo was down nor counts one twice.
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::addr::Target;
use crate::jail::SeenFailure;
use crate::name::JailName;

const VERSION: u32 = 1;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub version: u32,
    /// The journal cursor of the last entry read; None before the first one.
    pub cursor: Option<String>,
    /// Per jail, the addresses with failures within findtime.
    #[serde(default)]
    pub pending: BTreeMap<JailName, Vec<Pending>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub target: Target,
    pub failures: Vec<SeenFailure>,
}

impl Progress {
    /// A missing file is a first start; a damaged one is reported and set aside by the caller.
    pub fn load(path: &Path) -> Result<Option<Progress>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let p: Progress =
            serde_json::from_slice(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))?;
        if p.version != VERSION {
            return Err(format!(
                "{} has version {}, this banjo reads {VERSION}",
                path.display(),
                p.version
            ));
        }
        Ok(Some(p))
    }

    pub fn save(&self, path: &Path) -> Result<(), crate::state::WriteError> {
        let me = Progress {
            version: VERSION,
            ..self.clone()
        };
        crate::state::write_atomically_with(path, |w| {
            serde_json::to_writer(w, &me).map_err(std::io::Error::from)
        })
    }
}

/// The cursor and the failures to resume from. A damaged file is moved aside (never lost)
/// and the journal is read again from the longest findtime back.
pub fn load(path: &Path, now: jiff::Timestamp) -> (Option<String>, BTreeMap<JailName, Vec<Pending>>) {
    match Progress::load(path) {
        Ok(Some(p)) => (p.cursor, p.pending),
        Ok(None) => (None, BTreeMap::new()),
        Err(e) => {
            let moved = crate::ban::quarantine(path, now);
            tracing::error!(
                "{e}; moved to {}: reading the journal from the longest findtime back",
                moved.map(|p| p.display().to_string()).unwrap_or_default(),
            );
            (None, BTreeMap::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_missing_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("progress.json");
        assert_eq!(Progress::load(&path).unwrap(), None);
        let mut p = Progress {
            version: VERSION,
            cursor: Some("s=abc;i=1".into()),
            ..Default::default()
        };
        p.pending.insert(
            "sshd".into(),
            vec![Pending {
                target: "192.0.2.1".parse().unwrap(),
                failures: vec![SeenFailure::new(
                    "2026-11-24T12:00:00Z".parse().unwrap(),
                    "Failed password",
                )],
            }],
        );
        p.save(&path).unwrap();
        assert_eq!(Progress::load(&path).unwrap(), Some(p));
    }

    #[test]
    fn damaged_file_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("progress.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(Progress::load(&path).unwrap_err().contains("damaged"));
    }
}
