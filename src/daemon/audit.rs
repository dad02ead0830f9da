//! Audit records: one journal record per ban, unban and restore, with fixed MESSAGE_IDs and
//! structured fields, so `journalctl -u banjo JAIL=dovecot` or `IP=192.0.2.1` answers an audit.
//! The MESSAGE text is what the built-in recidive filter reads: keep the two in step.
//! Each MESSAGE_ID is explained in catalog/banjo.catalog, which `journalctl -x` shows.
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

/// Every MESSAGE_ID banjo writes: each has an entry in catalog/banjo.catalog (a test checks).
pub const ALL_IDS: [&str; 6] = [
    BAN_ID,
    UNBAN_ID,
    RESTORE_ID,
    RELOAD_ID,
    FIREWALL_RESTORED_ID,
    REFUSED_ID,
];

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
    let seen: Vec<String> = ban.seen().iter().map(ToString::to_string).collect();
    let seen = seen.join(" ");
    let mut extra = String::new();
    if !seen.is_empty() {
        extra += &format!(" seen={seen}");
    }
    if let Some(note) = ban.note() {
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
        matches = %ban.lines().join("\n"),
        seen = %seen,
        note = ban.note().unwrap_or_default(),
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

/// The bans of a jail put back at start (from the state file, or found in the kernel): one
/// record per jail, not one per ban — with 100k bans, a record each took longer than the
/// rest of the start-up (state file, kernel) together, and told nothing the ban records and
/// `banjo status JAIL` do not.
pub fn restore(jail: &str, bans: usize) {
    tracing::info!(
        message_id = RESTORE_ID,
        jail = %jail,
        bans,
        "Restore {bans} ban(s) jail={jail}"
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::ALL_IDS;

    const CATALOG: &str = include_str!("../../catalog/banjo.catalog");

    /// The MESSAGE_IDs that have an entry (`-- ID` lines).
    fn entries() -> Vec<&'static str> {
        CATALOG.lines().filter_map(|l| l.strip_prefix("-- ")).collect()
    }

    /// The daemon's and banjo-notify's: the catalog explains both (the test sits here, where
    /// both lists can be seen; banjo-notify imports the daemon's log set-up).
    fn all_ids() -> Vec<&'static str> {
        let mut ids = ALL_IDS.to_vec();
        ids.extend(crate::notify::log::ALL_IDS);
        ids
    }

    #[test]
    fn every_message_id_has_a_catalog_entry_and_no_entry_is_stale() {
        let mut listed = entries();
        listed.sort_unstable();
        let mut ids = all_ids();
        ids.sort_unstable();
        assert_eq!(listed, ids);
    }

    /// systemd's own parser reads the file: `journalctl --update-catalog` into a scratch root,
    /// then `--list-catalog` shows every entry with its subject.
    #[test]
    fn journalctl_reads_the_catalog() {
        let Ok(v) = Command::new("journalctl").arg("--version").output() else {
            eprintln!("SKIP: no journalctl");
            return;
        };
        assert!(v.status.success());
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("usr/lib/systemd/catalog");
        std::fs::create_dir_all(&dir).expect("catalog dir");
        std::fs::write(dir.join("banjo.catalog"), CATALOG).expect("write the catalog");
        let run = |arg: &str| {
            let out = Command::new("journalctl")
                .arg(format!("--root={}", root.path().display()))
                .arg(arg)
                .output()
                .expect("journalctl");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                out.status.success() && stderr.is_empty(),
                "journalctl {arg}: {stderr}"
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        run("--update-catalog");
        assert!(Path::new(&root.path().join("var/lib/systemd/catalog/database")).exists());
        let list = run("--list-catalog");
        for id in all_ids() {
            let line = list.lines().find(|l| l.starts_with(id));
            assert!(
                line.is_some_and(|l| l.contains("banjo: ")),
                "{id} not in the catalog journalctl built:\n{list}"
            );
        }
    }
}
