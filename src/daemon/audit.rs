//! Audit records: one journal record per ban, unban and restore, with fixed MESSAGE_IDs and
//! structured fields, so `journalctl -u banjo JAIL=dovecot` or `IP=192.0.2.1` answers an audit.
//! The MESSAGE text is what the built-in recidive filter reads: keep the two in step.
use crate::addr::Target;
use crate::ban::Ban;
use crate::config::Compact;

/// `journalctl MESSAGE_ID=…` finds every record of one kind.
pub const BAN_ID: &str = "12dddcb6204944748f53bc07146ad80a";
pub const UNBAN_ID: &str = "690a63557246427ea6ee271444359589";
pub const RESTORE_ID: &str = "44ad4f764ba64b72a25f469d5ca9ddb0";
pub const RELOAD_ID: &str = "9bebdcf5b30e4660b0b536134f653c58";
pub const FIREWALL_RESTORED_ID: &str = "b6c98cd488fa4dbb921f755f1e5c9f4d";
pub const REFUSED_ID: &str = "5d0b6fa3c1e24f5c9a7e2b8d41f0c637";

/// The ban's length as the audit and recidive show it: "1h", "1d12h", "permanent".
fn bantime(ban: &Ban) -> String {
    match ban.until {
        None => "permanent".to_string(),
        Some(until) => {
            let secs = until.as_second().saturating_sub(ban.since.as_second()).max(0) as u64;
            Compact(std::time::Duration::from_secs(secs)).to_string()
        }
    }
}

fn until(ban: &Ban) -> String {
    ban.until.map(|u| u.to_string()).unwrap_or_else(|| "never".into())
}

/// A new ban (or a longer one for an address banned already).
/// A network's record names the addresses seen in it (SEEN) and why it is not simply of
/// what was counted (NOTE), in the fields and in the message.
pub fn ban(ban: &Ban) {
    let t = bantime(ban);
    let seen: Vec<String> = ban.seen.iter().map(ToString::to_string).collect();
    let seen = seen.join(" ");
    let mut extra = String::new();
    if !seen.is_empty() {
        extra += &format!(" seen={seen}");
    }
    if let Some(note) = &ban.note {
        extra += &format!(" ({note})");
    }
    tracing::warn!(
        message_id = BAN_ID,
        jail = %ban.jail,
        ip = %ban.target,
        bantime = %t,
        until = %until(ban),
        failures = ban.failures,
        bans_before = ban.count,
        matches = %ban.lines.join("\n"),
        seen = %seen,
        note = ban.note.as_deref().unwrap_or_default(),
        "Ban {} jail={} bantime={} failures={}{extra}",
        ban.target,
        ban.jail,
        t,
        ban.failures
    );
}

/// A ban ended: its time ran out, or an admin or a config change lifted it.
pub fn unban(jail: &str, target: &Target, why: &str) {
    tracing::info!(message_id = UNBAN_ID, jail = %jail, ip = %target, reason = why, "Unban {target} jail={jail} ({why})");
}

/// A ban from the state file (or found in the kernel) put back at start.
pub fn restore(ban: &Ban) {
    let t = bantime(ban);
    tracing::info!(
        message_id = RESTORE_ID,
        jail = %ban.jail,
        ip = %ban.target,
        bantime = %t,
        until = %until(ban),
        failures = ban.failures,
        "Restore Ban {} jail={} bantime={} until={}",
        ban.target,
        ban.jail,
        t,
        until(ban)
    );
}

/// The kernel refused to put a ban in: the address is recorded as banned but not blocked
/// until a retry succeeds (`banjo status JAIL` shows it as failed).
pub fn refused(jail: &str, target: &Target, why: &str) {
    tracing::error!(
        message_id = REFUSED_ID,
        jail = %jail,
        ip = %target,
        reason = why,
        "nftables refused the ban of {target} jail={jail}: {why}; banjo tries it again"
    );
}
