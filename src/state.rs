//! banjo's directories: where state (bans, journal cursor) and runtime files (sockets) live,
//! and writing files there so that a crash never leaves half a file.
use std::path::{Path, PathBuf};

/// The state directory: the config's `state_dir`, else $STATE_DIRECTORY (set by systemd's
/// StateDirectory=), else /var/lib/banjo.
pub fn state_dir(configured: Option<&Path>) -> PathBuf {
    dir(configured, "STATE_DIRECTORY", "/var/lib/banjo")
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

/// Writes a file so that a crash leaves either the old or the new content: a temporary file
/// in the same directory, fsync, rename over the target, fsync the directory.
pub fn write_atomically(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
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
