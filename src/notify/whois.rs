//! `whois ADDRESS` for ban mails: the whois program when it is installed, bounded in time,
//! answers cached for a day (an attacker banned in three jails costs one query), failures not
//! cached. Absent or failing whois never holds a mail back: the mail says so instead.
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::child::{self, Ended};

/// What the mail says about whois.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whois {
    /// `whois = false`, or a mail that has no single address (an unban, a digest).
    Off,
    NotInstalled,
    /// Why there is no answer ("timed out after 10s", "exit status 2: …").
    Failed(String),
    Text(String),
}

/// How long an answer is reused.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// Answers kept; the oldest goes first.
const ENTRIES: usize = 1000;
/// Bytes of an answer kept.
const CAPTURE: usize = 64 * 1024;

/// The whois program and the answers it gave.
pub struct WhoisCache {
    program: String,
    answers: Mutex<HashMap<IpAddr, (Instant, String)>>,
}

impl WhoisCache {
    /// `program`: "whois" (looked up in PATH), or a path.
    pub fn new(program: &str) -> WhoisCache {
        WhoisCache {
            program: program.to_string(),
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `ip`, from the cache or from one run of whois of at most `timeout`.
    pub fn lookup(&self, ip: IpAddr, timeout: Duration) -> Whois {
        if let Some(text) = self.cached(ip) {
            return Whois::Text(text);
        }
        let argv = [self.program.clone(), ip.to_string()];
        let run = child::run(&argv, b"", timeout, CAPTURE);
        let (stdout, stderr) = run.output();
        let answer = match &run.ended {
            Ended::NotStarted(e) if e.kind() == ErrorKind::NotFound => return Whois::NotInstalled,
            // whois exits 1 for some answers it still prints ("no match", referrals)
            Ended::Exited(_) if !stdout.is_empty() => stdout,
            _ => {
                let first = stderr.lines().next().unwrap_or("").to_string();
                let mut why = run.describe(timeout);
                if !first.is_empty() {
                    why = format!("{why}: {first}");
                }
                return Whois::Failed(why);
            }
        };
        self.store(ip, &answer);
        Whois::Text(answer)
    }

    fn cached(&self, ip: IpAddr) -> Option<String> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(&ip)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, text)| text.clone())
    }

    fn store(&self, ip: IpAddr, text: &str) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.retain(|_, (at, _)| at.elapsed() < TTL);
        if answers.len() >= ENTRIES
            && let Some(oldest) = answers.iter().min_by_key(|(_, (at, _))| *at).map(|(ip, _)| *ip)
        {
            answers.remove(&oldest);
        }
        answers.insert(ip, (Instant::now(), text.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A whois stand-in that answers and counts its runs in DIR/runs.
    fn fake_whois(dir: &std::path::Path, body: &str) -> String {
        let path = dir.join("whois");
        let script = format!("#!/bin/sh\necho run >> {}/runs\n{body}\n", dir.display());
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn runs(dir: &std::path::Path) -> usize {
        std::fs::read_to_string(dir.join("runs")).map_or(0, |s| s.lines().count())
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn answers_are_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WhoisCache::new(&fake_whois(dir.path(), "echo \"netname: TEST $1\""));
        let second = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 8));
        assert_eq!(
            cache.lookup(IP, Duration::from_secs(5)),
            Whois::Text("netname: TEST 192.0.2.7".into())
        );
        assert_eq!(
            cache.lookup(IP, Duration::from_secs(5)),
            Whois::Text("netname: TEST 192.0.2.7".into())
        );
        assert_eq!(runs(dir.path()), 1);
        cache.lookup(second, Duration::from_secs(5));
        assert_eq!(runs(dir.path()), 2);
    }

    #[test]
    fn a_hanging_whois_is_cut_off_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WhoisCache::new(&fake_whois(dir.path(), "exec sleep 30"));
        let started = Instant::now();
        let answer = cache.lookup(IP, Duration::from_millis(300));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            answer,
            Whois::Failed("timed out after 300ms and was killed".into())
        );
        cache.lookup(IP, Duration::from_millis(100));
        assert_eq!(runs(dir.path()), 2, "a failure is asked again");
    }

    #[test]
    fn a_failing_whois_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WhoisCache::new(&fake_whois(
            dir.path(),
            "echo 'connect: Network is unreachable' >&2; exit 2",
        ));
        assert_eq!(
            cache.lookup(IP, Duration::from_secs(5)),
            Whois::Failed("exit status 2: connect: Network is unreachable".into())
        );
    }

    #[test]
    fn no_whois_program_means_not_installed() {
        let cache = WhoisCache::new("/nonexistent/whois");
        assert_eq!(cache.lookup(IP, Duration::from_secs(1)), Whois::NotInstalled);
    }
}
