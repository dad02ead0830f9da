//! The importer on small fail2ban directories held in memory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::*;

/// A fail2ban directory in memory, rooted at /f2b.
struct Mem(BTreeMap<PathBuf, String>);

impl Mem {
    fn new(files: &[(&str, &str)]) -> Mem {
        Mem(files
            .iter()
            .map(|(n, t)| (Path::new("/f2b").join(n), t.to_string()))
            .collect())
    }

    fn with(mut self, name: &str, text: &str) -> Mem {
        self.0.insert(Path::new("/f2b").join(name), text.to_string());
        self
    }
}

impl FileSource for Mem {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in Mem"))
    }

    fn exists(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

impl Tree for Mem {
    fn files(&self) -> &dyn FileSource {
        self
    }

    fn glob(&self, dir: &Path, suffix: &str) -> Vec<PathBuf> {
        self.0
            .keys()
            .filter(|p| p.parent() == Some(dir) && p.to_string_lossy().ends_with(suffix))
            .cloned()
            .collect()
    }
}

/// A jail.conf in the shape of fail2ban's: defaults, action_ and the mail macros.
const JAIL_CONF: &str = "\
[INCLUDES]
before = paths.conf

[DEFAULT]
bantime  = 10m
findtime  = 10m
maxretry = 5
backend = auto
enabled = false
mode = normal
filter = %(__name__)s[mode=%(mode)s]
destemail = root@localhost
sender = root@<fq-hostname>
mta = sendmail
protocol = tcp
chain = <known/chain>
port = 0:65535
banaction = nftables-multiport
action_ = %(banaction)s[port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]
action_mwl = %(action_)s
             %(mta)s-whois-lines[sender=\"%(sender)s\", dest=\"%(destemail)s\", logpath=\"%(logpath)s\", chain=\"%(chain)s\"]
action = %(action_)s

[sshd]
port    = ssh
logpath = %(sshd_log)s
";

const PATHS_CONF: &str = "[DEFAULT]\nsshd_log = /var/log/auth.log\n";

const NFTABLES_CONF: &str = "\
[INCLUDES]
after = nftables-common.local

[Definition]
type = multiport

[Init]
table_family = inet
chain = f2b-chain
chain_hook = input
name = default
port = ssh
protocol = tcp
blocktype = reject
";

const IPTABLES_CONF: &str = "\
[Definition]
type = oneport

[Init]
chain = INPUT
name = default
port = ssh
protocol = tcp
blocktype = REJECT --reject-with icmp-port-unreachable
";

const SENDMAIL_COMMON: &str = "\
[INCLUDES]
after = sendmail-common.local

[Definition]
actionstart = printf %%b \"Subject: [Fail2Ban] <name>: started\" | <mailcmd>
actionstop = printf %%b \"Subject: [Fail2Ban] <name>: stopped\" | <mailcmd>

[Init]
mailcmd = /usr/sbin/sendmail -f \"<sender>\" \"<dest>\"
dest = root
sender = fail2ban
sendername = Fail2Ban
";

/// fail2ban's stock directory, shrunk: jail.conf, paths, the nftables/iptables/sendmail
/// actions and an admin's own filter.
fn stock() -> Mem {
    Mem::new(&[
        ("jail.conf", JAIL_CONF),
        ("paths.conf", PATHS_CONF),
        ("action.d/nftables.conf", NFTABLES_CONF),
        (
            "action.d/nftables-multiport.conf",
            "[INCLUDES]\nbefore = nftables.conf\n[Definition]\ntype = multiport\n",
        ),
        (
            "action.d/nftables-allports.conf",
            "[INCLUDES]\nbefore = nftables.conf\n[Definition]\ntype = allports\n",
        ),
        ("action.d/iptables.conf", IPTABLES_CONF),
        (
            "action.d/iptables-multiport.conf",
            "[INCLUDES]\nbefore = iptables.conf\n[Definition]\ntype = multiport\n",
        ),
        ("action.d/sendmail-common.conf", SENDMAIL_COMMON),
        (
            "action.d/sendmail-whois-lines.conf",
            "[INCLUDES]\nbefore = sendmail-common.conf\n[Definition]\nactionban = x\n[Init]\nname = default\n",
        ),
        ("action.d/abuseipdb.conf", "[Definition]\nactionban = curl\n"),
        (
            "filter.d/myapp.conf",
            "[Definition]\nfailregex = ^login failed from <HOST>$\n",
        ),
    ])
}

fn run(tree: &Mem) -> Result<Import, Vec<ImportError>> {
    import(tree, Path::new("/f2b"), &Stock::default())
}

fn ok(tree: &Mem) -> Import {
    match run(tree) {
        Ok(i) => i,
        Err(e) => panic!(
            "{}",
            e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

fn errors(tree: &Mem) -> String {
    match run(tree) {
        Ok(i) => panic!("imported:\n{}", i.toml),
        Err(e) => e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"),
    }
}

/// The imported config, loaded by banjo's own config reader.
fn load(import: &Import) -> crate::config::Config {
    crate::config::from_toml(Path::new("/etc/banjo/config.d/50-fail2ban.toml"), &import.toml)
        .unwrap_or_else(|e| panic!("{e}\n{}", import.toml))
}

#[test]
fn nothing_enabled_imports_nothing() {
    let import = ok(&stock());
    assert!(import.report.carried.is_empty());
    assert_eq!(import.report.disabled, 1);
}

#[test]
fn debian_style_sshd_becomes_a_journal_jail_with_the_default_action() {
    let tree = stock().with("jail.d/defaults-debian.conf", "[sshd]\nenabled = true\n");
    let import = ok(&tree);
    let cfg = load(&import);
    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.filter, "sshd");
    // no `journal =`: the built-in sshd filter's match, hardened for sshd-session's last lines
    assert_eq!(sshd.journal_from, crate::config::JournalFrom::Filter);
    let journal: Vec<String> = sshd.journal.iter().map(|m| m.to_string()).collect();
    assert_eq!(journal, builtin::load("sshd", &[]).unwrap().unwrap().journalmatch);
    assert!(journal.contains(&"_UID=0".to_string()));
    assert!(!import.toml.contains("\njournal ="), "{}", import.toml);
    let comments = import.toml.replace("\n#   ", " ");
    assert!(
        comments.contains(
            "# No `journal =`: the built-in sshd filter's journalmatch is used (`banjo check` \
             shows it; a `journal = [...]` would replace it): _SYSTEMD_UNIT=ssh.service OR \
             _SYSTEMD_UNIT=sshd.service OR (SYSLOG_IDENTIFIER=sshd|sshd-session|sshd-auth AND _UID=0)\n"
        ),
        "{}",
        import.toml
    );
    assert_eq!(sshd.ports.iter().map(|p| p.low).collect::<Vec<_>>(), [22]);
    assert_eq!(sshd.protocols, [Protocol::Tcp]);
    assert_eq!(sshd.maxretry, 5);
    assert_eq!(sshd.findtime.as_secs(), 600);
    assert_eq!(sshd.blocktype, BlockType::Reject);
    assert_eq!(import.report.carried, ["sshd"]);
}

#[test]
fn an_explicit_journalmatch_or_the_admins_filter_keeps_its_journal_line() {
    use crate::config::JournalFrom;
    let journal = |cfg: &crate::config::Config, name: &str| {
        let jail = cfg.jail(name).unwrap();
        let words: Vec<String> = jail.journal.iter().map(|m| m.to_string()).collect();
        (words, jail.journal_from)
    };
    // the jail's own journalmatch, on the built-in sshd filter
    let tree = stock().with(
        "jail.local",
        "[sshd]\nenabled = true\nbackend = systemd\n\
         journalmatch = _SYSTEMD_UNIT=sshd.service\n               _COMM=sshd\n",
    );
    let cfg = load(&ok(&tree));
    assert_eq!(
        journal(&cfg, "sshd"),
        (
            vec![
                "_SYSTEMD_UNIT=sshd.service".to_string(),
                "+".to_string(),
                "_COMM=sshd".to_string()
            ],
            JournalFrom::Jail
        )
    );
    // the admin's own filter file with a journalmatch: written out, as it is
    let tree = stock()
        .with(
            "filter.d/myapp.conf",
            "[Definition]\nfailregex = ^login failed from <HOST>$\njournalmatch = SYSLOG_IDENTIFIER=myapp\n",
        )
        .with("jail.local", "[myapp]\nenabled = true\nbackend = systemd\n");
    let import = ok(&tree);
    assert!(
        import
            .toml
            .contains("\njournal = [\"SYSLOG_IDENTIFIER=myapp\"]\n"),
        "{}",
        import.toml
    );
    assert_eq!(journal(&load(&import), "myapp").1, JournalFrom::Jail);
}

#[test]
fn action_parameters_beat_init_and_common_local_beats_the_conf() {
    let tree = stock()
        .with(
            "action.d/nftables-common.local",
            "[Init]\nprotocol = tcp,udp\nchain_hook = forward\n",
        )
        .with(
            "jail.local",
            "[myapp]\nenabled = true\nlogpath = /var/log/nginx/error.log\n\
             action = nftables[type=multiport, name=APP, port=\"80,443\"]\n\
             \x20        nftables[type=multiport, name=APP2, port=\"8080\", protocol=sctp]\n",
        );
    let cfg = load(&ok(&tree));
    let jail = cfg.jail("myapp").unwrap();
    assert_eq!(jail.hook, Hook::Forward);
    assert_eq!(jail.protocols, [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]);
    let ports: Vec<u16> = jail.ports.iter().map(|p| p.low).collect();
    assert_eq!(ports, [80, 443, 8080]);
}

#[test]
fn action_underscore_passes_the_jails_protocol_over_the_common_local() {
    // fail2ban: %(action_)s hands protocol="tcp" as a parameter, which wins over [Init]
    let tree = stock()
        .with("action.d/nftables-common.local", "[Init]\nprotocol = tcp,udp\n")
        .with("jail.local", "[sshd]\nenabled = true\n");
    let cfg = load(&ok(&tree));
    assert_eq!(cfg.jail("sshd").unwrap().protocols, [Protocol::Tcp]);
}

#[test]
fn iptables_forward_chain_and_allports() {
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\nbanaction = iptables-multiport\nchain = FORWARD\n\
         [sshd]\nenabled = true\n\
         [myapp]\nenabled = true\nlogpath = /var/log/apache2/error.log\naction = nftables-allports\n",
    );
    let cfg = load(&ok(&tree));
    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.hook, Hook::Forward);
    assert_eq!(sshd.blocktype, BlockType::Reject);
    let app = cfg.jail("myapp").unwrap();
    assert!(app.ports.is_empty(), "allports: every port");
    assert_eq!(app.hook, Hook::Input);
}

/// The imported `[notify.mail]`, loaded by banjo's config reader.
fn notify_mail(import: &Import) -> crate::config::notify::Mail {
    load(import)
        .notify
        .mail
        .unwrap_or_else(|| panic!("no [notify.mail]:\n{}", import.toml))
}

fn only(jails: &[&str]) -> crate::config::notify::Jails {
    crate::config::notify::Jails::Only(jails.iter().map(|&j| j.into()).collect())
}

/// `toml` with its wrapped comment lines joined again.
fn unwrapped(toml: &str) -> String {
    toml.replace("\n#   ", " ")
}

#[test]
fn mail_action_becomes_notify_mail_with_dest_and_sender() {
    let tree = stock()
        .with(
            "action.d/sendmail-common.local",
            "[Init]\ndest = postmaster@example.org\n",
        )
        .with(
            "jail.local",
            "[DEFAULT]\naction = %(action_mwl)s\nsender = f2b@example.org\n[sshd]\nenabled = true\n",
        );
    let import = ok(&tree);
    // action_mwl passes dest="%(destemail)s", which beats the .local's [Init]
    let mail = notify_mail(&import);
    assert_eq!(mail.dest, ["root@localhost"]);
    assert_eq!(mail.sender, "f2b@example.org");
    assert_eq!(mail.sender_name, "Fail2Ban");
    assert_eq!(mail.jails, only(&["sshd"]));
    assert_eq!(mail.events, [crate::config::NotifyEvent::Ban]);
    assert!(mail.whois, "sendmail-whois-lines");
    assert_eq!(mail.digest_after, 5, "banjo-notify's default");
    assert!(
        unwrapped(&import.toml)
            .contains("# mail: fail2ban's sendmail-whois-lines mailed each ban to root@localhost: see [notify.mail] below"),
        "{}",
        import.toml
    );
    assert_eq!(
        import.report.mail.as_deref(),
        Some(
            "sendmail-whois-lines (mail to root@localhost) from Fail2Ban <f2b@example.org> of sshd \
             → [notify.mail], sent by banjo-notify.service"
        )
    );
    // the stock sendmail-common.conf mails at start and stop; banjo-notify does not
    assert!(
        import.report.not_carried.iter().any(|l| l.starts_with(
            "sendmail-whois-lines: its mails when a jail starts or stops (actionstart, actionstop)"
        )),
        "{:?}",
        import.report.not_carried
    );
    assert!(
        import
            .report
            .admin
            .iter()
            .any(|l| l.contains("banjo notify --send-test"))
    );
}

#[test]
fn jails_mailing_elsewhere_are_named_and_the_most_common_recipient_wins() {
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\nbanaction = nftables-multiport\n\
         [sshd]\nenabled = true\naction = %(action_)s\n         sendmail-whois[dest=ops@example.org]\n\
         [app1]\nenabled = true\nfilter = myapp\nlogpath = /var/log/nginx/1.log\n\
         action = %(action_)s\n         sendmail[dest=web@example.org]\n\
         [app2]\nenabled = true\nfilter = myapp\nlogpath = /var/log/nginx/2.log\n\
         action = %(action_)s\n         sendmail-buffered[dest=web@example.org]\n",
    );
    let tree = tree
        .with(
            "action.d/sendmail-whois.conf",
            "[INCLUDES]\nbefore = sendmail-common.conf\n[Definition]\nactionban = x\n",
        )
        .with(
            "action.d/sendmail.conf",
            "[INCLUDES]\nbefore = sendmail-common.conf\n[Definition]\nactionban = x\n",
        )
        .with(
            "action.d/sendmail-buffered.conf",
            "[INCLUDES]\nbefore = sendmail-common.conf\n[Definition]\nactionstart =\nactionstop =\nactionban = x\n",
        );
    let import = ok(&tree);
    let mail = notify_mail(&import);
    assert_eq!(mail.dest, ["web@example.org"], "two jails against one");
    assert_eq!(mail.jails, only(&["sshd", "app1", "app2"]));
    // one jail had whois: banjo-notify has one switch, so all get it; not all were buffered
    assert!(mail.whois);
    assert_eq!(mail.digest_after, 5);
    let toml = unwrapped(&import.toml);
    let elsewhere = "jail sshd mailed to ops@example.org from Fail2Ban <fail2ban> in fail2ban; \
                     banjo-notify has one [notify.mail], so their bans go to web@example.org from \
                     Fail2Ban <fail2ban> (the most common); add ops@example.org to dest";
    assert!(toml.contains(elsewhere), "{toml}");
    let changed = import.report.changed.join("\n");
    assert!(changed.contains(&format!("mail: {elsewhere}")), "{changed}");
    assert!(
        changed.contains("mail: jails app1, app2 mailed without a whois in fail2ban"),
        "{changed}"
    );
    assert!(
        changed.contains("mail: jail app2 collected bans into one mail in fail2ban"),
        "{changed}"
    );
    assert!(
        changed.contains("mail: jails app1, app2, sshd mailed without the log lines"),
        "{changed}"
    );
    // sendmail-buffered's start/stop were emptied here; the others still mail
    let dropped = import.report.not_carried.join("\n");
    assert!(
        dropped.contains("sendmail-whois (jail sshd): its mails"),
        "{dropped}"
    );
    assert!(dropped.contains("sendmail (jail app1): its mails"), "{dropped}");
    assert!(!dropped.contains("sendmail-buffered"), "{dropped}");
}

#[test]
fn buffered_mail_becomes_a_digest_and_the_hosts_name_is_left_to_the_mta() {
    let tree = stock()
        .with(
            "action.d/sendmail-buffered.conf",
            "[INCLUDES]\nbefore = sendmail-common.conf\n[Definition]\nactionban = x\n",
        )
        .with(
            "jail.local",
            "[sshd]\nenabled = true\naction = %(action_)s\n\
             \x20        sendmail-buffered[sender=\"%(sender)s\", dest=\"%(destemail)s\"]\n",
        );
    let import = ok(&tree);
    let mail = notify_mail(&import);
    // jail.conf's sender = root@<fq-hostname>: fail2ban put in the host's name
    assert_eq!(mail.sender, "root");
    assert!(!mail.whois);
    assert_eq!(mail.digest_after, 0);
    let toml = unwrapped(&import.toml);
    assert!(
        toml.contains("fail2ban's root@<fq-hostname> is written as \"root\""),
        "{toml}"
    );
    assert!(
        toml.contains("digest_after = 0 collects every ban into a digest"),
        "{toml}"
    );
    assert!(toml.contains("\ndigest_after = 0\n"), "{toml}");
}

#[test]
fn mail_of_a_jail_held_back_is_not_listed() {
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\naction = %(action_mwl)s\n\
         [sshd]\nenabled = true\n\
         [myapp]\nenabled = true\nlogpath = /opt/myapp/app.log\n",
    );
    let import = ok(&tree);
    assert_eq!(import.report.held_back, ["myapp"]);
    assert_eq!(notify_mail(&import).jails, only(&["sshd"]));
    assert!(
        unwrapped(&import.toml).contains("# myapp mailed too but is written commented out"),
        "{}",
        import.toml
    );
    // every jail that mailed held back: the section is written commented out too
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\naction = %(action_mwl)s\n[myapp]\nenabled = true\nlogpath = /opt/myapp/app.log\n",
    );
    let import = ok(&tree);
    assert!(import.toml.contains("\n# [notify.mail]\n"), "{}", import.toml);
    assert_eq!(load(&import).notify.mail, None);
}

#[test]
fn a_recipient_banjo_notify_cannot_take_is_written_commented_out() {
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\naction = %(action_mwl)s\ndestemail = <admin>\n[sshd]\nenabled = true\n",
    );
    let import = ok(&tree);
    assert!(
        unwrapped(&import.toml).contains("# not imported: dest \"<admin>\": expected a mail address"),
        "{}",
        import.toml
    );
    assert_eq!(load(&import).notify.mail, None);
    assert!(
        import
            .report
            .admin
            .iter()
            .any(|l| l.starts_with("[notify.mail] written commented out: dest \"<admin>\"")),
        "{:?}",
        import.report.admin
    );
}

#[test]
fn other_actions_are_listed_as_not_carried() {
    let tree = stock().with(
        "jail.local",
        "[sshd]\nenabled = true\naction = %(action_)s\n         abuseipdb[abuseipdb_apikey=x]\n",
    );
    let import = ok(&tree);
    assert_eq!(import.report.not_carried, ["sshd: action abuseipdb"]);
    assert!(import.toml.contains("# not carried: action abuseipdb"));
}

#[test]
fn a_jail_that_only_mails_is_written_disabled() {
    let tree = stock().with(
        "jail.local",
        "[sshd]\nenabled = true\naction = sendmail-whois-lines\n",
    );
    let import = ok(&tree);
    let cfg = load(&import);
    assert!(cfg.jails.is_empty());
    assert_eq!(cfg.disabled_jails, ["sshd"]);
    assert!(import.report.admin.iter().any(|l| l.contains("did not ban")));
    // its mails are carried for when it is enabled
    assert_eq!(notify_mail(&import).jails, only(&["sshd"]));
}

#[test]
fn the_admins_own_filter_is_carried_inline() {
    let tree = stock().with(
        "jail.local",
        "[myapp]\nenabled = true\nlogpath = /var/log/nginx/myapp.log\nport = http,https\n",
    );
    let import = ok(&tree);
    assert!(import.toml.contains("[filters.myapp]"), "{}", import.toml);
    let cfg = load(&import);
    let jail = cfg.jail("myapp").unwrap();
    assert_eq!(jail.filter_def.failregex, ["^login failed from <HOST>$"]);
    let journal: Vec<String> = jail.journal.iter().map(|m| m.to_string()).collect();
    assert_eq!(journal, ["_SYSTEMD_UNIT=nginx.service"]);
}

#[test]
fn the_admins_file_over_a_builtin_name_says_they_differ() {
    let tree = stock()
        .with(
            "filter.d/sshd.conf",
            "[Definition]\nfailregex = ^my own sshd rule <HOST>$\n",
        )
        .with("jail.local", "[sshd]\nenabled = true\n");
    let import = ok(&tree);
    assert!(
        import.toml.contains("differs from banjo's built-in sshd"),
        "{}",
        import.toml
    );
    let cfg = load(&import);
    assert_eq!(
        cfg.jail("sshd").unwrap().filter_def.failregex,
        ["^my own sshd rule <HOST>$"]
    );
}

#[test]
fn a_stock_filter_is_replaced_by_the_builtin() {
    let text = "[Definition]\nfailregex = ^stock <HOST>$\n";
    let tree = stock()
        .with("filter.d/sshd.conf", text)
        .with("jail.local", "[sshd]\nenabled = true\n");
    let digest = {
        use md5::{Digest, Md5};
        Md5::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let conffiles = format!(" /etc/fail2ban/filter.d/sshd.conf {digest}\n");
    let stock_files = Stock::default().with_conffiles(&conffiles);
    let import = import(&tree, Path::new("/f2b"), &stock_files).unwrap_or_else(|_| panic!());
    assert!(import.toml.contains("filter = \"sshd\"\n"), "{}", import.toml);
    assert!(!import.toml.contains("[filters."));
    assert!(import.report.changed[0].contains("stock sshd.conf"));
}

#[test]
fn jail_failregex_extends_the_filter_through_known() {
    let tree = stock().with(
        "jail.local",
        "[myapp]\nenabled = true\nlogpath = /var/log/nginx/a.log\n\
         failregex = %(known/failregex)s\n            ^second rule <HOST>$\n",
    );
    let cfg = load(&ok(&tree));
    assert_eq!(
        cfg.jail("myapp").unwrap().filter_def.failregex,
        ["^login failed from <HOST>$", "^second rule <HOST>$"]
    );
}

#[test]
fn times_and_the_increment_family() {
    let tree = stock().with(
        "jail.local",
        "[DEFAULT]\nbantime.increment = true\nbantime.factor = 2\nbantime.multipliers = 1 5 30\n\
         bantime.maxtime = 5w\nbantime.rndtime = 10m\nbantime.overalljails = true\n\
         [sshd]\nenabled = true\nbantime = 1 day 12 hours\nfindtime = 86400\nmaxretry = 3\n",
    );
    let cfg = load(&ok(&tree));
    let sshd = cfg.jail("sshd").unwrap();
    assert_eq!(sshd.bantime.duration().unwrap().as_secs(), 129_600);
    assert_eq!(sshd.findtime.as_secs(), 86_400);
    let inc = sshd.increment.as_ref().unwrap();
    assert_eq!(inc.factor, 2.0);
    assert_eq!(inc.multipliers, [1, 5, 30]);
    assert_eq!(inc.maxtime.unwrap().as_secs(), 5 * 604_800);
    assert_eq!(inc.rndtime.as_secs(), 600);
    assert!(inc.overalljails);
}

#[test]
fn multilog_current_becomes_a_pipe_jail() {
    let tree = stock()
        .with(
            "filter.d/qmail-smtp.conf",
            "[Definition]\nfailregex = ^x <HOST>$\n",
        )
        .with(
            "jail.local",
            "[qmail-smtp]\nenabled = true\nlogpath = /var/log/qmail/smtpd/current\nport = 25\n",
        );
    let import = ok(&tree);
    let cfg = load(&import);
    let jail = cfg.jail("qmail-smtp").unwrap();
    assert_eq!(jail.multilog.as_ref().unwrap().to_string(), "qmail-smtpd");
    assert!(import.toml.contains("ListenFIFO=/run/banjo/qmail-smtpd.fifo"));
}

#[test]
fn an_unknown_logpath_is_written_commented_out() {
    let tree = stock().with(
        "jail.local",
        "[myapp]\nenabled = true\nlogpath = /opt/myapp/app.log\n",
    );
    let import = ok(&tree);
    assert!(
        import
            .toml
            .contains("# not imported: fail2ban read /opt/myapp/app.log"),
        "{}",
        import.toml
    );
    assert!(import.toml.contains("# [jails.myapp]"));
    assert_eq!(import.report.held_back, ["myapp"]);
    let cfg = crate::config::from_toml(Path::new("x.toml"), &import.toml).unwrap();
    assert!(cfg.jails.is_empty());
}

#[test]
fn the_same_directory_gives_the_same_bytes() {
    let tree = stock().with(
        "jail.local",
        "[sshd]\nenabled = true\n[myapp]\nenabled = true\nlogpath = /var/log/nginx/a\n",
    );
    assert_eq!(ok(&tree).toml, ok(&tree).toml);
}

// --- refused input: the error names the file, the line and the key; nothing is imported.

#[test]
fn no_section_header_is_refused_with_file_and_line() {
    let tree = stock().with(
        "jail.local",
        "# my overrides\nbantime = 1h\n[sshd]\nenabled = true\n",
    );
    let e = errors(&tree);
    assert!(
        e.contains("/f2b/jail.local:2: no section header before `bantime = 1h`"),
        "{e}"
    );
    assert!(e.contains("[DEFAULT]"), "{e}");
}

#[test]
fn unknown_filter_is_refused_with_file_line_and_key() {
    let tree = stock().with("jail.local", "[sshd]\nenabled = true\nfilter = sshdd\n");
    let e = errors(&tree);
    assert!(
        e.contains("/f2b/jail.local:3: [sshd] filter: unknown filter \"sshdd\""),
        "{e}"
    );
}

#[test]
fn bad_interpolation_is_refused_with_file_line_and_key() {
    let tree = stock().with("jail.local", "[sshd]\nenabled = true\nlogpath = %(nowhere)s\n");
    let e = errors(&tree);
    assert!(
        e.contains("/f2b/jail.local:3: [sshd] logpath: %(nowhere)s is not defined"),
        "{e}"
    );
    let tree = stock().with("jail.local", "[sshd]\nenabled = true\nbantime = 50%\n");
    let e = errors(&tree);
    assert!(e.contains("/f2b/jail.local:3: [sshd] bantime"), "{e}");
}

#[test]
fn a_reference_loop_is_refused_with_file_line_and_key() {
    let tree = stock().with(
        "jail.local",
        "[sshd]\nenabled = true\nport = %(a)s\na = %(b)s\nb = %(port)s\n",
    );
    let e = errors(&tree);
    // fail2ban meets the loop reading `action` (%(action_)s hands it port="%(port)s")
    assert!(
        e.starts_with("/f2b/jail.conf:22: [DEFAULT] action: its %(…)s references loop"),
        "{e}"
    );
    assert!(
        e.contains("/f2b/jail.local:4: [sshd] a: %(b)s refers back to itself"),
        "{e}"
    );
}

#[test]
fn a_disabled_jails_other_keys_are_not_read() {
    // fail2ban reads only enabled, backend and filter of a jail that is not enabled
    let tree = stock().with("jail.local", "[old]\nenabled = false\nlogpath = %(nowhere)s\n");
    assert!(run(&tree).is_ok());
}

#[test]
fn bad_values_are_refused() {
    let tree = stock().with("jail.local", "[sshd]\nenabled = true\nmaxretry = many\n");
    let e = errors(&tree);
    assert!(e.contains("/f2b/jail.local:3: [sshd] maxretry"), "{e}");
    let tree = stock().with("jail.local", "[sshd]\nenabled = true\naction = nosuch[a=1]\n");
    let e = errors(&tree);
    assert!(
        e.contains("[sshd] action: jail [sshd] uses action \"nosuch\""),
        "{e}"
    );
}

#[test]
fn no_jail_conf_is_not_a_fail2ban_directory() {
    let e = errors(&Mem::new(&[("fail2ban.conf", "[Definition]\n")]));
    assert!(e.contains("neither jail.conf nor jail.local"), "{e}");
}
