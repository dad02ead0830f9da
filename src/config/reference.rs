//! The config reference: every key of every section with its type, default and meaning, and
//! banjo.toml(5) written from it (`banjo generate man`). Its tests hold it to the schema that
//! validates the config (`schema.rs`): a key the schema accepts without an entry here, or an
//! entry for a key it refuses, fails them, and so does a default written here that is not the
//! one banjo applies.

use super::schema::Section;

/// A key's default: TOML that the tests load to check it is the one banjo applies, or words
/// for one that depends on something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Given {
    Toml(&'static str),
    Words(&'static str),
}

/// One key of a section.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub key: &'static str,
    /// The value's form, as the admin writes it.
    pub form: &'static str,
    pub default: Given,
    pub meaning: &'static str,
}

const fn entry(key: &'static str, form: &'static str, default: Given, meaning: &'static str) -> Entry {
    Entry {
        key,
        form,
        default,
        meaning,
    }
}

use Given::{Toml, Words};

/// `[daemon]`.
pub const DAEMON: &[Entry] = &[
    entry(
        "loglevel",
        "\"error\", \"warn\", \"info\", \"debug\" or \"trace\"",
        Toml("\"info\""),
        "How much banjo logs to the journal (RUST_LOG overrides it). Bans are logged at warn, unbans at info: below info the journal misses some audit records.",
    ),
    entry(
        "table",
        "a name (letters, digits, _ and -)",
        Toml("\"banjo\""),
        "The nftables table banjo owns: table inet NAME, and table bridge NAME for jails with family = \"bridge\". banjo changes nothing outside it.",
    ),
    entry(
        "flush_on_stop",
        "true or false",
        Toml("false"),
        "Remove the table when banjo stops. By default it stays: the kernel ends each ban at its time, and banjo picks the table up at its next start.",
    ),
    entry(
        "state_dir",
        "an absolute path",
        Words("$STATE_DIRECTORY (set by banjo.service), else /var/lib/banjo"),
        "Where banjo keeps bans.json (the active bans and the ban history) and progress.json (the journal cursor).",
    ),
    entry(
        "runtime_dir",
        "an absolute path",
        Words("$RUNTIME_DIRECTORY (set by banjo.service), else /run/banjo"),
        "Where the control socket banjo.sock is, when systemd does not pass it.",
    ),
    entry(
        "admin_group",
        "a group name",
        Words("none: only root"),
        "Members may ban, unban and reload through the control socket, and read.",
    ),
    entry(
        "read_group",
        "a group name",
        Words("none: only root (Debian's config.toml sets \"adm\")"),
        "Members may read through the control socket: banjo status, stats, banned, explain and metrics (banjo-metrics@.service reads as a member of adm).",
    ),
];

/// `[defaults]`, which each `[jails.NAME]` may override.
pub const SETTINGS: &[Entry] = &[
    entry(
        "enabled",
        "true or false",
        Toml("true"),
        "Whether the jail runs. A disabled jail is checked but reads nothing and bans no one.",
    ),
    entry(
        "maxretry",
        "a whole number, 1 or more",
        Toml("5"),
        "Failures of one address within findtime that ban it.",
    ),
    entry(
        "findtime",
        "a duration",
        Toml("\"10m\""),
        "How far back failures count toward maxretry.",
    ),
    entry(
        "bantime",
        "a duration, or -1 for a ban that does not end",
        Toml("\"10m\""),
        "How long a ban lasts (the first one, with bantime_increment).",
    ),
    entry(
        "ignoreip",
        "a list of addresses, networks (CIDR), host names or \"file:/PATH\"; fail2ban's one-string form \"127.0.0.1/8 ::1\" too",
        Toml("[\"127.0.0.1/8\", \"::1\"]"),
        "Addresses never banned: their failures are not counted, and no network ban covers them. Host names are resolved at start and reload; \"file:/PATH\" reads a list file (one address or network a line, Spamhaus DROP and FireHOL forms) at start and reload, keeping its last entries when it cannot be read.",
    ),
    entry(
        "ignoreself",
        "true or false",
        Toml("true"),
        "Never ban this host's own addresses.",
    ),
    entry(
        "usedns",
        "\"yes\", \"warn\", \"no\" or \"raw\"",
        Toml("\"warn\""),
        "What a host name that a failregex captures in <HOST> does (fail2ban's usedns): yes and warn resolve it (warn logs it), no and raw do not count it.",
    ),
    entry(
        "ports",
        "a list of ports, names from /etc/services or ranges (\"1000-2000\"); fail2ban's \"25,465\" string too; alias port",
        Toml("[]"),
        "The ports a ban blocks. Empty: every port.",
    ),
    entry(
        "protocols",
        "a list of \"tcp\", \"udp\", \"udplite\", \"sctp\"; alias protocol",
        Toml("[\"tcp\", \"udp\", \"udplite\", \"sctp\"]"),
        "The protocols a ban blocks on those ports (every protocol when ports is empty).",
    ),
    entry(
        "hook",
        "\"input\" or \"forward\"; alias chain_hook",
        Toml("\"input\""),
        "Where the ban drops packets: input for services on this host, forward for hosts behind it (a router or a bridge).",
    ),
    entry(
        "family",
        "\"inet\" or \"bridge\"",
        Toml("\"inet\""),
        "The nftables family of the jail's chain: inet (IPv4 and IPv6 routed or local), bridge (frames crossing a Linux bridge).",
    ),
    entry(
        "blocktype",
        "\"drop\" or \"reject\"",
        Toml("\"drop\""),
        "What a ban does with a packet: drop it silently, or reject it (TCP reset, ICMP unreachable).",
    ),
    entry(
        "maxtracked",
        "a whole number, 1 or more",
        Toml("100000"),
        "Addresses with failures a jail remembers; past it, the one seen longest ago is forgotten (counted in banjo_addresses_evicted_total).",
    ),
    entry(
        "bantime_increment",
        "true or false",
        Toml("false"),
        "Longer bans for repeat offenders (fail2ban's bantime.increment): each ban of an address lasts longer than its last.",
    ),
    entry(
        "bantime_factor",
        "a number above 0",
        Toml("1.0"),
        "With bantime_increment: the ban time is bantime x factor x 2^(bans before), or x the multiplier.",
    ),
    entry(
        "bantime_multipliers",
        "a list of whole numbers",
        Toml("[]"),
        "With bantime_increment: the multiplier of the Nth ban (the last one from then on), instead of powers of 2.",
    ),
    entry(
        "bantime_maxtime",
        "a duration",
        Words("none: no limit but nftables' (about 584 years)"),
        "With bantime_increment: the longest ban.",
    ),
    entry(
        "bantime_rndtime",
        "a duration",
        Toml("0"),
        "With bantime_increment: up to this much added at random to each ban, so that bots cannot time their return.",
    ),
    entry(
        "bantime_overalljails",
        "true or false",
        Toml("false"),
        "With bantime_increment: count an address's bans in every jail, not only this one.",
    ),
    entry(
        "ipv6_prefix",
        "a prefix length, 32 to 128",
        Toml("64"),
        "IPv6 failures are counted, and banned, by the network of this many bits: with 64 every address of a /64 counts as one attacker and the /64 is banned; 128 counts each address alone, as fail2ban does.",
    ),
    entry(
        "ipv6_widest",
        "a prefix length, 16 to 128",
        Toml("48"),
        "The widest IPv6 network adaptive widening may ban; ipv6_widest = ipv6_prefix never widens.",
    ),
    entry(
        "ipv4_widest",
        "a prefix length, 8 to 32",
        Toml("32"),
        "The widest IPv4 network adaptive widening may ban (24: a /24 after widen_after bans inside it); 32 never widens.",
    ),
    entry(
        "widen_after",
        "a whole number, 2 to 1000",
        Toml("3"),
        "How many distinct narrower bans inside the next wider network (/64 to /56 to /48, /32 to /24) make banjo ban that network instead; a network holding an ignoreip address or one of this host's is never banned whole.",
    ),
    entry(
        "widen_within",
        "a duration",
        Toml("\"1d\""),
        "How recently those narrower bans must have started to count for widen_after.",
    ),
];

/// Keys only a `[jails.NAME]` section has.
pub const JAIL_ONLY: &[Entry] = &[
    entry(
        "filter",
        "a filter name, with fail2ban's options: \"sshd[mode=aggressive]\"",
        Words("the jail's name"),
        "The filter: a [filters.NAME] section, else a built-in filter, else NAME.conf in the filter directories (/usr/share/banjo/filters).",
    ),
    entry(
        "journal",
        "a list of FIELD=VALUE matches, \"+\" between groups (journalctl's syntax)",
        Words("the filter's journalmatch"),
        "Which journal entries the jail reads: the matches in a group must all hold, any group may. Set journal or multilog, not both.",
    ),
    entry(
        "multilog",
        "a file descriptor name, or the absolute path of a FIFO",
        Words("none"),
        "A multilog pipe (qmail) the jail reads instead of the journal: a name given to banjo.service by a socket unit (FileDescriptorName=), or a FIFO banjo opens itself.",
    ),
];

/// `[filters.NAME]`: a filter written in the config (fail2ban's keys).
pub const FILTER: &[Entry] = &[
    entry(
        "failregex",
        "a list of regexes with fail2ban's tags (<HOST>, <ADDR>, <F-USER>…)",
        Words("none: required"),
        "A line that matches one of them is a failure of the address it captures.",
    ),
    entry(
        "ignoreregex",
        "a list of regexes",
        Toml("[]"),
        "A line that matches one of them is not a failure, whatever failregex says.",
    ),
    entry(
        "prefregex",
        "a regex with <F-CONTENT>…</F-CONTENT>",
        Words("none"),
        "Matched first; failregex and ignoreregex then see only the part in <F-CONTENT>.",
    ),
    entry(
        "datepattern",
        "fail2ban's datepattern (\"{^LN-BEG}\", a strftime form)",
        Words("none: the journal's time, or the timestamp found in a multilog line"),
        "Where a line's time is, when it is in the text.",
    ),
    entry(
        "journalmatch",
        "journal matches, as a jail's journal",
        Words("none"),
        "The journal entries a jail with this filter reads when it sets no journal of its own.",
    ),
];

/// `[blocklist]`.
pub const BLOCKLIST: &[Entry] = &[
    entry(
        "files",
        "a list of absolute paths",
        Words("none: the key is required"),
        "List files of addresses and networks blocked for good (one a line, # and ; comments, Spamhaus DROP and FireHOL forms), read at start and reload; a bad line is reported and skipped, and a file that cannot be read keeps its last entries.",
    ),
    entry(
        "scope",
        "\"all\" or \"jails\"",
        Toml("\"all\""),
        "What the listed sources may not reach: every port (all) in the input hook and in every hook and table the jails use (the forward hook, the bridge table); or what each jail guards (jails): a rule per jail with its ports, protocols, hook, family and blocktype.",
    ),
];

/// `[notify]`: banjo-notify (banjo notify, banjo-notify.service).
pub const NOTIFY: &[Entry] = &[
    entry(
        "state_dir",
        "an absolute path",
        Words("$STATE_DIRECTORY, else /var/lib/banjo-notify"),
        "Where banjo-notify keeps its journal cursor and the mails and commands it still has to run (notify.json).",
    ),
    entry(
        "mail",
        "a [notify.mail] section",
        Words("none: no mails"),
        "Mail bans through the local MTA's sendmail, as fail2ban's sendmail-whois-lines does; see [notify.mail].",
    ),
    entry(
        "exec",
        "[[notify.exec]] sections (two brackets)",
        Words("none: no commands"),
        "Commands run on bans and unbans with the ban's values as arguments; see [[notify.exec]].",
    ),
];

/// `[notify.mail]`.
pub const NOTIFY_MAIL: &[Entry] = &[
    entry(
        "dest",
        "a mail address, or a list of them",
        Words("none: the key is required"),
        "Who gets the mails (fail2ban's dest); a name or address that could add a header is refused.",
    ),
    entry(
        "sender",
        "a mail address",
        Toml("\"banjo\""),
        "The From: address and the envelope sender (fail2ban's sender); the local MTA qualifies a bare name.",
    ),
    entry(
        "sender_name",
        "a display name",
        Toml("\"banjo\""),
        "The name shown with the From: address (fail2ban's sendername).",
    ),
    entry(
        "jails",
        "a list of jail names, or [\"*\"]",
        Words("every jail"),
        "The jails whose bans are mailed.",
    ),
    entry(
        "events",
        "a list of \"ban\" and \"unban\"",
        Toml("[\"ban\"]"),
        "Which records are mailed; fail2ban's start and stop mails have no counterpart.",
    ),
    entry(
        "command",
        "an argv; {sender} is the only placeholder",
        Toml("[\"/usr/sbin/sendmail\", \"-t\", \"-oi\", \"-f\", \"{sender}\"]"),
        "The program that takes the mail on its standard input and delivers it.",
    ),
    entry(
        "timeout",
        "a duration",
        Toml("\"1m\""),
        "How long sendmail may run before it is killed with its children and the mail is tried again.",
    ),
    entry(
        "retries",
        "a whole number, 0 to 100",
        Toml("5"),
        "How many more times a mail sendmail did not take is tried before it is dropped (logged).",
    ),
    entry(
        "retry_delay",
        "a duration",
        Toml("\"30s\""),
        "The wait before the first retry; it doubles with each further one.",
    ),
    entry(
        "whois",
        "true or false",
        Toml("true"),
        "Put a whois of the address into the mail (when the whois program is installed; answers are cached for a day).",
    ),
    entry(
        "whois_timeout",
        "a duration",
        Toml("\"10s\""),
        "How long one whois may take; past it the mail says that it failed.",
    ),
    entry(
        "digest_after",
        "a whole number, 0 to 10000",
        Toml("5"),
        "How many mails a jail sends within digest_interval before its further bans wait in one digest; 0 puts every ban into a digest.",
    ),
    entry(
        "digest_interval",
        "a duration",
        Toml("\"10m\""),
        "The window of digest_after, and how often a digest goes out while bans keep coming.",
    ),
];

/// `[[notify.exec]]`.
pub const NOTIFY_EXEC: &[Entry] = &[
    entry(
        "name",
        "a name (letters, digits, _ and -)",
        Words("the program's file name, made unique"),
        "The command's name in banjo-notify's log records.",
    ),
    entry(
        "command",
        "an argv with placeholders {ip} {jail} {event} {bantime} {until} {failures} {matches} {reason} {host}",
        Words("none: the key is required"),
        "The program and its arguments, run without a shell; each placeholder stays one argument.",
    ),
    entry(
        "events",
        "a list of \"ban\" and \"unban\"",
        Toml("[\"ban\"]"),
        "Which records run the command.",
    ),
    entry(
        "jails",
        "a list of jail names, or [\"*\"]",
        Words("every jail"),
        "The jails whose records run the command.",
    ),
    entry(
        "timeout",
        "a duration",
        Toml("\"30s\""),
        "How long one run may take before it is killed with its children.",
    ),
    entry(
        "retries",
        "a whole number, 0 to 100",
        Toml("2"),
        "How many more times a run that failed is tried.",
    ),
    entry(
        "retry_delay",
        "a duration",
        Toml("\"10s\""),
        "The wait before the first retry; it doubles with each further one.",
    ),
];

/// Every section of the file, in the order of the page, with what it is.
pub const SECTIONS: &[(Section, &str, &[&[Entry]])] = &[
    (Section::Daemon, "Settings of the daemon.", &[DAEMON]),
    (
        Section::Defaults,
        "Settings every jail inherits; a [jails.NAME] section may set each of them again.",
        &[SETTINGS],
    ),
    (
        Section::Jail,
        "A jail: a filter, where its lines come from, and the settings of [defaults] it overrides.",
        &[JAIL_ONLY, SETTINGS],
    ),
    (
        Section::Filter,
        "A filter written in the config, in fail2ban's keys; a jail names it with filter = \"NAME\".",
        &[FILTER],
    ),
    (
        Section::Blocklist,
        "Addresses and networks from list files, blocked for good in sets of their own (_blocklist-v4, -v6, -net4, -net6), whatever the jails say.",
        &[BLOCKLIST],
    ),
    (
        Section::Notify,
        "banjo-notify: mails and commands on bans, read back from banjo's records in the journal by banjo-notify.service, which starts only when this section has mail or exec.",
        &[NOTIFY],
    ),
    (
        Section::NotifyMail,
        "Mails on bans through the local MTA, with the matched lines and a whois; beyond digest_after mails per jail, digests.",
        &[NOTIFY_MAIL],
    ),
    (
        Section::NotifyExec,
        "A command run on bans and/or unbans; one section per command.",
        &[NOTIFY_EXEC],
    ),
];

/// banjo.toml(5) in roff (man(7) macros).
pub fn man_page(version: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH BANJO.TOML 5 \"\" \"banjo {}\" \"File Formats\"\n",
        roff(version)
    ));
    out.push_str(
        ".SH NAME\nbanjo.toml \\- configuration of banjo, the journal and multilog to nftables banner\n",
    );
    out.push_str(".SH SYNOPSIS\n/etc/banjo/config.toml\n.br\n/etc/banjo/config.d/*.toml\n.br\nBANJO_SECTION__KEY=VALUE\n");
    for (title, text) in INTRO {
        out.push_str(&format!(".SH {title}\n"));
        for paragraph in text.split("\n\n") {
            out.push_str(&format!(".PP\n{}\n", roff(paragraph)));
        }
    }
    out.push_str(".SH SECTIONS\n");
    for (section, what, lists) in SECTIONS {
        out.push_str(&format!(".SS {}\n.PP\n{}\n", roff(section.label()), roff(what)));
        if *section == Section::Jail {
            out.push_str(".PP\nBesides the keys of [defaults]:\n");
        }
        for e in lists.iter().flat_map(|l| l.iter()) {
            if *section == Section::Jail && SETTINGS.iter().any(|s| s.key == e.key) {
                continue; // listed under [defaults]
            }
            out.push_str(&format!(".TP\n.B {}\n", roff(e.key)));
            out.push_str(&format!("{}\n.br\n", roff(e.meaning)));
            out.push_str(&format!("Form: {}.\n.br\n", roff(e.form)));
            let default = match e.default {
                Toml(t) => format!("Default: {}.", roff(t)),
                Words(w) => format!("Default: {}.", roff(w)),
            };
            out.push_str(&format!("{default}\n"));
        }
    }
    out.push_str(SEE_ALSO);
    out
}

/// The page's prose before the keys.
const INTRO: &[(&str, &str)] = &[
    (
        "DESCRIPTION",
        "banjo reads its configuration from a TOML file, /etc/banjo/config.toml (or --config PATH), \
         then the files config.d/*.toml beside it in name order, then environment variables \
         BANJO_SECTION__KEY (BANJO_DEFAULTS__BANTIME=1h, BANJO_JAILS__SSHD__ENABLED=false). A later \
         layer wins key by key. banjo check validates it all and names every problem with its file, \
         key, value and an example; a reload (systemctl reload banjo) that does not validate is \
         refused and the running configuration stays.\n\n\
         Keys are fail2ban's where fail2ban has one; its dotted keys are written with an underscore \
         (bantime_increment for bantime.increment). A key banjo does not know is an error, with the \
         key meant when it looks like a typo or a fail2ban option.",
    ),
    (
        "DURATIONS",
        "A duration is a number of seconds (600) or a string of numbers with units: s, m, h, d, \
         w, mo (30 days), y (365 days), combined as \"1d12h\". A ban lasts at most about 584 years, \
         the longest timeout nftables takes.",
    ),
];

const SEE_ALSO: &str = ".SH FILES\n\
/usr/share/doc/banjo/examples/config.toml, a commented example.\n\
.br\n\
/usr/share/banjo/filters, the built-in filters in fail2ban's syntax.\n\
.SH SEE ALSO\n\
.BR banjo (8),\n\
.BR banjo\\-check (8),\n\
.BR journalctl (1),\n\
.BR nft (8)\n";

/// Text as roff reads it: backslashes escaped, a line that would start with a control
/// character made plain.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    let joined: Vec<String> = escaped
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    joined.join("\n")
}

#[cfg(test)]
mod tests;
