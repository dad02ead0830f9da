//! Where the log and audit records of banjo and of banjo-notify go: the journal (structured
//! fields, for `journalctl -u banjo JAIL=dovecot`) when running under systemd, readable lines
//! on stderr under a terminal.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `banjo run --log`: where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogTarget {
    /// The journal when started by systemd (JOURNAL_STREAM is set), else stderr.
    Auto,
    /// The journal's native socket, with structured fields.
    Journal,
    /// Readable lines on stderr.
    Stderr,
}

/// Installs the global subscriber, logging as `identifier` (SYSLOG_IDENTIFIER: `banjo`, whose
/// records banjo-notify trusts, or `banjo-notify`). `level` is the config's loglevel;
/// RUST_LOG overrides it.
pub fn init(target: LogTarget, level: &str, identifier: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let journal = match target {
        LogTarget::Journal => true,
        LogTarget::Stderr => false,
        LogTarget::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    if journal {
        let layer = tracing_journald::layer()
            .map_err(|e| anyhow::anyhow!("cannot log to the journal: {e}"))?
            .with_field_prefix(None)
            .with_syslog_identifier(identifier.to_string());
        tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .try_init()?;
    } else {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false);
        tracing_subscriber::registry().with(filter).with(fmt).try_init()?;
    }
    Ok(())
}
