//! The key names of each section, an example value for each (used in error messages), and the
//! help for a key banjo does not know: fail2ban's names, misplaced keys, typos.

/// A key and an example value, as TOML, for "e.g. KEY = EXAMPLE".
pub type Key = (&'static str, &'static str);

pub const TOP: &[Key] = &[
    ("daemon", "{ loglevel = \"info\" }"),
    ("defaults", "{ bantime = \"1h\" }"),
    ("filters", "{ NAME = { failregex = [\"…<HOST>…\"] } }"),
    // Files of addresses and networks banned for good, in sets of their own.
    ("blocklist", "{ files = [\"/var/lib/banjo/lists/drop.txt\"] }"),
    (
        "jails",
        "{ NAME = { journal = [\"_SYSTEMD_UNIT=NAME.service\"] } }",
    ),
    ("notify", "{ mail = { dest = \"postmaster@example.org\" } }"),
];

pub const DAEMON: &[Key] = &[
    ("loglevel", "\"info\""),
    ("table", "\"banjo\""),
    ("flush_on_stop", "false"),
    ("state_dir", "\"/var/lib/banjo\""),
    ("runtime_dir", "\"/run/banjo\""),
    ("admin_group", "\"banjo-admin\""),
    ("read_group", "\"adm\""),
];

/// Keys of [defaults], which every [jails.NAME] may override.
pub const SETTINGS: &[Key] = &[
    ("enabled", "true"),
    ("maxretry", "6"),
    ("findtime", "\"10m\""),
    ("bantime", "\"1d\""),
    ("ignoreip", "[\"127.0.0.1/8\", \"::1\", \"192.0.2.0/24\"]"),
    ("ignoreself", "true"),
    ("usedns", "\"warn\""),
    ("ports", "[25, 465, \"1000-2000\"]"),
    ("protocols", "[\"tcp\", \"udp\"]"),
    ("hook", "\"input\""),
    ("family", "\"inet\""),
    ("blocktype", "\"drop\""),
    ("maxtracked", "100000"),
    ("bantime_increment", "true"),
    ("bantime_factor", "2.0"),
    ("bantime_multipliers", "[1, 2, 4, 8, 16, 32, 64]"),
    ("bantime_maxtime", "\"1w\""),
    ("bantime_rndtime", "\"10m\""),
    ("bantime_overalljails", "false"),
    // IPv6 failures are counted, and banned, by the network of this many bits (64: every
    // address of a /64 counts as one attacker; 128: each address alone, as fail2ban does).
    ("ipv6_prefix", "64"),
    // The widest IPv6 ban adaptive widening may reach; ipv6_widest = ipv6_prefix: never widen.
    ("ipv6_widest", "48"),
    // The widest IPv4 ban adaptive widening may reach; 32 (the default): never widen.
    ("ipv4_widest", "24"),
    // How many distinct narrower bans inside the next wider network make banjo ban that one.
    ("widen_after", "3"),
    // How far back those narrower bans may have started.
    ("widen_within", "\"1d\""),
];

/// Keys only a [jails.NAME] section has.
pub const JAIL_ONLY: &[Key] = &[
    ("filter", "\"dovecot\""),
    ("journal", "[\"_SYSTEMD_UNIT=dovecot.service\"]"),
    ("multilog", "\"qmail-smtpd\""),
];

pub const FILTER: &[Key] = &[
    ("failregex", "[\"auth failed from <HOST>\"]"),
    ("ignoreregex", "[\"from 10\\\\.0\\\\.\"]"),
    ("prefregex", "\"^%(__prefix_line)s<F-CONTENT>.+</F-CONTENT>$\""),
    ("datepattern", "\"{^LN-BEG}\""),
    ("journalmatch", "\"_SYSTEMD_UNIT=sshd.service\""),
];

/// Keys of [notify] (banjo-notify: mail and commands on bans).
pub const NOTIFY: &[Key] = &[
    ("state_dir", "\"/var/lib/banjo-notify\""),
    ("mail", "{ dest = \"postmaster@example.org\" }"),
    ("exec", "[{ command = [\"/usr/local/sbin/report\", \"{ip}\"] }]"),
];

/// Keys of [notify.mail].
pub const NOTIFY_MAIL: &[Key] = &[
    ("dest", "\"postmaster@example.org\""),
    ("sender", "\"banjo@example.org\""),
    ("sender_name", "\"banjo\""),
    ("jails", "[\"sshd\", \"dovecot-imap\"]"),
    ("events", "[\"ban\", \"unban\"]"),
    (
        "command",
        "[\"/usr/sbin/sendmail\", \"-t\", \"-oi\", \"-f\", \"{sender}\"]",
    ),
    ("timeout", "\"1m\""),
    ("retries", "5"),
    ("retry_delay", "\"30s\""),
    ("whois", "true"),
    ("whois_timeout", "\"10s\""),
    ("digest_after", "5"),
    ("digest_interval", "\"10m\""),
];

/// Keys of one [[notify.exec]].
pub const NOTIFY_EXEC: &[Key] = &[
    ("name", "\"abuse-report\""),
    ("command", "[\"/usr/local/sbin/report\", \"{ip}\", \"{jail}\"]"),
    ("events", "[\"ban\"]"),
    ("jails", "[\"sshd\"]"),
    ("timeout", "\"30s\""),
    ("retries", "2"),
    ("retry_delay", "\"10s\""),
];

/// Keys of [blocklist].
pub const BLOCKLIST: &[Key] = &[
    // The list files: one address or network a line, `#` and `;` comments.
    ("files", "[\"/var/lib/banjo/lists/drop.txt\"]"),
    // What the listed sources may not reach: "all" (every port) or "jails" (the jails' ports).
    ("scope", "\"all\""),
];

/// fail2ban spellings banjo accepts too: (alias, key).
pub const ALIASES: &[(&str, &str)] = &[
    ("port", "ports"),
    ("protocol", "protocols"),
    ("chain_hook", "hook"),
];

/// The example value for `key` (an alias gets its key's example).
pub fn example(key: &str) -> &'static str {
    let key = ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, k)| k);
    [
        TOP,
        DAEMON,
        SETTINGS,
        JAIL_ONLY,
        FILTER,
        BLOCKLIST,
        NOTIFY,
        NOTIFY_MAIL,
        NOTIFY_EXEC,
    ]
    .iter()
    .flat_map(|keys| keys.iter())
    .find(|(name, _)| *name == key)
    .map_or("…", |(_, example)| example)
}

/// Which kind of section a key sits in, for the help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Top,
    Daemon,
    Defaults,
    Jail,
    Filter,
    Notify,
    NotifyMail,
    NotifyExec,
    Blocklist,
}

impl Section {
    pub fn label(self) -> &'static str {
        match self {
            Section::Top => "the top level",
            Section::Daemon => "[daemon]",
            Section::Defaults => "[defaults]",
            Section::Jail => "[jails.NAME]",
            Section::Filter => "[filters.NAME]",
            Section::Notify => "[notify]",
            Section::NotifyMail => "[notify.mail]",
            Section::NotifyExec => "[[notify.exec]]",
            Section::Blocklist => "[blocklist]",
        }
    }

    /// [notify], [notify.mail] or [[notify.exec]].
    pub fn is_notify(self) -> bool {
        matches!(self, Section::Notify | Section::NotifyMail | Section::NotifyExec)
    }

    /// The keys valid here, aliases excluded.
    pub fn keys(self) -> Vec<&'static str> {
        let lists: &[&[Key]] = match self {
            Section::Top => &[TOP],
            Section::Daemon => &[DAEMON],
            Section::Defaults => &[SETTINGS],
            Section::Jail => &[JAIL_ONLY, SETTINGS],
            Section::Filter => &[FILTER],
            Section::Notify => &[NOTIFY],
            Section::NotifyMail => &[NOTIFY_MAIL],
            Section::NotifyExec => &[NOTIFY_EXEC],
            Section::Blocklist => &[BLOCKLIST],
        };
        lists.iter().flat_map(|l| l.iter().map(|(k, _)| *k)).collect()
    }

    /// Whether `key` (or an alias of a key) is valid here.
    pub fn knows(self, key: &str) -> bool {
        self.keys().contains(&canonical(key))
    }
}

/// The key an alias stands for; other keys unchanged.
pub fn canonical(key: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, k)| k)
}

/// fail2ban options banjo has no use for, and what to do instead.
const FAIL2BAN_ONLY: &[(&[&str], &str)] = &[
    (
        &["logpath", "logencoding", "logtimezone", "backend"],
        "banjo does not read log files: a jail reads the systemd journal \
         (journal = [\"_SYSTEMD_UNIT=NAME.service\"]) or a multilog pipe (multilog = \"FD-NAME\")",
    ),
    (
        &["action", "banaction", "banaction_allports", "actions", "chain"],
        "banjo bans with its own nftables table: choose ports, protocols, blocktype, \
         hook (\"input\"/\"forward\") and family (\"inet\"/\"bridge\") instead of an action; \
         mails go in [notify.mail], other commands on bans in [[notify.exec]]",
    ),
    (
        &[
            "destemail",
            "sender",
            "mta",
            "sendername",
            "action_mw",
            "action_mwl",
        ],
        "ban mails are sent by banjo-notify, configured in [notify.mail]: \
         dest = \"postmaster@example.org\", sender = \"banjo@example.org\", sender_name",
    ),
    (
        &[
            "dbfile",
            "dbpurgeage",
            "dbmaxmatches",
            "pidfile",
            "socket",
            "logtarget",
        ],
        "banjo runs under systemd: its state lives in [daemon] state_dir and it logs to the journal",
    ),
    (&["allowipv6"], "banjo always handles IPv6; remove it"),
    (
        &["ignorecommand", "ignorecache", "maxmatches", "maxlines"],
        "banjo does not support it; remove it",
    ),
    (
        &["before", "after", "includes"],
        "banjo reads config.d/*.toml next to the config file instead of includes",
    ),
    (
        &["enable", "disabled"],
        "the switch is `enabled = true` or `enabled = false`",
    ),
];

/// Help for `key`, unknown in `section`: what was probably meant, then the valid keys.
pub fn unknown_key_help(section: Section, key: &str) -> String {
    let mut help = guess(section, key).unwrap_or_default();
    if !help.is_empty() {
        help.push_str("; ");
    }
    help.push_str(&format!(
        "valid keys in {}: {}",
        section.label(),
        section.keys().join(", ")
    ));
    help
}

fn guess(section: Section, key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    if let Some((_, hint)) = FAIL2BAN_ONLY
        .iter()
        .find(|(keys, _)| keys.contains(&lower.as_str()))
    {
        return Some(format!("`{key}` is a fail2ban option: {hint}"));
    }
    if let Some(place) = belongs_elsewhere(section, &lower) {
        return Some(format!("`{key}` belongs in {place}"));
    }
    if section == Section::Top && matches!(lower.as_str(), "default" | "definition" | "init") {
        let place = if lower == "default" {
            "[defaults]"
        } else {
            "[filters.NAME]"
        };
        return Some(format!("fail2ban's [{key}] is {place} in banjo"));
    }
    if section == Section::Jail && lower == "journalmatch" {
        return Some("did you mean `journal`? (journal = [\"_SYSTEMD_UNIT=NAME.service\"])".into());
    }
    did_you_mean(section, &lower).map(|k| format!("did you mean `{k}`?"))
}

/// A key valid in some other section: "[defaults] (for every jail) or [jails.NAME]".
fn belongs_elsewhere(section: Section, key: &str) -> Option<&'static str> {
    let in_list = |list: &[Key]| list.iter().any(|(k, _)| *k == canonical(key));
    if section.is_notify() {
        // Keys shared with other sections (jails, command, state_dir) mean something else
        // there: only point between the notify sections.
        return if in_list(NOTIFY_MAIL) && section != Section::NotifyMail {
            Some("[notify.mail]")
        } else if in_list(NOTIFY_EXEC) && section != Section::NotifyExec {
            Some("a [[notify.exec]] section")
        } else {
            None
        };
    }
    let elsewhere = [TOP, SETTINGS, JAIL_ONLY, DAEMON, FILTER];
    if in_list(NOTIFY_MAIL) && !elsewhere.iter().any(|l| in_list(l)) {
        return Some("[notify.mail]");
    }
    if in_list(SETTINGS) && !matches!(section, Section::Defaults | Section::Jail) {
        return Some("[defaults] (for every jail) or [jails.NAME] (for one jail)");
    }
    if in_list(JAIL_ONLY) && section != Section::Jail {
        return Some("[jails.NAME]: each jail has its own");
    }
    if in_list(DAEMON) && section != Section::Daemon {
        return Some("[daemon]");
    }
    if in_list(FILTER) && section != Section::Filter {
        return Some("a [filters.NAME] section (a jail then says filter = \"NAME\")");
    }
    None
}

/// The closest valid key (or alias) by edit distance, when it is close enough to be a typo.
fn did_you_mean(section: Section, key: &str) -> Option<&'static str> {
    let mut candidates = section.keys();
    if matches!(section, Section::Defaults | Section::Jail) {
        candidates.extend(ALIASES.iter().map(|(alias, _)| *alias));
    }
    candidates
        .into_iter()
        .map(|k| (strsim::levenshtein(k, key), strsim::jaro_winkler(k, key), k))
        .filter(|&(distance, similarity, _)| distance <= 2 || similarity >= 0.9)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key() {
        assert_eq!(did_you_mean(Section::Defaults, "maxretries"), Some("maxretry"));
        assert_eq!(did_you_mean(Section::Jail, "ban_time"), Some("bantime"));
        assert_eq!(did_you_mean(Section::Daemon, "log_level"), Some("loglevel"));
        assert_eq!(did_you_mean(Section::Filter, "failregexp"), Some("failregex"));
        assert_eq!(did_you_mean(Section::Top, "jail"), Some("jails"));
        assert_eq!(did_you_mean(Section::Defaults, "colour"), None);
    }

    #[test]
    fn help_lists_valid_keys() {
        let help = unknown_key_help(Section::Defaults, "maxretries");
        assert!(help.starts_with("did you mean `maxretry`?"), "{help}");
        assert!(
            help.contains("valid keys in [defaults]: enabled, maxretry, findtime"),
            "{help}"
        );
    }

    #[test]
    fn fail2ban_options_say_what_to_do_instead() {
        let help = unknown_key_help(Section::Jail, "logpath");
        assert!(help.contains("journal = ["), "{help}");
        let help = unknown_key_help(Section::Jail, "banaction");
        assert!(help.contains("nftables"), "{help}");
    }

    #[test]
    fn misplaced_keys_name_their_section() {
        let help = unknown_key_help(Section::Top, "maxretry");
        assert!(help.starts_with("`maxretry` belongs in [defaults]"), "{help}");
        let help = unknown_key_help(Section::Defaults, "journal");
        assert!(help.contains("[jails.NAME]"), "{help}");
    }

    #[test]
    fn mail_keys_point_to_notify_mail() {
        let help = unknown_key_help(Section::Defaults, "destemail");
        assert!(help.contains("[notify.mail]"), "{help}");
        let help = unknown_key_help(Section::Jail, "dest");
        assert!(help.starts_with("`dest` belongs in [notify.mail]"), "{help}");
        let help = unknown_key_help(Section::NotifyExec, "dest");
        assert!(help.starts_with("`dest` belongs in [notify.mail]"), "{help}");
        let help = unknown_key_help(Section::NotifyMail, "comand");
        assert!(help.starts_with("did you mean `command`?"), "{help}");
        let help = unknown_key_help(Section::NotifyMail, "name");
        assert!(help.contains("[[notify.exec]]"), "{help}");
    }

    #[test]
    fn aliases_are_known_only_where_they_apply() {
        assert!(Section::Jail.knows("port"));
        assert!(Section::Defaults.knows("chain_hook"));
        assert!(!Section::Daemon.knows("port"));
        assert!(!Section::Defaults.knows("filter"));
    }

    #[test]
    fn every_key_has_an_example() {
        for section in [
            Section::Top,
            Section::Daemon,
            Section::Jail,
            Section::Filter,
            Section::Notify,
            Section::NotifyMail,
            Section::NotifyExec,
            Section::Blocklist,
        ] {
            for key in section.keys() {
                assert_ne!(example(key), "…", "{key}");
            }
        }
        assert_eq!(example("port"), example("ports"));
    }
}
