//! The command line's side of the control socket: connect, send one request, read one
//! response. Errors say whether the daemon is down, the caller may not ask, or the daemon
//! said no, so the CLI can pick the exit code (cli/exit.rs).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::protocol::{Command, ControlError, Request, Response};

/// How long the client waits for an answer: long enough for systemd to start banjo when the
/// socket activates it.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The longest response read (a list of a million bans is far less).
const MAX_RESPONSE: u64 = 256 << 20;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("banjo is not running (no socket at {}): start it with systemctl start banjo", path.display())]
    NotRunning { path: PathBuf },
    #[error(
        "permission denied on {}: run as root or as a member of the socket's group",
        path.display()
    )]
    SocketDenied { path: PathBuf },
    #[error("{0}")]
    Daemon(ControlError),
    #[error("talking to banjo at {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("banjo at {} answered something this banjo does not understand: {problem}", path.display())]
    Protocol { path: PathBuf, problem: String },
}

/// A connection factory for one socket path.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Client {
        Client {
            path: path.into(),
            timeout: TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `command`, returns the answer's data.
    pub fn call(&self, command: Command) -> Result<Value, ClientError> {
        let io = |source| ClientError::Io {
            path: self.path.clone(),
            source,
        };
        let stream = self.connect()?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        (&stream)
            .write_all(&Request::new(command).to_line())
            .map_err(io)?;
        let mut line = Vec::new();
        let mut reader = BufReader::new(io::Read::take(&stream, MAX_RESPONSE));
        reader.read_until(b'\n', &mut line).map_err(io)?;
        if line.is_empty() {
            return Err(self.protocol("it closed the connection without an answer".into()));
        }
        match Response::parse(&line).map_err(|p| self.protocol(p))? {
            Response(Ok(data)) => Ok(data),
            Response(Err(e)) => Err(ClientError::Daemon(e)),
        }
    }

    /// Sends `command`, returns the answer's data as a `T`.
    pub fn call_as<T: DeserializeOwned>(&self, command: Command) -> Result<T, ClientError> {
        let data = self.call(command)?;
        serde_json::from_value(data).map_err(|e| self.protocol(e.to_string()))
    }

    fn connect(&self) -> Result<UnixStream, ClientError> {
        UnixStream::connect(&self.path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused | io::ErrorKind::NotADirectory => {
                ClientError::NotRunning {
                    path: self.path.clone(),
                }
            }
            io::ErrorKind::PermissionDenied => ClientError::SocketDenied {
                path: self.path.clone(),
            },
            _ => ClientError::Io {
                path: self.path.clone(),
                source,
            },
        })
    }

    fn protocol(&self, problem: String) -> ClientError {
        ClientError::Protocol {
            path: self.path.clone(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_socket_means_not_running_exit_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("banjo.sock");
        let e = Client::new(&path).call(Command::Status {}).unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
        assert!(e.to_string().contains("systemctl start banjo"), "{e}");
    }

    #[test]
    fn stale_socket_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("banjo.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let e = Client::new(&path).call(Command::Status {}).unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    }
}
