//! The firewall as the daemon sees it: a small trait, implemented by the netlink
//! [`Firewall`] and by [`Recording`](super::Recording), a fake that keeps what it was asked to
//! do, so the daemon's wiring runs in tests without root and without a kernel table.

use std::time::Duration;

use super::{Applied, Change, Firewall, FirewallError, Generation, Layout, ReconcileReport, Target};

/// What the daemon asks of a firewall. Errors are the netlink firewall's.
pub trait Backend {
    /// Table, chains, sets and rules as `layout` says, keeping the elements of the sets that
    /// stay (a reload or restart unbans no one).
    fn apply(&mut self, layout: &Layout) -> Result<(), FirewallError>;
    /// The ledger's changes (see [`Firewall::change`]); an element the kernel refuses is left
    /// out and listed in [`Applied::refused`], never an error that keeps the others out.
    fn change(&mut self, changes: &[Change]) -> Result<Applied, FirewallError>;
    /// Makes the sets hold exactly the additions in `wanted` (see [`Firewall::reconcile`]).
    fn reconcile(&mut self, wanted: &[Change]) -> Result<ReconcileReport, FirewallError>;
    /// A jail's bans as the kernel holds them, with their time left (`None`: permanent).
    fn list(&mut self, jail: &str) -> Result<Vec<(Target, Option<Duration>)>, FirewallError>;
    /// Whether the table is there (someone may have flushed the ruleset).
    fn table_exists(&mut self) -> Result<bool, FirewallError>;
    /// Removes the table with every ban in it (`flush_on_stop`).
    fn remove(&mut self) -> Result<(), FirewallError>;
    /// The ruleset's generation and this firewall's commits (see [`Generation`]).
    fn generation(&mut self) -> Result<Generation, FirewallError>;
}

impl Backend for Firewall {
    fn apply(&mut self, layout: &Layout) -> Result<(), FirewallError> {
        Firewall::apply(self, layout)
    }

    fn change(&mut self, changes: &[Change]) -> Result<Applied, FirewallError> {
        Firewall::change(self, changes)
    }

    fn reconcile(&mut self, wanted: &[Change]) -> Result<ReconcileReport, FirewallError> {
        Firewall::reconcile(self, wanted)
    }

    fn list(&mut self, jail: &str) -> Result<Vec<(Target, Option<Duration>)>, FirewallError> {
        Firewall::list(self, jail)
    }

    fn table_exists(&mut self) -> Result<bool, FirewallError> {
        Firewall::table_exists(self)
    }

    fn remove(&mut self) -> Result<(), FirewallError> {
        Firewall::remove(self)
    }

    fn generation(&mut self) -> Result<Generation, FirewallError> {
        Firewall::generation(self)
    }
}
