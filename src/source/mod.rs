//! Sources: where log entries come from. Each produces `Entry` values; none knows about jails.
pub mod journal;
pub mod lines;
pub mod multilog;

/// One log entry as the filters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was logged: the journal's own time, or the line's timestamp; None if unknown.
    pub time: Option<jiff::Timestamp>,
    /// The text the filters match, timestamp already removed.
    pub text: Vec<u8>,
}
