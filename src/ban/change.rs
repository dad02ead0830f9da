//! What the kernel must do because the ledger changed: the one type on the arrow from the ban
//! ledger to the firewall. The ledger makes them (a ban, an expiry, an unban, its whole view
//! for a reconcile); the firewall applies a slice of them and knows nothing of why.

use std::time::Duration;

use jiff::Timestamp;

use super::Ban;
use crate::addr::Target;
use crate::name::JailName;
pub use crate::time::SHORTEST_TIMEOUT;
use crate::time::{left, timeout};

/// One change to a jail's sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `target` is banned in `jail` for `timeout` more (`None`: until it is removed). An
    /// element already there takes the new timeout.
    Add {
        jail: JailName,
        target: Target,
        timeout: Option<Duration>,
    },
    /// `target` is no longer banned in `jail`; an element already gone is no error.
    Remove { jail: JailName, target: Target },
}

impl Change {
    /// The ban as the kernel should hold it at `now`, with the time it has left (between
    /// [`SHORTEST_TIMEOUT`] and [`LONGEST_BAN`](crate::time::LONGEST_BAN)); `None` when it
    /// has ended.
    pub fn add(ban: &Ban, now: Timestamp) -> Option<Change> {
        let timeout = match ban.until {
            None => None,
            Some(until) => {
                left(until, now)?;
                Some(timeout(until, now))
            }
        };
        Some(Change::Add {
            jail: ban.jail.clone(),
            target: ban.target,
            timeout,
        })
    }

    /// The ban taken out of the kernel.
    pub fn remove(ban: &Ban) -> Change {
        Change::Remove {
            jail: ban.jail.clone(),
            target: ban.target,
        }
    }

    pub fn jail(&self) -> &JailName {
        match self {
            Change::Add { jail, .. } | Change::Remove { jail, .. } => jail,
        }
    }

    pub fn target(&self) -> Target {
        match self {
            Change::Add { target, .. } | Change::Remove { target, .. } => *target,
        }
    }

    pub fn is_add(&self) -> bool {
        matches!(self, Change::Add { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(until: Option<i64>) -> Ban {
        Ban::new(
            "sshd".into(),
            "192.0.2.1".parse().unwrap(),
            Timestamp::from_second(0).unwrap(),
            until.map(|s| Timestamp::from_second(s).unwrap()),
            0,
            3,
        )
    }

    #[test]
    fn an_add_carries_the_time_left_and_never_a_zero_timeout() {
        let now = Timestamp::from_second(100).unwrap();
        let add = |until| Change::add(&ban(until), now);
        assert_eq!(
            add(Some(700)),
            Some(Change::Add {
                jail: "sshd".into(),
                target: "192.0.2.1".parse().unwrap(),
                timeout: Some(Duration::from_secs(600)),
            })
        );
        assert!(matches!(add(None), Some(Change::Add { timeout: None, .. })));
        assert_eq!(add(Some(100)), None, "ended: nothing to add");
        let almost = Change::add(&ban(Some(101)), Timestamp::from_millisecond(100_900).unwrap());
        assert!(matches!(almost, Some(Change::Add { timeout: Some(t), .. }) if t == SHORTEST_TIMEOUT));
    }
}
