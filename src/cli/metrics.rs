//! `banjo metrics`: the daemon's counters in the Prometheus text format, printed; with
//! `--http`, one HTTP request read from stdin and answered on stdout, which is what
//! banjo-metrics@.service does for each connection banjo-metrics.socket accepts. The daemon
//! stays off the network: this process holds the TCP connection, asks over the control socket
//! (read access, as `banjo stats`) and exits.
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::exit;
use super::status::{client, finish};
use crate::control::{ClientError, Command};
use crate::metrics::http::{self, Response, Route};

/// How long `--http` waits for the daemon: below Prometheus' default scrape timeout (10 s), so
/// a daemon that does not answer is a 503 the scraper sees, not a timeout of its own.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct Args {
    /// Answer one HTTP request (GET /metrics) read from stdin, on stdout, then exit: for
    /// banjo-metrics@.service, which systemd starts with the accepted connection as both.
    #[arg(long)]
    pub http: bool,
}

/// `banjo metrics [--http]`.
pub fn metrics(socket: Option<&Path>, args: Args) -> ExitCode {
    if args.http {
        return serve_one(socket);
    }
    finish(ask(socket, None).map(|text| {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }))
}

/// The text from the daemon.
fn ask(socket: Option<&Path>, timeout: Option<Duration>) -> Result<String, ClientError> {
    let mut client = client(socket);
    if let Some(t) = timeout {
        client = client.with_timeout(t);
    }
    client.call_as::<String>(Command::Metrics {})
}

/// One request on stdin, its answer on stdout. A daemon that cannot be asked is a 503 (the
/// scrape fails, so Prometheus' `up` says so) with the reason, also logged on stderr.
fn serve_one(socket: Option<&Path>) -> ExitCode {
    // the fd itself, unbuffered: a buffer would hold bytes that the readiness wait cannot see
    let mut input = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(e) => {
            eprintln!("banjo metrics --http: no request on stdin: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let fd = input.as_fd().try_clone_to_owned();
    let ready = |left: Duration| match &fd {
        Ok(fd) => crate::sys::readable(fd.as_fd(), left),
        Err(_) => Ok(true),
    };
    let (response, code) =
        match http::read_head(&mut input, ready, http::READ_TIMEOUT).and_then(|head| http::parse(&head)) {
            Err(refusal) => (Response::error(refusal.status, &refusal.message), exit::OK),
            Ok(Route::Index { head }) => (Response::index(head), exit::OK),
            Ok(Route::Metrics { head }) => match ask(socket, Some(DAEMON_TIMEOUT)) {
                Ok(text) => (Response::metrics(text, head), exit::OK),
                Err(e) => {
                    eprintln!("banjo metrics: {e}");
                    (Response::error(503, &e.to_string()), exit::of_client(&e))
                }
            },
        };
    drain(&mut input);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(&response.to_bytes()).and_then(|()| out.flush()) {
        eprintln!("banjo metrics: cannot answer the scraper: {e}");
        return ExitCode::from(exit::ERROR);
    }
    ExitCode::from(code)
}

/// Reads what the client sent past the head, without waiting: closing a socket with unread
/// bytes makes the kernel send a reset, which can cut off the answer at the client.
fn drain(input: &mut File) {
    let mut buf = [0u8; 4096];
    while crate::sys::readable(input.as_fd(), Duration::ZERO).unwrap_or(false) {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
