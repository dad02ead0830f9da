//! Where an imported jail reads: fail2ban's `backend = systemd` + `journalmatch` become
//! `journal = [...]`; a `logpath` becomes the journal match of the service that writes it where
//! banjo knows that service, with what the admin must change so its lines reach the journal;
//! multilog's `…/current` becomes a `multilog =` pipe with its socket unit and `log/run`.

/// A banjo source for one jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Journal {
        matches: Vec<String>,
        /// Comment lines: where the matches come from and what to set up.
        how: Vec<String>,
        /// One line for the report when the admin must change something, e.g. a service's
        /// log settings.
        todo: Option<String>,
    },
    Multilog {
        fd: String,
        path: String,
    },
    /// Written commented out, with the reason.
    Unmapped {
        reason: String,
    },
}

/// A service banjo knows: which filters and log files are its, and its journal match.
struct Service {
    /// Filter names (a trailing `*`: a prefix).
    filters: &'static [&'static str],
    /// Log paths that are its own files (a prefix, or a file name when no `/`).
    paths: &'static [&'static str],
    journal: &'static [&'static str],
    /// When it writes a file of its own: how to make it log to syslog/the journal ({path}).
    recipe: &'static [&'static str],
}

const SERVICES: &[Service] = &[
    Service {
        filters: &["sshd"],
        paths: &[],
        journal: &["_SYSTEMD_UNIT=ssh.service", "_SYSTEMD_UNIT=sshd.service"],
        recipe: &[],
    },
    Service {
        filters: &["dropbear"],
        paths: &[],
        journal: &["_SYSTEMD_UNIT=dropbear.service"],
        recipe: &[],
    },
    Service {
        filters: &["dovecot", "sieve"],
        paths: &["/var/log/dovecot"],
        journal: &["_SYSTEMD_UNIT=dovecot.service"],
        recipe: &[
            "dovecot writes {path} itself because dovecot.conf sets log_path (or \
             info_log_path): remove those settings and dovecot logs to syslog, which the journal \
             keeps under dovecot.service.",
        ],
    },
    Service {
        filters: &["postfix"],
        paths: &[],
        journal: &["_SYSTEMD_UNIT=postfix@-.service", "_SYSTEMD_UNIT=postfix.service"],
        recipe: &[],
    },
    Service {
        filters: &["exim", "exim-spam"],
        paths: &["/var/log/exim"],
        journal: &["_SYSTEMD_UNIT=exim4.service", "_SYSTEMD_UNIT=exim.service"],
        recipe: &[
            "exim writes {path} itself. Make it log to syslog: `log_file_path = syslog` \
             (and `syslog_timestamp = false`) in exim's main configuration (Debian: a file in \
             /etc/exim4/conf.d/main/, then update-exim4.conf and a restart).",
        ],
    },
    Service {
        filters: &["nginx-*"],
        paths: &["/var/log/nginx/"],
        journal: &["_SYSTEMD_UNIT=nginx.service"],
        recipe: &[
            "nginx writes {path} itself. Send that log to syslog, which the journal keeps \
             under nginx.service: `error_log syslog:server=unix:/dev/log;` (an access log: \
             `access_log syslog:server=unix:/dev/log;`) in nginx.conf.",
        ],
    },
    Service {
        filters: &["apache-*"],
        paths: &["/var/log/apache2/", "/var/log/httpd/"],
        journal: &["_SYSTEMD_UNIT=apache2.service", "_SYSTEMD_UNIT=httpd.service"],
        recipe: &[
            "Apache writes {path} itself. Send that log to syslog, which the journal keeps \
             under the unit: `ErrorLog syslog:authpriv` (an access log: \
             `CustomLog \"|/usr/bin/logger -t apache2 -p authpriv.info\" combined`).",
        ],
    },
    Service {
        filters: &["vpopmail"],
        paths: &[],
        journal: &["SYSLOG_IDENTIFIER=vpopmail"],
        recipe: &[],
    },
    Service {
        filters: &["roundcube-auth"],
        paths: &["roundcube"],
        journal: &["SYSLOG_IDENTIFIER=roundcube"],
        recipe: &[
            "Roundcube writes {path} itself. Make it log to syslog instead, in \
             config/config.inc.php:",
            "  $config['log_driver'] = 'syslog';",
            "  $config['syslog_id'] = 'roundcube';   // the default",
            "  $config['log_logins'] = true;         // failed logins are only logged with this on",
            "Its lines then reach the journal as SYSLOG_IDENTIFIER=roundcube.",
        ],
    },
    Service {
        filters: &["qmailadmin"],
        paths: &["qma-auth.log"],
        journal: &["SYSLOG_IDENTIFIER=qmailadmin"],
        recipe: &[
            "qmailadmin writes {path} itself, and banjo reads no log files. Get those lines into \
             the journal under the identifier \"qmailadmin\": build or patch qmailadmin to log \
             through syslog(3) with that ident, or, until then, run",
            "  tail -F {path} | systemd-cat -t qmailadmin",
            "as a small service.",
        ],
    },
    Service {
        filters: &["recidive"],
        paths: &["fail2ban.log"],
        journal: &["_SYSTEMD_UNIT=banjo.service", "SYSLOG_IDENTIFIER=banjo"],
        recipe: &[],
    },
];

/// Files syslog writes for many services: the filter, not the file, says which service.
const SYSLOG_FILES: &[&str] = &[
    "/var/log/auth.log",
    "/var/log/secure",
    "/var/log/mail.log",
    "/var/log/mail.warn",
    "/var/log/mail.err",
    "/var/log/mail.info",
    "/var/log/maillog",
    "/var/log/syslog",
    "/var/log/messages",
    "/var/log/daemon.log",
    "/var/log/user.log",
];

/// What the importer knows of a jail when it picks the source.
pub struct Input<'a> {
    /// The filter's name without parameters.
    pub filter: &'a str,
    pub backend: &'a str,
    /// `logpath`, one path (or glob) a line, fail2ban's ` head`/` tail` suffix removed.
    pub logpaths: &'a [String],
    /// fail2ban's journalmatch for the jail (the jail's own, else its filter's), as words.
    pub journalmatch: &'a [String],
    /// The journalmatch of the filter banjo will use (its built-in, or the admin's file).
    pub filter_journalmatch: &'a [String],
}

pub fn pick(input: &Input) -> Source {
    if input.backend.trim().starts_with("systemd") {
        return systemd(input);
    }
    let paths: Vec<&str> = input
        .logpaths
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if paths.is_empty() {
        return Source::Unmapped {
            reason: format!(
                "fail2ban's jail has no logpath and backend = {}: nothing to read",
                input.backend.trim()
            ),
        };
    }
    let multilog: Vec<&&str> = paths.iter().filter(|p| p.ends_with("/current")).collect();
    if !multilog.is_empty() {
        if paths.len() > 1 {
            return Source::Unmapped {
                reason: format!(
                    "logpath names {} logs, among them multilog's {}: a banjo jail reads one \
                     multilog pipe and nothing else; make one jail per log",
                    paths.len(),
                    multilog[0]
                ),
            };
        }
        return Source::Multilog {
            fd: multilog_fd_name(paths[0]),
            path: paths[0].to_string(),
        };
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut how = Vec::new();
    let mut todo: Vec<String> = Vec::new();
    for path in &paths {
        let Some((service, own_file)) = service_for(input.filter, path) else {
            if !input.filter_journalmatch.is_empty() {
                let group = input.filter_journalmatch.to_vec();
                how.push(format!(
                    "{path}: the filter's journalmatch says where its lines are in the journal"
                ));
                if !groups.contains(&group) {
                    groups.push(group);
                }
                continue;
            }
            return Source::Unmapped {
                reason: format!(
                    "fail2ban read {path}; banjo reads the journal and does not know which \
                     service writes that file: set journal = [\"_SYSTEMD_UNIT=NAME.service\"] \
                     (or [\"SYSLOG_IDENTIFIER=NAME\"]) for it"
                ),
            };
        };
        // The filter's journalmatch, when it has one, says best where its lines are: banjo's
        // built-in sshd and dovecot also take lines journald stored without _SYSTEMD_UNIT.
        let group: Vec<String> = match input.filter_journalmatch.is_empty() {
            true => service.journal.iter().map(|s| s.to_string()).collect(),
            false => input.filter_journalmatch.to_vec(),
        };
        if own_file && !service.recipe.is_empty() {
            how.extend(service.recipe.iter().map(|l| l.replace("{path}", path)));
            todo.push(format!(
                "{}: banjo reads no files; send those lines to the journal ({})",
                path,
                service.journal.join(" ")
            ));
        } else if service.filters.contains(&"recidive") {
            how.push(format!(
                "fail2ban's recidive counted fail2ban's bans in {path}; banjo's counts banjo's \
                 own ban records in the journal"
            ));
        } else {
            how.push(format!(
                "fail2ban read {path}; the journal has the same lines: {}",
                group.join(" ")
            ));
        }
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    let mut matches = Vec::new();
    for group in groups {
        if !matches.is_empty() {
            matches.push("+".to_string());
        }
        matches.extend(group);
    }
    Source::Journal {
        matches,
        how,
        todo: (!todo.is_empty()).then(|| todo.join("; ")),
    }
}

fn systemd(input: &Input) -> Source {
    if !input.journalmatch.is_empty() {
        return Source::Journal {
            matches: input.journalmatch.to_vec(),
            how: vec!["fail2ban's journalmatch (backend = systemd)".to_string()],
            todo: None,
        };
    }
    if let Some(service) = SERVICES.iter().find(|s| names_filter(s, input.filter)) {
        return Source::Journal {
            matches: service.journal.iter().map(|s| s.to_string()).collect(),
            how: vec![format!(
                "fail2ban read the whole journal (backend = systemd without journalmatch); \
                 banjo reads {}'s entries only",
                input.filter
            )],
            todo: None,
        };
    }
    Source::Unmapped {
        reason: "backend = systemd without a journalmatch: fail2ban read the whole journal, \
                 banjo never does; set journal = [\"_SYSTEMD_UNIT=NAME.service\"]"
            .to_string(),
    }
}

/// The service whose lines `path` holds for a jail using `filter`, and whether `path` is that
/// service's own file (rather than a syslog file).
fn service_for(filter: &str, path: &str) -> Option<(&'static Service, bool)> {
    let syslog = SYSLOG_FILES.contains(&path);
    let own = |s: &Service| {
        s.paths.iter().any(|p| {
            if p.contains('/') {
                path.starts_with(p)
            } else {
                path.rsplit('/').next() == Some(p) || path.contains(&format!("/{p}/"))
            }
        })
    };
    if let Some(s) = SERVICES.iter().find(|s| names_filter(s, filter)) {
        return Some((s, !syslog));
    }
    SERVICES.iter().find(|s| own(s)).map(|s| (s, true))
}

fn names_filter(service: &Service, filter: &str) -> bool {
    service.filters.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => filter.starts_with(prefix),
        None => *f == filter,
    })
}

/// The fd name for multilog's `…/current`: the log directory's path without the usual
/// `/var/log`, `/service`, `log` and `main` parts (`/var/log/qmail/smtpd/current` →
/// `qmail-smtpd`, `/service/qmail/log/main/current` → `qmail`).
pub fn multilog_fd_name(path: &str) -> String {
    let dir = path.strip_suffix("/current").unwrap_or(path);
    let parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && !matches!(*p, "var" | "log" | "service" | "main" | "etc"))
        .collect();
    let name: String = parts
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "multilog".to_string()
    } else {
        name
    }
}

/// The comment lines that set up a multilog pipe for `fd`, read by multilog into `path`.
pub fn multilog_recipe(fd: &str, path: &str) -> Vec<String> {
    let dir = path.strip_suffix("/current").unwrap_or(path);
    vec![
        format!(
            "multilog writes {path}; banjo reads the same lines from a FIFO that a socket unit \
             owns and systemd hands to banjo under the name \"{fd}\":"
        ),
        format!("  /etc/systemd/system/banjo-{fd}.socket (like units/banjo-qmail-smtpd.socket):"),
        "    [Socket]".to_string(),
        format!("    ListenFIFO=/run/banjo/{fd}.fifo"),
        format!("    FileDescriptorName={fd}"),
        "    Service=banjo.service".to_string(),
        "    [Install]".to_string(),
        "    WantedBy=sockets.target".to_string(),
        format!("  and `systemctl enable --now banjo-{fd}.socket`; banjo.service needs it in"),
        format!("  Sockets= (a drop-in: Sockets=banjo.socket banjo-{fd}.socket)."),
        format!("  The log/run script that runs multilog for {dir} copies each line into the"),
        "  FIFO:".to_string(),
        format!(
            "    exec setuidgid qmaill sh -c 'tai64n | tee -a /run/banjo/{fd}.fifo | multilog s16777215 n10 {dir}'"
        ),
        "  (keep its own multilog options but `t`: tai64n stamps each line before the tee).".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(filter: &'a str, backend: &'a str, logpaths: &'a [String]) -> Input<'a> {
        Input {
            filter,
            backend,
            logpaths,
            journalmatch: &[],
            filter_journalmatch: &[],
        }
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn multilog_current_becomes_a_named_pipe() {
        let p = paths(&["/var/log/qmail/smtpd/current"]);
        assert_eq!(
            pick(&input("qmail-smtp", "auto", &p)),
            Source::Multilog {
                fd: "qmail-smtpd".into(),
                path: "/var/log/qmail/smtpd/current".into()
            }
        );
        assert_eq!(multilog_fd_name("/service/qmail/log/main/current"), "qmail");
        assert_eq!(
            multilog_fd_name("/var/log/qmail/submission/current"),
            "qmail-submission"
        );
    }

    #[test]
    fn syslog_file_is_mapped_by_the_filter() {
        let p = paths(&["/var/log/maillog"]);
        let Source::Journal { matches, todo, .. } = pick(&input("vpopmail", "auto", &p)) else {
            panic!()
        };
        assert_eq!(matches, ["SYSLOG_IDENTIFIER=vpopmail"]);
        assert_eq!(todo, None);
        let p = paths(&["/var/log/auth.log"]);
        let Source::Journal { matches, .. } = pick(&input("sshd", "auto", &p)) else {
            panic!()
        };
        assert_eq!(
            matches,
            ["_SYSTEMD_UNIT=ssh.service", "_SYSTEMD_UNIT=sshd.service"]
        );
    }

    #[test]
    fn a_services_own_file_comes_with_what_to_change() {
        let p = paths(&["/var/log/qma-auth.log"]);
        let Source::Journal { matches, how, todo } = pick(&input("qmailadmin", "auto", &p)) else {
            panic!()
        };
        assert_eq!(matches, ["SYSLOG_IDENTIFIER=qmailadmin"]);
        assert!(
            how.iter()
                .any(|l| l.contains("tail -F /var/log/qma-auth.log | systemd-cat"))
        );
        assert!(
            todo.unwrap()
                .starts_with("/var/log/qma-auth.log: banjo reads no files")
        );
    }

    #[test]
    fn two_services_are_alternatives() {
        let p = paths(&["/var/log/nginx/access.log", "/var/log/apache2/access.log"]);
        let Source::Journal { matches, .. } = pick(&input("php-url-fopen", "auto", &p)) else {
            panic!()
        };
        assert_eq!(
            matches,
            [
                "_SYSTEMD_UNIT=nginx.service",
                "+",
                "_SYSTEMD_UNIT=apache2.service",
                "_SYSTEMD_UNIT=httpd.service"
            ]
        );
    }

    #[test]
    fn systemd_backend_keeps_the_journalmatch() {
        let jm = paths(&["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]);
        let source = pick(&Input {
            journalmatch: &jm,
            ..input("sshd", "systemd", &[])
        });
        let Source::Journal { matches, .. } = source else {
            panic!()
        };
        assert_eq!(matches, jm);
    }

    #[test]
    fn unknown_files_are_unmapped_with_the_reason() {
        let p = paths(&["/opt/app/log.txt"]);
        let Source::Unmapped { reason } = pick(&input("myapp", "auto", &p)) else {
            panic!()
        };
        assert!(reason.contains("/opt/app/log.txt"), "{reason}");
        let Source::Unmapped { reason } = pick(&input("myapp", "systemd", &[])) else {
            panic!()
        };
        assert!(reason.contains("whole journal"), "{reason}");
    }
}
