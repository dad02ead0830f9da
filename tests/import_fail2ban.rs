//! `banjo import-fail2ban` on real fail2ban directories: Debian's fail2ban package (downloaded
//! once with `apt-get download fail2ban` and unpacked into target/fail2ban-deb/) with the mail
//! server guide's files (tests/data/fail2ban-seed/, the shared fixture) on top; `banjo check` and
//! `banjo test-filter` on what it writes; refused input.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use banjo::config::{self, Config, Hook};

fn banjo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run banjo")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Debian's /etc/fail2ban, unpacked from the package into target/ (fetched once).
fn debian_etc() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fail2ban-deb");
        let etc = root.join("root/etc/fail2ban");
        if etc.join("jail.conf").is_file() {
            return etc;
        }
        std::fs::create_dir_all(&root).unwrap();
        let status = Command::new("timeout")
            .args(["300", "apt-get", "download", "fail2ban"])
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .expect("apt-get");
        assert!(
            status.success(),
            "apt-get download fail2ban failed (run apt-get update?)"
        );
        let deb = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("the downloaded .deb");
        let status = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(root.join("root"))
            .status()
            .expect("dpkg-deb");
        assert!(status.success());
        etc
    })
}

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fail2ban-seed")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Debian's stock files with the guide's on top, as the guide's readers have them.
fn guide_dir(bridged: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("fail2ban");
    copy_tree(debian_etc(), &etc);
    for f in ["jail.local", "fail2ban.local"] {
        std::fs::copy(seed().join(f), etc.join(f)).unwrap();
    }
    let common = if bridged {
        "nftables-common.local.bridged"
    } else {
        "nftables-common.local"
    };
    let action_d = seed().join("action.d");
    std::fs::copy(action_d.join(common), etc.join("action.d/nftables-common.local")).unwrap();
    std::fs::copy(
        action_d.join("sendmail-common.local"),
        etc.join("action.d/sendmail-common.local"),
    )
    .unwrap();
    dir
}

/// Runs the import into DIR/50-fail2ban.toml and loads it with banjo's config reader.
fn import(dir: &Path) -> (PathBuf, String, Config) {
    let out = dir.join("50-fail2ban.toml");
    let o = banjo(&[
        "import-fail2ban",
        dir.join("fail2ban").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "import failed: {}", stderr(&o));
    let cfg = config::load_with_env(&out, std::iter::empty()).unwrap_or_else(|e| panic!("{e}"));
    (out, stderr(&o), cfg)
}

const GUIDE_JAILS: [&str; 7] = [
    "qmail-smtp",
    "qmail-submission",
    "vpopmail",
    "qmailadmin",
    "roundcube-auth",
    "dovecot-pop3",
    "dovecot-imap",
];

#[test]
fn the_guides_setup_imports_to_the_repositorys_jails() {
    let dir = guide_dir(false);
    let (out, report, imported) = import(dir.path());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let repo = config::load_with_env(&repo, std::iter::empty()).unwrap();
    for name in GUIDE_JAILS {
        let a = imported
            .jail(name)
            .unwrap_or_else(|| panic!("{name} not imported"));
        let b = repo.jail(name).unwrap();
        assert_eq!(a.ports, b.ports, "{name} ports");
        assert_eq!(a.protocols, b.protocols, "{name} protocols");
        assert_eq!(
            (a.maxretry, a.findtime, a.bantime),
            (b.maxretry, b.findtime, b.bantime),
            "{name} times"
        );
        assert_eq!(a.filter, b.filter, "{name} filter");
        assert_eq!(a.filter_def, b.filter_def, "{name} filter");
        assert_eq!(a.journal, b.journal, "{name} journal");
        assert_eq!(a.multilog, b.multilog, "{name} multilog");
        assert_eq!(a.hook, Hook::Input, "{name}");
    }
    // Debian's jail.d/defaults-debian.conf enables sshd: carried with jail.conf's values
    let sshd = imported.jail("sshd").unwrap();
    assert_eq!(sshd.journal, repo.jail("sshd").unwrap().journal);
    assert_eq!(sshd.findtime.as_secs(), 600);
    assert_eq!(imported.jails.len(), 8);
    // the report says what the admin must do
    assert!(
        report.contains("carried: dovecot-imap, dovecot-pop3, qmail-smtp"),
        "{report}"
    );
    assert!(
        report.contains("qmailadmin: /var/log/qma-auth.log: banjo reads no files"),
        "{report}"
    );
    assert!(
        report.contains("sendmail-whois-lines (mail to postmaster@mydomain.tld)"),
        "{report}"
    );
    // the guide's mails (sendmail-whois-lines, dest and sender in sendmail-common.local) as
    // banjo-notify's [notify.mail], with the recipient and sender of config.toml's
    let mail = imported.notify.mail.as_ref().expect("[notify.mail] imported");
    let repo_mail = repo.notify.mail.as_ref().unwrap();
    assert_eq!((&mail.dest, &mail.sender), (&repo_mail.dest, &repo_mail.sender));
    assert_eq!(
        mail.jails,
        config::notify::Jails::Only(GUIDE_JAILS.iter().map(|&j| j.into()).collect())
    );
    assert!(mail.whois);
    assert_eq!(mail.events, [config::NotifyEvent::Ban]);
    assert!(
        report.contains("sendmail-whois-lines: its mails when a jail starts or stops"),
        "{report}"
    );
    let toml = std::fs::read_to_string(&out).unwrap();
    assert!(toml.contains("tail -F /var/log/qma-auth.log | systemd-cat -t qmailadmin"));
    assert!(toml.contains("ListenFIFO=/run/banjo/qmail-smtpd.fifo"));
    assert!(toml.contains("\nsender_name = \"Fail2Ban\"\n"), "{toml}");
    // banjo check accepts it
    let o = banjo(&["check", "-c", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn the_bridged_variant_bans_in_the_forward_hook() {
    let dir = guide_dir(true);
    let (_, _, imported) = import(dir.path());
    for name in GUIDE_JAILS {
        assert_eq!(imported.jail(name).unwrap().hook, Hook::Forward, "{name}");
    }
    // the bridged .local replaces the protocol override: tcp, as nftables.conf says
    assert_eq!(
        imported.jail("qmail-smtp").unwrap().protocols,
        [config::Protocol::Tcp]
    );
    assert_eq!(imported.jail("sshd").unwrap().hook, Hook::Input);
}

#[test]
fn running_it_twice_gives_the_same_bytes() {
    let dir = guide_dir(false);
    let (out, _, _) = import(dir.path());
    let first = std::fs::read(&out).unwrap();
    let o = banjo(&["import-fail2ban", dir.path().join("fail2ban").to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(o.stdout, first);
}

#[test]
fn debians_stock_jail_conf_gives_a_journal_sshd_jail_that_matches() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(debian_etc(), &dir.path().join("fail2ban"));
    let (out, report, imported) = import(dir.path());
    assert_eq!(imported.jails.len(), 1, "{report}");
    let sshd = imported.jail("sshd").unwrap();
    // the built-in sshd filter's journal match, as the repository's sshd jail reads it
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let repo = config::load_with_env(&repo, std::iter::empty()).unwrap();
    assert_eq!(sshd.journal, repo.jail("sshd").unwrap().journal);
    assert_eq!(sshd.journal_from, config::JournalFrom::Filter);
    assert_eq!(sshd.filter, "sshd");
    assert_eq!(sshd.ports.iter().map(|p| p.low).collect::<Vec<_>>(), [22]);
    assert!(
        report.contains("stock sshd.conf replaced by banjo's built-in"),
        "{report}"
    );
    let o = banjo(&["check", "-c", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // the jail's filter through test-filter, as the admin would try it
    let line = "Failed password for invalid user admin from 192.0.2.1 port 50000 ssh2\n";
    let json = test_filter(&out, &sshd.filter, line);
    assert_eq!(json["matched"], 1, "{json}");
}

/// `banjo -c CONFIG test-filter FILTER -` on one line.
fn test_filter(config: &Path, filter: &str, line: &str) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args([
            "-c",
            config.to_str().unwrap(),
            "test-filter",
            "--json",
            filter,
            "-",
        ])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(line.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn test_filter_works_on_each_imported_jails_filter() {
    let dir = guide_dir(false);
    let (out, _, imported) = import(dir.path());
    // the guide's sample lines (the shared seed-filters.md), one per filter
    let samples = [
        (
            "qmail-smtp",
            "@4000000059f5195c211f2234 qlogenvelope: result=rejected code=553 reason=rblreject \
             detail=b.barracudacentral.org helo=x mailfrom=a@b.xy rcptto=c@d.xy relay=no rcpthosts=yes \
             size= authuser= authtype= encrypted= sslverified=no localip=10.0.0.4 localport=25 \
             remoteip=95.140.112.191 remoteport=15630 remotehost= qp= pid=20003",
        ),
        (
            "vpopmail",
            "Jul 10 12:05:53 qmail vpopmail[3076]: vchkpw-submission: vpopmail user not found \
             helpdesk@yourdomain.xy:191.233.70.140",
        ),
        (
            "qmailadmin",
            "2015/05/27 15:45:58 user:postmaster@domain.xy ip:1.2.3.4 auth:failed [@domain.xy]",
        ),
        (
            "roundcube-auth",
            "[12-Jul-2022 08:56:39 +0200]: <3lq5onb8> Failed login for postmaster from 10.0.0.2 \
             (X-Forwarded-For: 2.42.23.100) in session 3lq5onb87b7oqnc7 (error: 1)",
        ),
        (
            "dovecot",
            "Jul 22 23:34:04 auth-worker(27283): Info: sql(adminww@yourdomain.xy:1.2.3.4): unknown user",
        ),
    ];
    for jail in &imported.jails {
        let (_, line) = samples
            .iter()
            .find(|(f, _)| *f == jail.filter)
            .unwrap_or_else(|| {
                assert_eq!(jail.name, "sshd");
                &("sshd", "sshd[1]: Invalid user x from 192.0.2.9 port 4")
            });
        let json = test_filter(&out, &jail.filter, &format!("{line}\n"));
        assert_eq!(json["matched"], 1, "{}: {json}", jail.name);
    }
}

/// A guide directory with `jail.local` replaced by `text`: the import must fail, name the
/// place, and write nothing.
fn refused(text: &str, expect: &[&str]) {
    let dir = guide_dir(false);
    std::fs::write(dir.path().join("fail2ban/jail.local"), text).unwrap();
    let out = dir.path().join("out.toml");
    let o = banjo(&[
        "import-fail2ban",
        dir.path().join("fail2ban").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(!o.status.success(), "accepted: {text}");
    for e in expect {
        let e = e.replace("DIR", dir.path().join("fail2ban").to_str().unwrap());
        assert!(err.contains(&e), "missing {e:?} in:\n{err}");
    }
    assert!(err.contains("nothing written"), "{err}");
    assert!(!out.exists(), "a file was written");
}

#[test]
fn an_override_without_a_section_header_is_refused() {
    // what the guide's readers hit: "File contains no section headers"
    refused(
        "bantime = 1d\n[qmail-smtp]\nenabled = true\n",
        &["DIR/jail.local:1: no section header before `bantime = 1d`"],
    );
}

#[test]
fn an_unknown_filter_is_refused() {
    refused(
        "[qmail]\nenabled = true\nfilter = qmail-smpt\nlogpath = /var/log/qmail/smtpd/current\n",
        &["DIR/jail.local:3: [qmail] filter: unknown filter \"qmail-smpt\""],
    );
}

#[test]
fn bad_interpolation_is_refused() {
    refused(
        "[dovecot]\nenabled = true\nlogpath = %(dovecot_logg)s\n",
        &["DIR/jail.local:3: [dovecot] logpath: %(dovecot_logg)s is not defined"],
    );
}

#[test]
fn a_loop_in_references_is_refused() {
    refused(
        "[DEFAULT]\nlogdir = %(logpath)s/x\n[dovecot]\nenabled = true\nlogpath = %(logdir)s\n",
        &[
            "DIR/jail.local:5: [dovecot] logpath: its %(…)s references loop",
            "refers back to itself",
        ],
    );
}
