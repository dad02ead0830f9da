//! banjo's exit codes: the one list. `--help`, the man pages and the README show [`TEXT`];
//! units/banjo.service and banjo-notify.service name [`CONFIG`] in RestartPreventExitStatus=,
//! banjo-notify.service's ExecCondition= gets [`CONDITION_BROKEN`].

use crate::config::ConfigError;
use crate::control::{ClientError, ErrorKind};

pub const OK: u8 = 0;
/// Something failed: unreadable input, an unknown filter, the daemon said no or could not
/// start (nftables, the journal, the state directory …).
pub const ERROR: u8 = 1;
/// Bad usage (clap's own code).
pub const USAGE: u8 = 2;
/// No daemon: the control socket is missing or nobody answers on it.
pub const NOT_RUNNING: u8 = 3;
/// The caller may not ask this (the socket's permissions, or admin_group / read_group).
pub const DENIED: u8 = 4;
/// EX_CONFIG from sysexits.h: the configuration does not validate (`banjo run`, `banjo
/// check`, `banjo notify`). Restarting cannot fix that, so the unit does not restart on it.
pub const CONFIG: u8 = 78;
/// `banjo notify --is-configured` on a configuration that does not validate: systemd's
/// ExecCondition= skips the unit on 1–254 but fails it on 255, so the admin sees why.
pub const CONDITION_BROKEN: u8 = 255;

/// The list as `--help` and the man pages print it.
pub const TEXT: &str = "\
Exit status:
  0   success
  1   failure: unreadable input, unknown filter, the daemon refused or could not start, …
  2   bad usage
  3   banjo is not running (no control socket, or nobody answers on it)
  4   permission denied (the socket's permissions, or [daemon] admin_group / read_group)
  78  the configuration does not validate (run, check, notify; EX_CONFIG: systemd does not
      restart)
  255 notify --is-configured: the configuration does not validate (ExecCondition= fails the
      unit; 1 there means nothing to do, and skips it)";

/// The code for an error of `run`, `check`, `test-filter` or `generate`.
pub fn of_error(e: &anyhow::Error) -> u8 {
    if e.chain().any(|cause| cause.is::<ConfigError>()) {
        CONFIG
    } else {
        ERROR
    }
}

/// The code for an error of a command that talks to the daemon.
pub fn of_client(e: &ClientError) -> u8 {
    match e {
        ClientError::NotRunning { .. } => NOT_RUNNING,
        ClientError::SocketDenied { .. } => DENIED,
        ClientError::Daemon(e) if e.kind == ErrorKind::Denied => DENIED,
        _ => ERROR,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use anyhow::Context;

    use super::*;
    use crate::control::ControlError;

    #[test]
    fn a_config_that_does_not_validate_is_78_wherever_it_is_in_the_chain() {
        let e = ConfigError::NotFound {
            path: PathBuf::from("/etc/banjo/config.toml"),
        };
        assert_eq!(of_error(&anyhow::Error::new(e)), CONFIG);
        let wrapped: anyhow::Result<()> = Err(ConfigError::NotFound {
            path: PathBuf::from("/x"),
        })
        .context("reloading");
        assert_eq!(of_error(&wrapped.unwrap_err()), CONFIG);
        assert_eq!(
            of_error(&anyhow::anyhow!("cannot open the netlink socket")),
            ERROR
        );
    }

    #[test]
    fn client_errors_have_their_codes() {
        let path = PathBuf::from("/run/banjo/banjo.sock");
        assert_eq!(
            of_client(&ClientError::NotRunning { path: path.clone() }),
            NOT_RUNNING
        );
        assert_eq!(of_client(&ClientError::SocketDenied { path }), DENIED);
        assert_eq!(
            of_client(&ClientError::Daemon(ControlError::denied("no"))),
            DENIED
        );
        assert_eq!(
            of_client(&ClientError::Daemon(ControlError::not_found("no"))),
            ERROR
        );
    }

    #[test]
    fn the_text_lists_every_code() {
        for code in [OK, ERROR, USAGE, NOT_RUNNING, DENIED, CONFIG, CONDITION_BROKEN] {
            assert!(TEXT.contains(&format!("\n  {code} ")), "{code}");
        }
    }
}
