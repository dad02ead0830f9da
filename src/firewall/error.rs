//! The firewall's errors: what failed (which table, set, jail, address), and what the kernel's
//! errno means for an admin.

use std::io;

use super::nfnl::{NlError, ParseError, SendError};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("cannot open a netlink socket to nf_tables: {0}")]
    Open(#[source] io::Error),

    #[error("{action}: {}{}", errno_meaning(*errno), detail.as_deref().map(|d| format!(" (kernel: {d})")).unwrap_or_default())]
    Kernel {
        action: String,
        /// Positive errno.
        errno: i32,
        detail: Option<String>,
    },

    #[error(
        "jail {jail:?} has no sets in banjo's firewall (table {table:?}): it is not in the layout \
         last applied; enable the jail and reload"
    )]
    UnknownJail { jail: String, table: String },

    #[error("jail {jail:?}: {reason}")]
    Unsupported { jail: String, reason: String },

    #[error("{0:?}: cannot be banned: {1}")]
    BadTarget(String, String),

    #[error("no firewall layout applied yet: apply() must come before {0}")]
    NoLayout(&'static str),

    #[error("{action}: netlink I/O failed: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },

    #[error("{action}: {source}")]
    Malformed {
        action: String,
        #[source]
        source: ParseError,
    },

    #[error(
        "{action}: the kernel did not answer within {secs} s ({acked} of {expected} messages acknowledged)"
    )]
    Timeout {
        action: String,
        secs: u64,
        acked: usize,
        expected: usize,
    },

    #[error("encoding {what}: {detail}")]
    Encode { what: String, detail: String },
}

impl FirewallError {
    /// The kernel's errno, when the kernel refused something.
    pub fn errno(&self) -> Option<i32> {
        match self {
            FirewallError::Kernel { errno, .. } => Some(*errno),
            FirewallError::Open(e) | FirewallError::Io { source: e, .. } => e.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn kernel(action: impl Into<String>, err: &NlError) -> FirewallError {
        FirewallError::Kernel {
            action: action.into(),
            errno: err.errno,
            detail: err.text.clone(),
        }
    }

    /// A failure of a dump or a one-message request, with `action` saying what was asked.
    pub(crate) fn from_send(action: impl Into<String>, err: SendError) -> FirewallError {
        let action = action.into();
        match err {
            SendError::Io(source) => FirewallError::Io { action, source },
            SendError::Parse(source) => FirewallError::Malformed { action, source },
            SendError::Batch(e) => FirewallError::kernel(action, &e),
            SendError::Messages(list) => match list.first() {
                Some((_, e)) => FirewallError::kernel(action, e),
                None => FirewallError::Malformed {
                    action,
                    source: ParseError("failure without an error"),
                },
            },
            SendError::Timeout { acked, expected } => FirewallError::Timeout {
                action,
                secs: super::nfnl::ANSWER_TIMEOUT.as_secs(),
                acked,
                expected,
            },
        }
    }
}

/// What an errno from nf_tables means, in an admin's words, with the system's name for it.
pub fn errno_meaning(errno: i32) -> String {
    let meaning = match errno {
        libc::EPERM | libc::EACCES => {
            "operation not permitted: banjo needs CAP_NET_ADMIN (run it as root or give the unit \
             AmbientCapabilities=CAP_NET_ADMIN)"
        }
        libc::ENOENT => {
            "no such table, chain, set or element (removed behind banjo's back? a reload re-creates \
             banjo's table)"
        }
        libc::EEXIST => {
            "it already exists, with another definition or overlapping an element already in the set"
        }
        libc::EBUSY => "it is in use (still referenced by a rule or set)",
        libc::EINVAL => "the kernel refused the request as invalid",
        libc::EOPNOTSUPP => "not supported by this kernel (missing nf_tables feature or module)",
        libc::ENOSPC => "the set is full",
        libc::ENOMEM => "the kernel is out of memory",
        libc::EMSGSIZE => "the request is larger than the netlink socket's buffer",
        libc::ENOBUFS => "the netlink socket's buffer overflowed",
        libc::ERANGE => {
            "a value is out of range (an element timeout longer than the kernel takes, about 584 \
             years?)"
        }
        libc::ENFILE => "the set is full (someone gave it a size limit?)",
        libc::ENOTEMPTY => "it overlaps an element already in the set",
        libc::E2BIG => "too many elements or a value too large",
        libc::EAGAIN => "the kernel asked to try again",
        _ => "",
    };
    let system = io::Error::from_raw_os_error(errno);
    if meaning.is_empty() {
        format!("{system}")
    } else {
        format!("{meaning} [{system}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_says_what_is_needed() {
        let e = FirewallError::Kernel {
            action: "creating table inet banjo".into(),
            errno: libc::EPERM,
            detail: None,
        };
        let text = e.to_string();
        assert!(
            text.starts_with("creating table inet banjo: operation not permitted"),
            "{text}"
        );
        assert!(text.contains("CAP_NET_ADMIN"), "{text}");
        assert_eq!(e.errno(), Some(libc::EPERM));
    }

    #[test]
    fn unknown_errno_falls_back_to_the_system_text() {
        assert!(errno_meaning(libc::ENOTTY).contains("os error"));
    }
}
