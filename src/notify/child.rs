//! Runs one program (sendmail, whois, an exec command) the way banjo-notify needs: argv
//! without a shell, stdin fed from memory, stdout and stderr captured up to a limit (the rest
//! read and dropped, so a chatty program never blocks on a full pipe), and a deadline after
//! which its whole process group is killed. It returns once the program itself has exited:
//! a background process it leaves behind (an MTA delivering) may keep the pipes open and is
//! not waited for.
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys::{self, Want};

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signaled(i32),
    /// Still running at the deadline: its process group was killed.
    TimedOut,
    /// Could not be started (no such program, not executable…).
    NotStarted(io::Error),
}

#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Output beyond the capture limit was dropped.
    pub truncated: bool,
    pub took: Duration,
}

impl Finished {
    /// Exit status 0.
    pub fn ok(&self) -> bool {
        matches!(self.ended, Ended::Exited(0))
    }

    /// "exit status 75", "killed by signal 9", "timed out after 30s", "cannot start: …".
    pub fn describe(&self, timeout: Duration) -> String {
        match &self.ended {
            Ended::Exited(code) => format!("exit status {code}"),
            Ended::Signaled(sig) => format!("killed by signal {sig}"),
            Ended::TimedOut if timeout < Duration::from_secs(1) => {
                format!("timed out after {}ms and was killed", timeout.as_millis())
            }
            Ended::TimedOut => format!(
                "timed out after {} and was killed",
                crate::config::Compact(timeout)
            ),
            Ended::NotStarted(e) => format!("cannot start: {e}"),
        }
    }

    /// stdout then stderr, as text, each trimmed (for logs).
    pub fn output(&self) -> (String, String) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
        (text(&self.stdout), text(&self.stderr))
    }
}

/// Runs `argv` with `stdin` as its input, for at most `timeout`; keeps at most `capture`
/// bytes of each of stdout and stderr.
pub fn run(argv: &[String], stdin: &[u8], timeout: Duration, capture: usize) -> Finished {
    let started = Instant::now();
    let not_started = |e: io::Error| Finished {
        ended: Ended::NotStarted(e),
        stdout: vec![],
        stderr: vec![],
        truncated: false,
        took: started.elapsed(),
    };
    let Some((program, args)) = argv.split_first() else {
        return not_started(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // its own process group: a timeout kills what it started too
        .process_group(0);
    // the service blocks SIGTERM, SIGINT and SIGHUP for its signalfd
    sys::start_with_no_signal_blocked(&mut command);
    let spawned = command.spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return not_started(e),
    };
    let mut io = Pipes::new(&mut child, stdin, capture);
    let deadline = started + timeout;
    let ended = loop {
        let now = Instant::now();
        if now >= deadline {
            kill_group(&child);
            let _ = child.wait();
            break Ended::TimedOut;
        }
        io.turn((deadline - now).min(Duration::from_millis(50)));
        match child.try_wait() {
            Ok(Some(status)) => {
                io.drain();
                break match (status.code(), status.signal()) {
                    (Some(code), _) => Ended::Exited(code),
                    (_, Some(sig)) => Ended::Signaled(sig),
                    _ => Ended::Exited(-1),
                };
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&child);
                let _ = child.wait();
                break Ended::NotStarted(e);
            }
        }
    };
    Finished {
        ended,
        stdout: io.out.data,
        stderr: io.err.data,
        truncated: io.out.dropped || io.err.dropped,
        took: started.elapsed(),
    }
}

fn kill_group(child: &Child) {
    // the child leads its group (process_group(0)); not yet reaped, so the id is still its
    if let Err(e) = sys::kill_process_group(child.id()) {
        tracing::warn!("cannot kill process group {}: {e}", child.id());
    }
}

/// One captured output stream.
struct Capture {
    data: Vec<u8>,
    limit: usize,
    dropped: bool,
}

/// The child's three pipes, all non-blocking.
struct Pipes<'a> {
    input: Option<std::process::ChildStdin>,
    pending: &'a [u8],
    out_pipe: Option<std::process::ChildStdout>,
    err_pipe: Option<std::process::ChildStderr>,
    out: Capture,
    err: Capture,
}

impl<'a> Pipes<'a> {
    fn new(child: &mut Child, stdin: &'a [u8], limit: usize) -> Pipes<'a> {
        let input = child.stdin.take();
        let out = child.stdout.take();
        let err = child.stderr.take();
        for fd in [
            input.as_ref().map(AsFd::as_fd),
            out.as_ref().map(AsFd::as_fd),
            err.as_ref().map(AsFd::as_fd),
        ]
        .into_iter()
        .flatten()
        {
            // a pipe that stayed blocking could stall a turn; its reads and writes then
            // wait for the poll's hint only
            let _ = sys::set_nonblocking(fd);
        }
        let mut pipes = Pipes {
            input,
            pending: stdin,
            out_pipe: out,
            err_pipe: err,
            out: Capture {
                data: Vec::new(),
                limit,
                dropped: false,
            },
            err: Capture {
                data: Vec::new(),
                limit,
                dropped: false,
            },
        };
        if pipes.pending.is_empty() {
            pipes.input = None;
        }
        pipes
    }

    /// Waits up to `wait` for a pipe to be ready, then moves what it can.
    fn turn(&mut self, wait: Duration) {
        let mut fds = Vec::with_capacity(3);
        if let Some(i) = &self.input {
            fds.push((i.as_raw_fd(), Want::Write));
        }
        if let Some(o) = &self.out_pipe {
            fds.push((o.as_raw_fd(), Want::Read));
        }
        if let Some(e) = &self.err_pipe {
            fds.push((e.as_raw_fd(), Want::Read));
        }
        if fds.is_empty() {
            // nothing left to move: just wait for the exit
            std::thread::sleep(wait.min(Duration::from_millis(10)));
            return;
        }
        let _ = sys::poll_for(&fds, Some(wait));
        self.feed();
        self.drain();
    }

    fn feed(&mut self) {
        let Some(input) = self.input.as_mut() else {
            return;
        };
        loop {
            if self.pending.is_empty() {
                self.input = None; // EOF for the child
                return;
            }
            match input.write(self.pending) {
                Ok(n) => self.pending = &self.pending[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EPIPE: it stopped reading (it may have failed; its status says)
                Err(_) => {
                    self.input = None;
                    return;
                }
            }
        }
    }

    /// Reads whatever is there now, without waiting.
    fn drain(&mut self) {
        if let Some(p) = self.out_pipe.as_mut()
            && !self.out.read_available(p)
        {
            self.out_pipe = None;
        }
        if let Some(p) = self.err_pipe.as_mut()
            && !self.err.read_available(p)
        {
            self.err_pipe = None;
        }
    }
}

impl Capture {
    /// Reads until the pipe would block; false at end of file or on an error.
    fn read_available(&mut self, pipe: &mut impl Read) -> bool {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let room = self.limit.saturating_sub(self.data.len());
                    self.data.extend_from_slice(&buf[..n.min(room)]);
                    self.dropped |= n > room;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn stdin_goes_in_and_output_comes_back() {
        let r = run(&sh("cat; echo oops >&2"), b"hello\n", LONG, 1024);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.stdout, b"hello\n");
        assert_eq!(r.output().1, "oops");
    }

    #[test]
    fn a_large_input_and_output_do_not_deadlock() {
        let input = vec![b'x'; 1 << 20];
        let r = run(&sh("cat"), &input, LONG, 100);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.stdout.len(), 100);
        assert!(r.truncated);
    }

    #[test]
    fn exit_status_is_reported() {
        let r = run(&sh("exit 75"), b"", LONG, 10);
        assert!(!r.ok());
        assert_eq!(r.describe(LONG), "exit status 75");
    }

    #[test]
    fn a_hanging_program_and_its_children_are_killed_at_the_deadline() {
        let started = Instant::now();
        let r = run(&sh("sleep 60 & sleep 60"), b"", Duration::from_millis(300), 10);
        assert!(matches!(r.ended, Ended::TimedOut), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(r.describe(Duration::from_secs(1)).contains("timed out after 1s"));
    }

    #[test]
    fn a_program_that_does_not_read_its_input_still_ends() {
        let input = vec![b'x'; 1 << 20];
        let r = run(&sh("exit 3"), &input, LONG, 10);
        assert_eq!(r.describe(LONG), "exit status 3");
    }

    #[test]
    fn a_background_child_holding_the_pipes_is_not_waited_for() {
        let started = Instant::now();
        let r = run(&sh("(sleep 3; echo late) & echo early"), b"", LONG, 100);
        assert!(r.ok(), "{r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r.output().0, "early");
    }

    #[test]
    fn programs_start_with_no_signal_blocked() {
        // as the service does for its signalfd (the test thread's mask only)
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGHUP);
        set.thread_block().unwrap();
        let r = run(&sh("grep -E '^Sig(Blk|Ign)' /proc/self/status"), b"", LONG, 1024);
        let out = r.output().0;
        assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
        assert!(
            !out.contains("SigIgn:\t0000000000001000"),
            "SIGPIPE not ignored: {out}"
        );
    }

    #[test]
    fn a_missing_program_is_not_started() {
        let r = run(&["/nonexistent/sendmail".to_string()], b"x", LONG, 10);
        assert!(matches!(r.ended, Ended::NotStarted(_)));
        assert!(
            r.describe(LONG).starts_with("cannot start: "),
            "{}",
            r.describe(LONG)
        );
    }
}
