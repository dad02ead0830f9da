//! SIGHUP (reload), SIGTERM and SIGINT (stop) as an fd the main loop polls, so a signal is
//! handled between two entries, never in the middle of one.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Reload,
    Stop,
}

pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Blocks the three signals for this thread (threads spawned later inherit the mask) and
    /// opens a signalfd for them.
    pub fn open() -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data initialised by sigemptyset; the calls only read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
                libc::sigaddset(&mut set, s);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The signals that arrived, in order (empty when none is pending).
    pub fn read(&self) -> io::Result<Vec<Signal>> {
        let mut out = Vec::new();
        loop {
            // SAFETY: reading into a properly sized, zeroed siginfo struct from our own fd.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    return Ok(out);
                }
                return Err(e);
            }
            if n as usize != size {
                return Ok(out);
            }
            out.push(if info.ssi_signo == libc::SIGHUP as u32 {
                Signal::Reload
            } else {
                Signal::Stop
            });
        }
    }
}
