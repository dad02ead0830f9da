//! The control socket: `banjo status`, `ban`, `unban`, `reload`, `explain` … talk to the
//! running daemon over a Unix socket, one JSON request and one JSON response per connection.
//! This module owns the wire format ([`protocol`]), the answers' types ([`types`]), who may ask
//! what ([`access`]), the daemon's side ([`Server`], [`Handler`]) and the command line's side
//! ([`Client`]). It changes no state itself: the daemon's [`Handler`] does, through the ledger.
//!
//! ```text
//! banjo status ─► Client ─► /run/banjo/banjo.sock ─► listener thread (SO_PEERCRED: a slot
//!     for this uid?) ─► connection thread (reads one line within 2 s, checks what the caller
//!     may ask, parses) ─► channel + eventfd ─► daemon
//!     poll loop: Server::handle_pending(&mut handler) ─► reply ─► connection thread writes it
//! ```
//! The daemon never blocks on a client: the slow parts (reading, writing, waiting) happen on
//! the connection threads; the daemon only runs [`Handler`] methods on requests already parsed.

pub mod access;
pub mod client;
pub mod protocol;
pub mod server;
pub mod slots;
pub mod types;

use std::path::{Path, PathBuf};

pub use access::{Access, Peer};
pub use client::{Client, ClientError};
pub use protocol::{
    Command, ControlError, ErrorKind, MAX_REQUEST, Request, Response, VERSION, parse_request,
};
pub use server::{Handler, Server};
pub use types::{
    BannedAddr, BlocklistFile, BlocklistStatus, Explain, FailureLine, JailExplain, JailStats, JailStatus,
    JailSummary, MultilineMemory, Status, Unbanned, UnbannedAll,
};

/// The socket's file name in the runtime directory.
pub const SOCKET_NAME: &str = "banjo.sock";

/// The `FileDescriptorName=` of the socket systemd passes (units/banjo.socket).
pub const FD_NAME: &str = "control";

/// Where the socket is: `explicit` (`--socket`), else `banjo.sock` in the runtime directory
/// (`runtime_dir` from the config, else $RUNTIME_DIRECTORY, else /run/banjo).
pub fn socket_path(explicit: Option<&Path>, runtime_dir: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => crate::state::runtime_dir(runtime_dir).join(SOCKET_NAME),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_socket_wins_over_runtime_dir() {
        let p = socket_path(Some(Path::new("/tmp/x.sock")), Some(Path::new("/run/y")));
        assert_eq!(p, PathBuf::from("/tmp/x.sock"));
        let p = socket_path(None, Some(Path::new("/run/y")));
        assert_eq!(p, PathBuf::from("/run/y/banjo.sock"));
    }
}
