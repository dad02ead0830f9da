//! Every system call banjo makes beyond std, in one small module: through nix where it covers
//! them, and `unsafe` only here where it does not (lib.rs denies `unsafe_code` elsewhere).
//!
//! Through nix (safe): the signal mask and signalfd, eventfd, SO_PEERCRED, getgrnam_r,
//! getifaddrs, fcntl(O_NONBLOCK), SO_SNDBUF(FORCE)/SO_RCVBUF(FORCE), clock_gettime, killpg,
//! flock.
//! Here, `unsafe`, each block one call with its reason: poll over fd numbers (sd-journal's fd
//! has no owner on banjo's side), SO_PEERGROUPS (nix has no option for it), taking ownership
//! of the fds systemd passed (their numbers come from LISTEN_FDS), removing LISTEN_* from
//! the environment (std marks that unsafe while threads could read it), resetting the
//! signal mask of a program banjo-notify starts, between fork and exec, giving the heap's free
//! pages back after start-up (malloc_trim), and (tests only) a global allocator that counts
//! allocations.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal as Signo};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, setsockopt, sockopt};

// ---- waiting ----------------------------------------------------------------------------------

/// Waits until one of `fds` is readable, hung up or in error, or `timeout` passes (`None`:
/// forever); returns which are. A signal that interrupts the wait is not an error: the wait
/// goes on with what is left of `timeout`.
///
/// The fds are numbers, not borrowed fds (what nix's poll takes): the journal's fd belongs to
/// sd-journal and is known only by its number. To the kernel a closed fd is not a memory
/// error, only `POLLNVAL`, which is reported as ready, so its owner's next read says what
/// is wrong.
pub fn poll(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let fds: Vec<(RawFd, Want)> = fds.iter().map(|&fd| (fd, Want::Read)).collect();
    poll_for(&fds, timeout)
}

/// What [`poll_for`] waits for on an fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Something to read (POLLIN).
    Read,
    /// Room to write (POLLOUT): a pipe to a program's stdin.
    Write,
}

/// [`poll`] with what to wait for on each fd; hang-ups and errors count as ready, so the
/// owner's next read or write says what happened.
pub fn poll_for(fds: &[(RawFd, Want)], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, want)| libc::pollfd {
            fd,
            events: match want {
                Want::Read => libc::POLLIN,
                Want::Write => libc::POLLOUT,
            },
            revents: 0,
        })
        .collect();
    loop {
        let ms = match deadline {
            None => -1,
            // rounded up, so a wait of 0.4 ms is not a busy zero timeout
            Some(d) => {
                let left = d
                    .saturating_duration_since(Instant::now())
                    .as_nanos()
                    .div_ceil(1_000_000);
                libc::c_int::try_from(left).unwrap_or(libc::c_int::MAX)
            }
        };
        // SAFETY: `pfds` is an owned, initialized array of `pfds.len()` pollfd structs that
        // lives across the call; the kernel writes only their `revents`.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// [`poll`] for one fd: true when it is readable (or hung up) within `timeout`.
pub fn readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    Ok(poll(&[fd.as_raw_fd()], Some(timeout))?[0])
}

// ---- signals ----------------------------------------------------------------------------------

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGTERM, SIGINT.
    Stop,
}

/// SIGHUP, SIGTERM and SIGINT as an fd to poll, so a signal is handled between two entries,
/// never in the middle of one.
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks the three signals for this thread (threads spawned later inherit the mask) and
    /// opens a signalfd for them.
    pub fn open() -> io::Result<Signals> {
        let mut set = SigSet::empty();
        for s in [Signo::SIGHUP, Signo::SIGTERM, Signo::SIGINT] {
            set.add(s);
        }
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The signals that arrived, in order (empty when none is pending).
    pub fn read(&self) -> io::Result<Vec<Signal>> {
        let mut out = Vec::new();
        while let Some(info) = self.fd.read_signal()? {
            out.push(if info.ssi_signo == Signo::SIGHUP as u32 {
                Signal::Reload
            } else {
                Signal::Stop
            });
        }
        Ok(out)
    }
}

// ---- waking a poll from another thread --------------------------------------------------------

/// An eventfd: a counter other threads bump to make the owner's poll wake up.
#[derive(Debug)]
pub struct EventFd(nix::sys::eventfd::EventFd);

impl EventFd {
    /// A non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<EventFd> {
        use nix::sys::eventfd::EfdFlags;
        let fd = nix::sys::eventfd::EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
        Ok(EventFd(fd))
    }

    /// Makes it readable. Fails only when the counter would overflow, in which case it is
    /// readable already.
    pub fn signal(&self) {
        let _ = self.0.write(1);
    }

    /// Resets it to not readable (EAGAIN when it was not signalled: nothing to reset).
    pub fn clear(&self) {
        let _ = self.0.read();
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

// ---- who is on the other end of a Unix socket -------------------------------------------------

/// The peer's pid, uid and gid as the kernel recorded them at connect (SO_PEERCRED).
pub fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<(i32, u32, u32)> {
    let cred = getsockopt(&fd, sockopt::PeerCredentials)?;
    Ok((cred.pid(), cred.uid(), cred.gid()))
}

/// The peer's supplementary groups as the kernel recorded them at connect (SO_PEERGROUPS,
/// Linux 4.13).
pub fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` holds `len` bytes; the kernel writes at most `len` bytes and sets
        // `len` to the size it needs (ERANGE) or wrote. nix has no SO_PEERGROUPS option.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) || n <= groups.len() {
            return Err(e);
        }
        groups.resize(n, 0);
    }
}

/// The gid of the group called `name`; `None` when there is none.
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    match nix::unistd::Group::from_name(name) {
        Ok(group) => Ok(group.map(|g| g.gid.as_raw())),
        Err(Errno::ENOENT | Errno::ESRCH) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// ---- this host and host names -----------------------------------------------------------------

/// Every address configured on this host's interfaces (getifaddrs), sorted, without repeats.
pub fn host_addresses() -> io::Result<Vec<IpAddr>> {
    let mut out: Vec<IpAddr> = nix::ifaddrs::getifaddrs()?
        .filter_map(|ifa| ifa.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The addresses a host name resolves to (getaddrinfo; empty when it does not resolve).
/// Blocks for as long as the resolver takes: call it at load time or on a worker thread,
/// never on the daemon's loop.
pub fn resolve(name: &str) -> Vec<IpAddr> {
    use std::net::ToSocketAddrs;
    let mut v: Vec<IpAddr> = (name, 0)
        .to_socket_addrs()
        .map(|it| it.map(|s| s.ip()).collect())
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

// ---- programs banjo-notify starts --------------------------------------------------------------

/// Makes the program `command` starts begin with no signal blocked and SIGPIPE at its
/// default. A blocked mask is inherited across exec, and std's `Command` passes it on
/// (measured: SigBlk 0x4000 in the child): without this, a process that blocks SIGTERM for
/// its signalfd starts an MTA that cannot be told to stop, a script whose `timeout` or trap
/// never fires.
pub fn start_with_no_signal_blocked(command: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec. It calls only
    // pthread_sigmask and signal, both async-signal-safe, on a SigSet on its own stack; it
    // allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(|| {
            SigSet::empty().thread_set_mask()?;
            nix::sys::signal::signal(Signo::SIGPIPE, SigHandler::SigDfl)?;
            Ok(())
        })
    }
}

/// Kills (SIGKILL) every process of the process group `pgid`: a program started with
/// `process_group(0)` leads its own, so what it started dies with it. A group already gone
/// is not an error.
pub fn kill_process_group(pgid: u32) -> io::Result<()> {
    let pgid = i32::try_from(pgid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "no such process group"))?;
    match nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), Signo::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

// ---- file descriptors -------------------------------------------------------------------------

/// A file locked with flock, until dropped.
pub type Locked = Flock<File>;

/// An exclusive lock on `file` (flock), held until the returned value is dropped; `None`
/// when another open file description holds it (another process, usually).
pub fn try_lock_exclusive(file: File) -> io::Result<Option<Locked>> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// Sets O_NONBLOCK on `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// The listen fds systemd passed (LISTEN_FDS / LISTEN_FDNAMES, for this process only), with
/// their names; the variables are removed so children do not inherit them. Call it once, at
/// start-up, before any other thread runs.
pub fn listen_fds() -> io::Result<Vec<(String, OwnedFd)>> {
    let fds = sd_notify::listen_fds_with_names()?;
    // SAFETY: systemd hands these fds to this process (sd-notify checked LISTEN_PID); each is
    // taken exactly once, here.
    let out = fds
        .map(|(fd, name)| (name, unsafe { OwnedFd::from_raw_fd(fd) }))
        .collect();
    // SAFETY: called at start-up, before banjo starts any thread that could read the
    // environment at the same time.
    unsafe {
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    Ok(out)
}

/// Asks for a socket send buffer of `bytes`: SO_SNDBUFFORCE (CAP_NET_ADMIN may go past the
/// system's limit), else SO_SNDBUF within it. Returns the size the kernel gave.
pub fn grow_send_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    if setsockopt(&fd, sockopt::SndBufForce, &bytes).is_err() {
        let _ = setsockopt(&fd, sockopt::SndBuf, &bytes);
    }
    Ok(getsockopt(&fd, sockopt::SndBuf)?)
}

/// Asks for a socket receive buffer of `bytes`, as [`grow_send_buffer`] does.
pub fn grow_receive_buffer(fd: BorrowedFd<'_>, bytes: usize) {
    if setsockopt(&fd, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = setsockopt(&fd, sockopt::RcvBuf, &bytes);
    }
}

/// Gives the heap's free pages back to the system (glibc's `malloc_trim`): called once the
/// start-up's passing buffers (the state file, the reconcile's element batches) are freed, so
/// the RSS a long-running banjo keeps is what it holds, not what restoring 100k bans once
/// needed. Answers whether any memory went back. No-op where the C library is not glibc.
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain size, touches only the allocator's own state
        // (under its locks) and is safe to call from any thread at any time.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// The CPU time this thread has used (for timing reports on a busy machine).
pub fn thread_cpu_time() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Test-only: counts the heap allocations one closure makes on its own thread, so the date
/// finder's "no allocation per line once warm" is a tested claim, not a comment. It wraps the
/// system allocator for the lib's unit-test binary only; other threads and other tests are
/// counted nowhere and pay one thread-local read per allocation. Here because a global
/// allocator is `unsafe` code.
#[cfg(test)]
pub mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Counting;

    thread_local! {
        static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
    }

    fn note() {
        // try_with: allocations during thread teardown must not touch a destroyed slot.
        let _ = COUNT.try_with(|c| {
            if let Some(n) = c.get() {
                c.set(Some(n + 1));
            }
        });
    }

    // SAFETY: every call is passed to `System` unchanged; the counting touches only a
    // const-initialised thread-local `Cell` (no allocation, no lock).
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note();
            // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note();
            // SAFETY: as for `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note();
            // SAFETY: `ptr` came from this allocator, that is from `System`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator, that is from `System`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// How many allocations (and reallocations) `f` made on this thread.
    pub fn allocations(f: impl FnOnce()) -> usize {
        COUNT.with(|c| c.set(Some(0)));
        f();
        COUNT.with(|c| c.replace(None)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::Ipv4Addr;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn free_memory_goes_back_after_a_big_passing_buffer() {
        // Many small blocks (as parsing the state file makes) freed: the heap has free pages
        // to give back, and giving them back leaves what is still held intact.
        let kept: Vec<Box<[u8; 64]>> = (0..1000).map(|_| Box::new([7; 64])).collect();
        let passing: Vec<Box<[u8; 200]>> = (0..100_000).map(|_| Box::new([1; 200])).collect();
        drop(passing);
        release_free_memory();
        assert!(kept.iter().all(|b| b.iter().all(|&x| x == 7)));
    }

    fn pipe() -> (std::fs::File, std::fs::File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (r.into(), w.into())
    }

    #[test]
    fn poll_times_out_and_sees_a_readable_pipe() {
        let (r, w) = pipe();
        let quick = Some(Duration::from_millis(10));
        assert_eq!(poll(&[r.as_raw_fd()], quick).unwrap(), [false]);
        (&w).write_all(b"x").unwrap();
        assert_eq!(poll(&[r.as_raw_fd()], quick).unwrap(), [true]);
        assert!(readable(r.as_fd(), Duration::ZERO).unwrap());
        drop(w);
        let (r2, _w2) = pipe();
        assert_eq!(
            poll(&[r2.as_raw_fd(), r.as_raw_fd()], quick).unwrap(),
            [false, true]
        );
    }

    #[test]
    fn eventfd_wakes_poll_until_cleared() {
        let e = EventFd::new().unwrap();
        let quick = Some(Duration::from_millis(0));
        let fd = e.as_fd().as_raw_fd();
        assert_eq!(poll(&[fd], quick).unwrap(), [false]);
        e.signal();
        e.signal();
        assert_eq!(poll(&[fd], quick).unwrap(), [true]);
        e.clear();
        assert_eq!(poll(&[fd], quick).unwrap(), [false]);
    }

    #[test]
    fn peer_cred_of_a_socketpair_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (pid, uid, gid) = peer_cred(a.as_fd()).unwrap();
        assert_eq!(pid as u32, std::process::id());
        assert_eq!(uid, nix::unistd::getuid().as_raw());
        assert_eq!(gid, nix::unistd::getgid().as_raw());
        peer_groups(a.as_fd()).unwrap();
    }

    #[test]
    fn root_group_is_found_and_nonsense_is_not() {
        assert_eq!(group_id("root").unwrap(), Some(0));
        assert_eq!(group_id("no-such-group-banjo").unwrap(), None);
        assert_eq!(group_id("nul\0byte").unwrap(), None);
    }

    #[test]
    fn loopback_is_among_host_addresses() {
        let a = host_addresses().unwrap();
        assert!(a.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{a:?}");
    }

    #[test]
    fn localhost_resolves() {
        assert!(resolve("localhost").contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn nonblocking_read_of_an_empty_pipe_would_block() {
        use std::io::Read;
        let (r, _w) = pipe();
        set_nonblocking(r.as_fd()).unwrap();
        let e = (&r).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn poll_for_sees_room_to_write_until_the_pipe_is_full() {
        let (r, w) = pipe();
        let quick = Some(Duration::from_millis(10));
        let want = [(w.as_raw_fd(), Want::Write), (r.as_raw_fd(), Want::Read)];
        assert_eq!(poll_for(&want, quick).unwrap(), [true, false]);
        set_nonblocking(w.as_fd()).unwrap();
        while (&w).write(&[0u8; 4096]).is_ok() {}
        assert_eq!(poll_for(&want, quick).unwrap(), [false, true]);
    }

    #[test]
    fn a_second_exclusive_lock_is_refused_until_the_first_is_dropped() {
        let path = std::env::temp_dir().join(format!("banjo-sys-lock-{}", std::process::id()));
        let open = || File::create(&path).unwrap();
        let first = try_lock_exclusive(open()).unwrap();
        assert!(first.is_some());
        assert!(try_lock_exclusive(open()).unwrap().is_none());
        drop(first);
        assert!(try_lock_exclusive(open()).unwrap().is_some());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn killing_a_process_group_kills_what_its_leader_started() {
        use std::process::Stdio;
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = io::BufReader::new(child.stdout.take().unwrap());
        io::BufRead::read_line(&mut out, &mut line).unwrap();
        let sleeper = std::path::PathBuf::from(format!("/proc/{}", line.trim()));
        assert!(sleeper.exists());
        kill_process_group(child.id()).unwrap();
        assert!(child.wait().unwrap().signal().is_some());
        // the sleeper, reparented, is reaped by init (or the subreaper) once killed
        let deadline = Instant::now() + Duration::from_secs(5);
        while sleeper.exists() && Instant::now() < deadline {
            let stat = std::fs::read_to_string(sleeper.join("stat")).unwrap_or_default();
            if stat.split(' ').nth(2) == Some("Z") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let stat = std::fs::read_to_string(sleeper.join("stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.split(' ').nth(2) == Some("Z"), "{stat}");
        // a group that is gone is not an error
        kill_process_group(child.id()).unwrap();
    }

    #[test]
    fn a_program_started_with_no_signal_blocked_has_none_blocked() {
        let mut set = SigSet::empty();
        set.add(Signo::SIGTERM);
        set.thread_block().unwrap();
        let out = start_with_no_signal_blocked(&mut Command::new("/bin/sh"))
            .args(["-c", "grep '^SigBlk' /proc/self/status"])
            .output()
            .unwrap();
        set.thread_unblock().unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    }

    #[test]
    fn socket_buffers_grow() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(grow_send_buffer(a.as_fd(), 1 << 20).unwrap() >= 1 << 16);
        grow_receive_buffer(a.as_fd(), 1 << 20);
        assert!(thread_cpu_time() > Duration::ZERO);
    }
}
