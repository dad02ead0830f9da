//! Where an imported jail reads: fail2ban's `backend = systemd` + `journalmatch` become
//! `journal = [...]`; a `logpath` becomes the journal match of the service that writes it where
//! banjo knows that service, with what the admin must change so its lines reach the journal;
//! multilog's `…/current` becomes a `multilog =` pipe with its socket unit and `log/run`.
//!
//! A service with a built-in filter has one journal match, that filter's `journalmatch`: the
//! import reads it from there, and a jail on that built-in gets no `journal =` line at all, so
//! it follows the built-in (as a hand-written jail does; see config::JournalFrom).

use crate::filter::builtin;
use crate::source::journal::Route;

/// A banjo source for one jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Journal {
        matches: Vec<String>,
        /// The matches are the `journalmatch` of the jail's built-in filter: no `journal =` is
        /// written, so the jail reads what the built-in says (hardened matches, later fixes).
        by_filter: bool,
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
    journal: Match,
    /// When it writes a file of its own: how to make it log to syslog/the journal ({path}).
    recipe: &'static [&'static str],
}

/// Where a service's journal match is written down.
enum Match {
    /// The `journalmatch` of banjo's built-in filter of this name (the one source of truth:
    /// the tests check that every built-in with a journalmatch is named here).
    Builtin(&'static str),
    /// For services no built-in filter names the journal of.
    Words(&'static [&'static str]),
}

impl Service {
    /// The service's journal match as words (`+` between alternatives).
    fn journal(&self) -> Vec<String> {
        match self.journal {
            Match::Builtin(name) => builtin::load(name, &[])
                .ok()
                .flatten()
                .map(|def| def.journalmatch)
                .unwrap_or_default(),
            Match::Words(words) => words.iter().map(|w| w.to_string()).collect(),
        }
    }
}

const SERVICES: &[Service] = &[
    Service {
        filters: &["sshd"],
        paths: &[],
        journal: Match::Builtin("sshd"),
        recipe: &[],
    },
    Service {
        filters: &["dropbear"],
        paths: &[],
        journal: Match::Words(&["_SYSTEMD_UNIT=dropbear.service"]),
        recipe: &[],
    },
    Service {
        filters: &["dovecot", "sieve"],
        paths: &["/var/log/dovecot"],
        journal: Match::Builtin("dovecot"),
        recipe: &[
            "dovecot writes {path} itself because dovecot.conf sets log_path (or \
             info_log_path): remove those settings and dovecot logs to syslog, which the journal \
             keeps under dovecot.service.",
        ],
    },
    Service {
        filters: &["postfix"],
        paths: &[],
        journal: Match::Builtin("postfix"),
        recipe: &[],
    },
    Service {
        filters: &["exim", "exim-spam"],
        paths: &["/var/log/exim"],
        journal: Match::Words(&["_SYSTEMD_UNIT=exim4.service", "_SYSTEMD_UNIT=exim.service"]),
        recipe: &[
            "exim writes {path} itself. Make it log to syslog: `log_file_path = syslog` \
             (and `syslog_timestamp = false`) in exim's main configuration (Debian: a file in \
             /etc/exim4/conf.d/main/, then update-exim4.conf and a restart).",
        ],
    },
    Service {
        filters: &["nginx-*"],
        paths: &["/var/log/nginx/"],
        journal: Match::Builtin("nginx-http-auth"),
        recipe: &[
            "nginx writes {path} itself. Send that log to syslog, which the journal keeps \
             under nginx.service: `error_log syslog:server=unix:/dev/log;` (an access log: \
             `access_log syslog:server=unix:/dev/log;`) in nginx.conf.",
        ],
    },
    Service {
        filters: &["apache-*"],
        paths: &["/var/log/apache2/", "/var/log/httpd/"],
        journal: Match::Words(&["_SYSTEMD_UNIT=apache2.service", "_SYSTEMD_UNIT=httpd.service"]),
        recipe: &[
            "Apache writes {path} itself. Send that log to syslog, which the journal keeps \
             under the unit: `ErrorLog syslog:authpriv` (an access log: \
             `CustomLog \"|/usr/bin/logger -t apache2 -p authpriv.info\" combined`).",
        ],
    },
    Service {
        filters: &["vpopmail"],
        paths: &[],
        journal: Match::Builtin("vpopmail"),
        recipe: &[],
    },
    Service {
        filters: &["roundcube-auth"],
        paths: &["roundcube"],
        journal: Match::Builtin("roundcube-auth"),
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
        // the built-in qmailadmin has no journalmatch: qmailadmin logs to a file of its own
        journal: Match::Words(&["SYSLOG_IDENTIFIER=qmailadmin"]),
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
        journal: Match::Builtin("recidive"),
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
    /// fail2ban's journalmatch written for the jail itself (or its [DEFAULT]), as words; empty
    /// when the jail takes its filter's.
    pub jail_journalmatch: &'a [String],
    /// The journalmatch of the filter banjo will use (its built-in, or the admin's file).
    pub filter_journalmatch: &'a [String],
    /// That filter is banjo's built-in: a jail that names no journal reads its journalmatch.
    pub builtin: bool,
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
        let group = service.journal();
        if own_file && !service.recipe.is_empty() {
            how.extend(service.recipe.iter().map(|l| l.replace("{path}", path)));
            todo.push(format!(
                "{}: banjo reads no files; send those lines to the journal ({})",
                path,
                expression(&group)
            ));
        } else if service.filters.contains(&"recidive") {
            how.push(format!(
                "fail2ban's recidive counted fail2ban's bans in {path}; banjo's counts banjo's \
                 own ban records in the journal"
            ));
        } else {
            how.push(format!(
                "fail2ban read {path}; banjo reads the same lines from the journal"
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
    let by_filter = input.builtin && matches == input.filter_journalmatch;
    Source::Journal {
        matches,
        by_filter,
        how,
        todo: (!todo.is_empty()).then(|| todo.join("; ")),
    }
}

fn systemd(input: &Input) -> Source {
    if !input.jail_journalmatch.is_empty() {
        return Source::Journal {
            matches: input.jail_journalmatch.to_vec(),
            by_filter: false,
            how: vec!["fail2ban's journalmatch of the jail (backend = systemd)".to_string()],
            todo: None,
        };
    }
    if !input.filter_journalmatch.is_empty() {
        let whose = if input.builtin {
            "banjo's built-in filter's"
        } else {
            "the filter's"
        };
        return Source::Journal {
            matches: input.filter_journalmatch.to_vec(),
            by_filter: input.builtin,
            how: vec![format!("backend = systemd: {whose} journalmatch")],
            todo: None,
        };
    }
    if let Some(service) = SERVICES.iter().find(|s| names_filter(s, input.filter)) {
        return Source::Journal {
            matches: service.journal(),
            by_filter: false,
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

/// Journal match words as an expression an admin reads (`A OR (B|C AND D)`), as `banjo check`
/// shows them.
pub fn expression(words: &[String]) -> String {
    Route::new(words).map_or_else(|_| words.join(" "), |route| route.to_string())
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
            jail_journalmatch: &[],
            filter_journalmatch: &[],
            builtin: false,
        }
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn builtin_journalmatch(name: &str) -> Vec<String> {
        builtin::load(name, &[]).unwrap().unwrap().journalmatch
    }

    #[test]
    fn every_builtin_journalmatch_is_the_match_of_its_service() {
        for name in builtin::names() {
            let journalmatch = builtin_journalmatch(name);
            if journalmatch.is_empty() {
                continue;
            }
            let service = SERVICES
                .iter()
                .find(|s| names_filter(s, name))
                .unwrap_or_else(|| panic!("no service names built-in {name}"));
            assert_eq!(service.journal(), journalmatch, "{name}");
        }
    }

    #[test]
    fn a_fixed_match_is_only_for_services_without_a_builtin_journalmatch() {
        for service in SERVICES {
            if let Match::Builtin(name) = service.journal {
                assert!(
                    !builtin_journalmatch(name).is_empty(),
                    "{name} has no journalmatch"
                );
                continue;
            }
            for name in builtin::names() {
                if names_filter(service, name) {
                    assert!(
                        builtin_journalmatch(name).is_empty(),
                        "{name}: take the built-in's journalmatch (Match::Builtin)"
                    );
                }
            }
        }
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
        assert_eq!(matches, builtin_journalmatch("sshd"));
        assert!(matches.contains(&"SYSLOG_IDENTIFIER=sshd-session".to_string()));
    }

    #[test]
    fn on_the_builtin_filter_the_jail_takes_the_builtins_match() {
        let sshd = builtin_journalmatch("sshd");
        let p = paths(&["/var/log/auth.log"]);
        let on = |builtin, backend| {
            pick(&Input {
                filter_journalmatch: &sshd,
                builtin,
                ..input("sshd", backend, &p)
            })
        };
        for backend in ["auto", "systemd"] {
            let Source::Journal {
                by_filter, matches, ..
            } = on(true, backend)
            else {
                panic!()
            };
            assert!(by_filter, "{backend}");
            assert_eq!(matches, sshd);
            // the admin's own sshd filter file with the same journalmatch: written out
            let Source::Journal { by_filter, .. } = on(false, backend) else {
                panic!()
            };
            assert!(!by_filter, "{backend}");
        }
        // the dovecot guide's own log file maps to the built-in's match too
        let dovecot = builtin_journalmatch("dovecot");
        let p = paths(&["/var/log/dovecot/dovecot.log"]);
        let source = pick(&Input {
            filter_journalmatch: &dovecot,
            builtin: true,
            ..input("dovecot", "auto", &p)
        });
        let Source::Journal { by_filter, todo, .. } = source else {
            panic!()
        };
        assert!(by_filter);
        assert!(todo.unwrap().contains("_SYSTEMD_UNIT=dovecot.service OR ("));
    }

    #[test]
    fn an_explicit_journalmatch_is_written_even_on_a_builtin() {
        let sshd = builtin_journalmatch("sshd");
        let jm = paths(&["_SYSTEMD_UNIT=sshd.service"]);
        let source = pick(&Input {
            jail_journalmatch: &jm,
            filter_journalmatch: &sshd,
            builtin: true,
            ..input("sshd", "systemd", &[])
        });
        let Source::Journal {
            by_filter, matches, ..
        } = source
        else {
            panic!()
        };
        assert!(!by_filter);
        assert_eq!(matches, jm);
    }

    #[test]
    fn a_services_own_file_comes_with_what_to_change() {
        let p = paths(&["/var/log/qma-auth.log"]);
        let Source::Journal {
            matches, how, todo, ..
        } = pick(&input("qmailadmin", "auto", &p))
        else {
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
        let Source::Journal {
            matches, by_filter, ..
        } = pick(&input("php-url-fopen", "auto", &p))
        else {
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
        assert!(!by_filter);
    }

    #[test]
    fn systemd_backend_keeps_the_journalmatch() {
        let jm = paths(&["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]);
        let source = pick(&Input {
            jail_journalmatch: &jm,
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
