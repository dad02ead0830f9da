//! Ruleset change notifications: a netlink socket in the NFNLGRP_NFTABLES multicast group.
//! Every nf_tables event names its table, and its header carries the netlink port id of the
//! socket whose transaction caused it. [`Monitor::changed`] says whether someone other than
//! banjo added, changed or deleted a table, chain, set or rule of banjo's table, or deleted
//! elements from its sets (`nft flush set`, `nft delete element`). "banjo" is every
//! [`super::Firewall`] open in this process (their ports) and [`Monitor::ignore`]d ports;
//! "banjo's table" is the one named at [`Monitor::open_for`], else every table a `Firewall` of
//! this process applied (`banjo` before the first apply). Elements others add are not a change
//! banjo needs to undo; expiries by timeout send no events.
//!
//! When events were lost (the socket's buffer overflowed: ENOBUFS, e.g. while 100k bans
//! were added and every element became an event) `changed` says true: the caller cannot know
//! what happened and re-applies, which changes nothing when nothing changed.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use netlink_sys::Socket;

use super::error::FirewallError;
use super::nfnl::{self, Messages};

pub struct Monitor {
    sock: Socket,
    /// None: the tables this process's firewalls applied.
    table: Option<String>,
    ignored: Vec<u32>,
    buf: Vec<u8>,
}

impl Monitor {
    /// Subscribes to nf_tables events in the caller's network namespace, for the tables the
    /// [`super::Firewall`]s of this process apply.
    pub fn open() -> Result<Monitor, FirewallError> {
        Monitor::with_table(None)
    }

    /// Subscribes to nf_tables events for table `table` (of the inet and bridge families).
    pub fn open_for(table: &str) -> Result<Monitor, FirewallError> {
        Monitor::with_table(Some(table.to_string()))
    }

    fn with_table(table: Option<String>) -> Result<Monitor, FirewallError> {
        let sock = nfnl::open_monitor_socket().map_err(FirewallError::Open)?;
        Ok(Monitor {
            sock,
            table,
            ignored: Vec::new(),
            buf: Vec::with_capacity(256 * 1024),
        })
    }

    /// Events caused by this netlink port are not changes either (a firewall of another
    /// process, say).
    pub fn ignore(&mut self, port_id: u32) {
        self.ignored.push(port_id);
    }

    /// For poll(2)/epoll: readable when events are pending.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Stops the events (leaves the group) until [`Monitor::listen`]. While anyone listens,
    /// the kernel builds an event for every element a transaction adds: with 100k bans put in
    /// at start, that was half of the start-up. Events already queued stay. What others did
    /// meanwhile the caller finds out otherwise (`super::Generation`).
    pub fn deafen(&mut self) -> Result<(), FirewallError> {
        self.sock
            .drop_membership(nfnl::NFNLGRP_NFTABLES)
            .map_err(|source| FirewallError::Io {
                action: "leaving the nf_tables event group".into(),
                source,
            })
    }

    /// Takes events again after [`Monitor::deafen`].
    pub fn listen(&mut self) -> Result<(), FirewallError> {
        self.sock
            .add_membership(nfnl::NFNLGRP_NFTABLES)
            .map_err(|source| FirewallError::Io {
                action: "joining the nf_tables event group".into(),
                source,
            })
    }

    /// Reads every pending event; true when one concerned banjo's table (or events were lost).
    pub fn changed(&mut self) -> Result<bool, FirewallError> {
        let mut changed = false;
        let mut ignored = super::own::ports();
        ignored.extend_from_slice(&self.ignored);
        let tables = match &self.table {
            Some(t) => vec![t.clone()],
            None => {
                let mut t = super::own::tables();
                if t.is_empty() {
                    t.push(super::DEFAULT_TABLE.to_string());
                }
                t
            }
        };
        loop {
            match nfnl::recv_into(&self.sock, &mut self.buf) {
                Ok(n) => {
                    let buf = std::mem::take(&mut self.buf);
                    changed |= concerns(&buf[..n], &tables, &ignored);
                    self.buf = buf;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(changed),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!("nf_tables events were lost (socket buffer full); assuming a change");
                    changed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FirewallError::Io {
                        action: "reading nf_tables events".into(),
                        source,
                    });
                }
            }
        }
    }

    /// Waits up to `timeout` for a change; reads every event that arrives meanwhile.
    pub fn wait_changed(&mut self, timeout: Duration) -> Result<bool, FirewallError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.changed()? {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            crate::sys::readable(self.as_fd(), left).map_err(|source| FirewallError::Io {
                action: "waiting for nf_tables events".into(),
                source,
            })?;
        }
    }
}

impl AsFd for Monitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Whether a datagram of events holds a change to one of `tables` by a port not in `ignored`.
fn concerns(datagram: &[u8], tables: &[String], ignored: &[u32]) -> bool {
    Messages::new(datagram).flatten().any(|msg| {
        let Some(ty) = msg.nft_msg() else { return false };
        if ignored.contains(&msg.pid) || !is_structural(ty) {
            return false;
        }
        let Ok((family, mut attrs)) = msg.nfgen() else {
            return false;
        };
        let ours = matches!(i32::from(family), libc::NFPROTO_INET | libc::NFPROTO_BRIDGE);
        // the table's name is attribute 1 in table, chain, rule, set and element messages
        ours && attrs.any(|a| matches!(a, Ok((1, name)) if tables.contains(&nfnl::str_attr(name))))
    })
}

fn is_structural(ty: u16) -> bool {
    use nfnl::*;
    matches!(
        ty,
        NFT_MSG_NEWTABLE
            | NFT_MSG_DELTABLE
            | NFT_MSG_NEWCHAIN
            | NFT_MSG_DELCHAIN
            | NFT_MSG_NEWRULE
            | NFT_MSG_DELRULE
            | NFT_MSG_NEWSET
            | NFT_MSG_DELSET
            | NFT_MSG_DELSETELEM
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::nfnl::Writer;

    fn event(ty: u16, family: u8, table: &str, pid: u32) -> Vec<u8> {
        let mut w = Writer::new();
        w.begin(nfnl::nft_type(ty), 0, 0, family, 0);
        w.attr_str(1, table);
        w.end();
        let mut b = w.bytes().to_vec();
        b[12..16].copy_from_slice(&pid.to_ne_bytes());
        b
    }

    #[test]
    fn deletions_in_banjos_table_by_others_are_changes() {
        let inet = libc::NFPROTO_INET as u8;
        let tables = ["banjo".to_string()];
        let concerns = |d: &[u8]| concerns(d, &tables, &[4242]);
        assert!(concerns(&event(nfnl::NFT_MSG_DELTABLE, inet, "banjo", 99)));
        assert!(concerns(&event(nfnl::NFT_MSG_DELSETELEM, inet, "banjo", 99)));
        assert!(
            !concerns(&event(nfnl::NFT_MSG_DELTABLE, inet, "banjo", 4242)),
            "own change"
        );
        assert!(!concerns(&event(nfnl::NFT_MSG_DELTABLE, inet, "other", 99)));
        assert!(!concerns(&event(nfnl::NFT_MSG_NEWSETELEM, inet, "banjo", 99)));
        assert!(!concerns(&event(
            nfnl::NFT_MSG_DELTABLE,
            libc::NFPROTO_IPV4 as u8,
            "banjo",
            99
        )));
    }
}
