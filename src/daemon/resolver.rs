//! Host names that a failregex captured (`<HOST>` took a name and the jail's `usedns` says to
//! resolve it) are resolved off the loop: a lookup goes to worker threads through a bounded
//! queue, the answer comes back through a channel and wakes the loop's poll (an eventfd).
//!
//! Meanwhile the failure waits here, with its log time; when the answer comes it is counted
//! against each address, with that log time, so `findtime` is measured from when it was
//! logged. A lookup with no answer within [`LOOKUP_TIMEOUT`], or that finds the queue full
//! (more than [`QUEUE`] waiting), is dropped with a warning: that failure is not counted. A
//! slow resolver so delays only the failures that named a host, never another address's ban.
//! Host names in `ignoreip` are resolved at load and reload time instead (see `jails.rs`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::name::JailName;
use crate::sys::{self, EventFd};

/// How long a lookup may take before its failure is given up.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lookups waiting for a worker at most; more are refused (their failures not counted).
pub const QUEUE: usize = 256;
/// Worker threads, started at the first lookup.
const WORKERS: usize = 4;

/// Something that turns a host name into addresses, and may take its time doing it.
pub trait Resolve: Send + Sync {
    /// The addresses of `name`; empty when it has none.
    fn resolve(&self, name: &str) -> Vec<IpAddr>;
}

/// The system's resolver (getaddrinfo: /etc/hosts, DNS, nss-resolve …).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> Vec<IpAddr> {
        sys::resolve(name)
    }
}

/// A failure that named a host, waiting for the host's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub jail: JailName,
    pub name: String,
    /// The failure's log time.
    pub time: Timestamp,
    pub line: String,
}

/// What became of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name's addresses (none: it does not resolve).
    Resolved(Lookup, Vec<IpAddr>),
    /// No answer within [`LOOKUP_TIMEOUT`].
    TimedOut(Lookup),
}

/// Why a lookup was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{QUEUE} host name lookups are waiting already")]
    Full,
    #[error("cannot start a resolver thread: {0}")]
    Thread(std::io::Error),
}

struct Workers {
    queue: SyncSender<(u64, String)>,
    answers: Receiver<(u64, Vec<IpAddr>)>,
}

/// The daemon's side of the workers. See the module documentation.
pub struct Resolver {
    resolve: Arc<dyn Resolve>,
    wake: Arc<EventFd>,
    workers: Option<Workers>,
    /// Lookups asked and not answered: id → (deadline, lookup).
    waiting: BTreeMap<u64, (Instant, Lookup)>,
    next_id: u64,
}

impl Resolver {
    pub fn new(resolve: Arc<dyn Resolve>) -> std::io::Result<Resolver> {
        Ok(Resolver {
            resolve,
            wake: Arc::new(EventFd::new()?),
            workers: None,
            waiting: BTreeMap::new(),
            next_id: 0,
        })
    }

    /// The fd the loop polls: readable when an answer came.
    pub fn fd(&self) -> RawFd {
        self.wake.as_fd().as_raw_fd()
    }

    /// Queues a lookup; its answer comes out of [`Resolver::answers`].
    pub fn ask(&mut self, lookup: Lookup, now: Instant) -> Result<(), Refused> {
        if self.workers.is_none() {
            self.workers = Some(self.start().map_err(Refused::Thread)?);
        }
        let Some(workers) = &self.workers else {
            return Err(Refused::Full);
        };
        let id = self.next_id;
        match workers.queue.try_send((id, lookup.name.clone())) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(Refused::Full),
        }
        self.next_id += 1;
        self.waiting.insert(id, (now + LOOKUP_TIMEOUT, lookup));
        Ok(())
    }

    fn start(&self) -> std::io::Result<Workers> {
        let (queue, requests) = mpsc::sync_channel::<(u64, String)>(QUEUE);
        let (answer, answers) = mpsc::channel();
        let requests = Arc::new(Mutex::new(requests));
        for n in 0..WORKERS {
            let (requests, answer, wake, resolve) = (
                requests.clone(),
                answer.clone(),
                self.wake.clone(),
                self.resolve.clone(),
            );
            std::thread::Builder::new()
                .name(format!("banjo-resolve-{n}"))
                .spawn(move || work(&requests, &answer, &wake, &*resolve))?;
        }
        Ok(Workers { queue, answers })
    }

    /// The answers that came, and the lookups that timed out at `now`.
    pub fn answers(&mut self, now: Instant) -> Vec<Answer> {
        self.wake.clear();
        let mut out = Vec::new();
        if let Some(workers) = &self.workers {
            // an answer for a lookup given up already is dropped
            while let Ok((id, addrs)) = workers.answers.try_recv() {
                if let Some((_, lookup)) = self.waiting.remove(&id) {
                    out.push(Answer::Resolved(lookup, addrs));
                }
            }
        }
        let late: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some((_, lookup)) = self.waiting.remove(&id) {
                out.push(Answer::TimedOut(lookup));
            }
        }
        out
    }

    /// When the next waiting lookup times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.values().map(|(deadline, _)| *deadline).min()
    }
}

/// A worker: one lookup at a time until the daemon's side is gone. A lookup that hangs holds
/// this worker only; the daemon gives up on it after LOOKUP_TIMEOUT.
fn work(
    requests: &Mutex<Receiver<(u64, String)>>,
    answer: &Sender<(u64, Vec<IpAddr>)>,
    wake: &EventFd,
    resolve: &dyn Resolve,
) {
    loop {
        let next = requests.lock().map(|r| r.recv());
        let Ok(Ok((id, name))) = next else {
            return;
        };
        let addrs = resolve.resolve(&name);
        if answer.send((id, addrs)).is_err() {
            return;
        }
        wake.signal();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Condvar;

    use super::*;

    /// Answers "slow.example" only when released; every other name at once.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Resolve for Gate {
        fn resolve(&self, name: &str) -> Vec<IpAddr> {
            if name == "slow.example" {
                let open = self.open.lock().unwrap();
                drop(self.opened.wait_while(open, |open| !*open).unwrap());
            }
            vec!["192.0.2.9".parse().unwrap()]
        }
    }

    fn lookup(name: &str) -> Lookup {
        Lookup {
            jail: "sshd".into(),
            name: name.into(),
            time: Timestamp::UNIX_EPOCH,
            line: String::new(),
        }
    }

    fn wait_for_answers(r: &mut Resolver, n: usize) -> Vec<Answer> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n && Instant::now() < deadline {
            sys::poll(&[r.fd()], Some(Duration::from_millis(100))).unwrap();
            got.extend(r.answers(Instant::now()));
        }
        got
    }

    #[test]
    fn a_slow_lookup_does_not_hold_up_another_and_times_out() {
        let gate = Arc::new(Gate::default());
        let mut r = Resolver::new(gate.clone()).unwrap();
        let t0 = Instant::now();
        r.ask(lookup("slow.example"), t0).unwrap();
        r.ask(lookup("quick.example"), t0).unwrap();
        let got = wait_for_answers(&mut r, 1);
        assert_eq!(
            got,
            [Answer::Resolved(
                lookup("quick.example"),
                vec!["192.0.2.9".parse().unwrap()]
            )]
        );
        assert_eq!(r.next_deadline(), Some(t0 + LOOKUP_TIMEOUT));
        let late = r.answers(t0 + LOOKUP_TIMEOUT);
        assert_eq!(late, [Answer::TimedOut(lookup("slow.example"))]);
        *gate.open.lock().unwrap() = true;
        gate.opened.notify_all();
        assert!(
            wait_for_answers(&mut r, 1).is_empty(),
            "the late answer of a lookup given up is dropped"
        );
    }

    #[test]
    fn a_full_queue_refuses() {
        let gate = Arc::new(Gate::default());
        let mut r = Resolver::new(gate.clone()).unwrap();
        let now = Instant::now();
        // WORKERS lookups hang in the workers, QUEUE more wait, one more is refused
        let mut refused = 0;
        for _ in 0..WORKERS + QUEUE + 1 {
            refused += usize::from(r.ask(lookup("slow.example"), now).is_err());
        }
        assert!(refused >= 1, "the queue is bounded");
        *gate.open.lock().unwrap() = true;
        gate.opened.notify_all();
    }
}
