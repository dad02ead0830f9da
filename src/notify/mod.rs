//! banjo-notify: mails and commands on bans, as a service of its own (banjo-notify.service),
//! so the banjo daemon keeps no network, no MTA and no setuid helper in its sandbox.
//!
//! ```text
//! journal (banjo's ban/unban records, _UID=0) ─► record ─► outbox ──► jobs ─► sendmail -t
//!                    ▲ cursor                              │ rate,      (thread)  whois
//!                    └──── state (notify.json) ◄───────────┘ digests,          [[notify.exec]]
//! ```
//! One loop turn: read the new records, put each into the outbox (a mail, a digest row, a
//! run per matching command), queue the digests that are due, save cursor and outbox in one
//! atomic write, then start what is ready — the first mail, and each command's first run —
//! on threads that report back. A finished job leaves the outbox (or waits for its retry)
//! and the state is saved again.
//!
//! Exactly-once, and its one gap: a record's effects are saved before any of them starts, so
//! a crash loses nothing. A mail is removed from the outbox only after sendmail exited 0 and
//! the removal is saved; if banjo-notify dies in the milliseconds between the two, the mail
//! is sent again after the restart, with the same Message-ID (mail clients fold such
//! duplicates). Commands are run at least once the same way: make them idempotent.
pub mod child;
pub mod jobs;
pub mod journal;
pub mod log;
pub mod mail;
pub mod outbox;
pub mod record;
mod service;
pub mod state;
pub mod whois;

pub use service::{Options, run};
