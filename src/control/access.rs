//! Who may ask what. The kernel tells who is at the other end of the socket (SO_PEERCRED,
//! SO_PEERGROUPS); root and members of the admin group may do everything, members of the read
//! group may ask the read-only commands (status, stats, banned, explain, metrics), anyone else
//! nothing.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use super::protocol::{Command, ControlError};
use crate::sys;

/// The groups the config names (`[daemon] admin_group`, `read_group`). Root may always do
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Members may ban, unban and reload, and read.
    pub admin_group: Option<String>,
    /// Members may read: status, stats, banned, explain, metrics.
    pub read_group: Option<String>,
}

/// Who is at the other end of a connection, as the kernel recorded it at connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// `None` when the peer is in another pid namespace.
    pub pid: Option<u32>,
    pub uid: u32,
    /// Its primary group.
    pub gid: u32,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
}

impl Peer {
    /// The credentials of the process that connected `stream`.
    pub fn of(stream: &UnixStream) -> io::Result<Peer> {
        let (pid, uid, gid) = sys::peer_cred(stream.as_fd())?;
        let pid = u32::try_from(pid).ok().filter(|&p| p > 0);
        let groups = match sys::peer_groups(stream.as_fd()) {
            Ok(groups) => groups,
            // Kernels before 4.13: the groups the process has now.
            Err(_) => pid
                .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
                .and_then(|status| groups_in_proc_status(&status))
                .unwrap_or_default(),
        };
        Ok(Peer {
            pid,
            uid,
            gid,
            groups,
        })
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// The `Groups:` line of /proc/PID/status.
pub fn groups_in_proc_status(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    line.split_whitespace().map(|g| g.parse().ok()).collect()
}

impl Access {
    /// Whether `peer` may ask `command`; the error says who may.
    pub fn check(&self, peer: &Peer, command: &Command) -> Result<(), ControlError> {
        self.check_with(peer, command, &|name| sys::group_id(name).ok().flatten())
    }

    /// [`Access::check`] with the group lookup given (tests).
    pub fn check_with(
        &self,
        peer: &Peer,
        command: &Command,
        gid_of: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<(), ControlError> {
        let member = |group: &Option<String>| {
            group
                .as_deref()
                .and_then(gid_of)
                .is_some_and(|gid| peer.in_group(gid))
        };
        if peer.uid == 0 || member(&self.admin_group) {
            return Ok(());
        }
        if !command.changes_state() && member(&self.read_group) {
            return Ok(());
        }
        Err(self.denial(peer, command, gid_of))
    }

    fn denial(&self, peer: &Peer, command: &Command, gid_of: &dyn Fn(&str) -> Option<u32>) -> ControlError {
        let (what, groups, keys) = if command.changes_state() {
            ("changes state", vec![&self.admin_group], "admin_group")
        } else {
            (
                "reads state",
                vec![&self.read_group, &self.admin_group],
                "read_group or admin_group",
            )
        };
        let named: Vec<String> = groups
            .into_iter()
            .flatten()
            .map(|g| match gid_of(g) {
                Some(_) => format!("`{g}`"),
                None => format!("`{g}` (no such group)"),
            })
            .collect();
        let who = if named.is_empty() {
            format!("root (or a group named in [daemon] {keys})")
        } else {
            format!("root or membership in group {}", named.join(" or "))
        };
        ControlError::denied(format!(
            "`{}` {what}: it needs {who}; you are uid {}",
            command.name(),
            peer.uid
        ))
    }

    /// The group the socket file should belong to when banjo creates it: the read group, else
    /// the admin group.
    pub fn socket_group(&self) -> Option<&str> {
        self.read_group.as_deref().or(self.admin_group.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::Command;

    fn gid_of(name: &str) -> Option<u32> {
        match name {
            "adm" => Some(4),
            "banjo" => Some(990),
            _ => None,
        }
    }

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            pid: Some(1),
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    fn ban() -> Command {
        Command::Ban {
            jail: "sshd".into(),
            addr: "192.0.2.1".parse().unwrap(),
            time: None,
        }
    }

    fn access() -> Access {
        Access {
            admin_group: Some("banjo".into()),
            read_group: Some("adm".into()),
        }
    }

    #[test]
    fn root_may_do_everything_even_without_groups() {
        let none = Access::default();
        assert!(none.check_with(&peer(0, 0, &[]), &ban(), &gid_of).is_ok());
        assert!(
            none.check_with(&peer(0, 0, &[]), &Command::Status {}, &gid_of)
                .is_ok()
        );
    }

    #[test]
    fn admin_group_member_may_ban_by_primary_or_supplementary_group() {
        assert!(
            access()
                .check_with(&peer(1000, 990, &[]), &ban(), &gid_of)
                .is_ok()
        );
        assert!(
            access()
                .check_with(&peer(1000, 100, &[990]), &ban(), &gid_of)
                .is_ok()
        );
        assert!(
            access()
                .check_with(&peer(1000, 100, &[990]), &Command::Stats {}, &gid_of)
                .is_ok()
        );
    }

    #[test]
    fn read_group_member_may_read_but_not_ban() {
        let reader = peer(1000, 100, &[4]);
        assert!(access().check_with(&reader, &Command::Status {}, &gid_of).is_ok());
        let e = access().check_with(&reader, &ban(), &gid_of).unwrap_err();
        assert_eq!(e.kind, crate::control::ErrorKind::Denied);
        assert!(
            e.message.contains("`banjo`") && e.message.contains("uid 1000"),
            "{e}"
        );
    }

    #[test]
    fn stranger_is_told_which_groups_would_do() {
        let e = access()
            .check_with(&peer(1000, 100, &[]), &Command::Status {}, &gid_of)
            .unwrap_err();
        assert!(e.message.contains("`adm` or `banjo`"), "{e}");
        let e = Access::default()
            .check_with(&peer(1000, 100, &[]), &Command::Status {}, &gid_of)
            .unwrap_err();
        assert!(e.message.contains("read_group"), "{e}");
        let missing = Access {
            admin_group: Some("nope".into()),
            read_group: None,
        };
        let e = missing
            .check_with(&peer(1000, 100, &[]), &ban(), &gid_of)
            .unwrap_err();
        assert!(e.message.contains("no such group"), "{e}");
    }

    #[test]
    fn proc_status_groups_line_is_read() {
        let status = "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 \nNgid:\t0\n";
        assert_eq!(groups_in_proc_status(status), Some(vec![4, 24, 27]));
        assert_eq!(groups_in_proc_status("Groups:\t\n"), Some(vec![]));
        assert_eq!(groups_in_proc_status("Name: x\n"), None);
    }

    #[test]
    fn socket_group_prefers_the_read_group() {
        assert_eq!(access().socket_group(), Some("adm"));
        assert_eq!(Access::default().socket_group(), None);
    }
}
