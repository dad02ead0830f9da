//! banjo's directories: where state (bans, journal cursor) and runtime files (sockets) live,
//! and writing files there so that a crash never leaves half a file.
use std::path::{Path, PathBuf};

/// The state directory: the config's `state_dir`, else $STATE_DIRECTORY (set by systemd's
/// StateDirectory=), else /var/lib/banjo.
pub fn state_dir(configured: Option<&Path>) -> PathBuf {
    dir(configured, "STATE_DIRECTORY", "/var/lib/banjo")
}

/// banjo-notify's state directory: `[notify] state_dir`, else $STATE_DIRECTORY (its unit's
/// StateDirectory=banjo-notify), else /var/lib/banjo-notify.
pub fn notify_state_dir(configured: Option<&Path>) -> PathBuf {
    dir(configured, "STATE_DIRECTORY", "/var/lib/banjo-notify")
}

/// The runtime directory: the config's `runtime_dir`, else $RUNTIME_DIRECTORY, else /run/banjo.
pub fn runtime_dir(configured: Option<&Path>) -> PathBuf {
    dir(configured, "RUNTIME_DIRECTORY", "/run/banjo")
}

fn dir(configured: Option<&Path>, var: &str, default: &str) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    // systemd may list several directories separated by ':'; the first is banjo's own.
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => {
            let v = v.to_string_lossy().into_owned();
            PathBuf::from(v.split(':').next().unwrap_or(default))
        }
        _ => PathBuf::from(default),
    }
}

/// Why an atomic write failed: what banjo was doing, to which file.
#[derive(Debug)]
pub struct WriteError {
    /// "create", "write", "fsync", "rename … to", "fsync directory".
    pub action: String,
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for WriteError {}

fn failed(action: impl Into<String>, path: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let (action, path) = (action.into(), path.to_path_buf());
    move |source| WriteError { action, path, source }
}

/// Writes a state file so that a crash leaves either the old or the new content: `PATH.tmp`
/// in the same directory (mode 0600), fsync, rename over `PATH`, fsync the directory. On an
/// error the old file is left as it was and the temporary one removed.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(failed("create", &tmp))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &file);
        write(&mut w)
            .and_then(|()| w.flush())
            .map_err(failed("write", &tmp))?;
        drop(w);
        file.sync_all().map_err(failed("fsync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(failed(format!("rename {} to", tmp.display()), path))
    })();
    if let Err(e) = written {
        // best effort: the temporary file may not exist, or be what failed
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path)
}

/// Makes a rename of `path` durable: fsync of its directory.
pub fn sync_dir(path: &Path) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed("fsync directory", dir))
}

/// [`write_atomically_with`] for bytes already in memory.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    write_atomically_with(path, |w| w.write_all(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cursor");
        write_atomically(&p, b"one").unwrap();
        write_atomically(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn configured_dir_wins() {
        assert_eq!(state_dir(Some(Path::new("/x"))), PathBuf::from("/x"));
    }
}
