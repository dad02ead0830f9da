//! The daemon's side of the control socket. A listener thread accepts, reads the caller's
//! credentials at once and gives it a slot (see `slots`: root and the admin group have slots
//! of their own, other uids a few each, idle connections make room when all are taken); a
//! thread per connection reads one request line within [`REQUEST_TIMEOUT`], checks what the
//! caller may ask, parses it, queues it for the daemon and wakes the daemon's poll through
//! [`Server::wake_fd`]; the daemon answers every queued request with
//! [`Server::handle_pending`], which never blocks; the connection thread writes the answer (or
//! a `busy` error after [`REPLY_TIMEOUT`]) and closes. A bad or slow client costs one thread
//! for two seconds at most and never the daemon's time, and no client can keep root out.

use std::fs;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::access::{Access, Peer};
use super::protocol::{Command, ControlError, MAX_REQUEST, Response, parse_request};
use super::slots::{Admission, Caller, Slots};
use super::types::{BannedAddr, Explain, JailStats, JailStatus, Status, Unbanned, UnbannedAll, sort_bans};
use crate::addr::Target;
use crate::config::BanTime;
use crate::sys::{self, EventFd};

/// How long a client has to send its whole request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection waits for the daemon's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing the answer may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once, at most (see `slots` for who gets which).
pub const MAX_CONNECTIONS: usize =
    super::slots::ROOT_SLOTS + super::slots::ADMIN_SLOTS + super::slots::SHARED_SLOTS;

/// What the daemon answers. Read-only methods take `&self`; the server calls them only from
/// [`Server::handle_pending`], on the daemon's thread.
pub trait Handler {
    /// The daemon's version, uptime, jails with their sources and bans.
    fn status(&self) -> Status;
    /// One jail's counters and bans; `not_found` for an unknown jail.
    fn jail_status(&self, jail: &str) -> Result<JailStatus, ControlError>;
    /// One row per jail.
    fn stats(&self) -> Vec<JailStats>;
    /// Active bans, in one jail or all (the server sorts them).
    fn banned(&self, jail: Option<&str>) -> Result<Vec<BannedAddr>, ControlError>;
    /// Bans `target` in `jail` for `time` (the jail's bantime when `None`).
    fn ban(&mut self, jail: &str, target: Target, time: Option<BanTime>) -> Result<BannedAddr, ControlError>;
    /// Lifts the ban of `target` in `jail`, or in every jail; returns the jails it was lifted
    /// in (the server answers `not_found` when there is none).
    fn unban(&mut self, jail: Option<&str>, target: Target) -> Result<Vec<String>, ControlError>;
    /// Lifts every ban; returns how many.
    fn unban_all(&mut self) -> Result<usize, ControlError>;
    /// Reads the config again, for every jail or one; a `refused` error says why the new
    /// config was not taken.
    fn reload(&mut self, jail: Option<&str>) -> Result<(), ControlError>;
    /// What each jail knows of `addr`.
    fn explain(&self, addr: Target) -> Explain;
    /// The daemon's counters and gauges in the Prometheus text exposition format.
    fn metrics(&self) -> String;
}

/// Answers one command with `handler`.
pub fn dispatch(handler: &mut dyn Handler, command: Command) -> Response {
    match command {
        Command::Status {} => Response::from_result(Ok(handler.status())),
        Command::JailStatus { jail } => Response::from_result(handler.jail_status(&jail)),
        Command::Stats {} => Response::from_result(Ok(handler.stats())),
        Command::Banned { jail } => Response::from_result(handler.banned(jail.as_deref()).map(|mut b| {
            sort_bans(&mut b);
            b
        })),
        Command::Ban { jail, addr, time } => Response::from_result(handler.ban(&jail, addr, time)),
        Command::Unban { jail, addr } => {
            Response::from_result(handler.unban(jail.as_deref(), addr).and_then(|jails| {
                if jails.is_empty() {
                    let place = jail.map_or(String::new(), |j| format!(" in {j}"));
                    return Err(ControlError::not_found(format!("{addr} is not banned{place}")));
                }
                Ok(Unbanned { addr, jails })
            }))
        }
        Command::UnbanAll {} => {
            Response::from_result(handler.unban_all().map(|n| UnbannedAll { unbanned: n }))
        }
        Command::Reload { jail } => Response::from_result(handler.reload(jail.as_deref())),
        Command::Explain { addr } => Response::from_result(Ok(handler.explain(addr))),
        Command::Metrics {} => Response::from_result(Ok(handler.metrics())),
    }
}

/// A request a connection thread has read and checked, waiting for the daemon.
struct Pending {
    command: Command,
    peer: Peer,
    reply: SyncSender<Response>,
}

/// What the listener and connection threads share.
struct Shared {
    access: RwLock<Access>,
    /// The admin group's gid, looked up when the access is set (not at every accept).
    admin_gid: RwLock<Option<u32>>,
    queue: Sender<Pending>,
    wake: EventFd,
    /// The connections being served, each with a handle to close it (shutdown) if evicted.
    slots: Mutex<Slots<UnixStream>>,
}

impl Shared {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots<UnixStream>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn admin_gid(access: &Access) -> Option<u32> {
    access
        .admin_group
        .as_deref()
        .and_then(|g| sys::group_id(g).ok().flatten())
}

/// The control socket's server. Dropping it stops the listener and removes the socket file it
/// created (not one systemd passed).
pub struct Server {
    shared: Arc<Shared>,
    requests: Mutex<Receiver<Pending>>,
    stop: Arc<EventFd>,
    listener: Option<JoinHandle<()>>,
    /// The socket file this server created, and its inode.
    bound: Option<(PathBuf, u64)>,
}

impl Server {
    /// Serves a listening socket systemd passed (socket activation: the fd named "control").
    pub fn from_fd(fd: OwnedFd, access: Access) -> io::Result<Server> {
        let listener = UnixListener::from(fd);
        listener.local_addr()?;
        Server::start(listener, access, None)
    }

    /// Creates the socket at `path` (mode 0660, group [`Access::socket_group`] when banjo runs
    /// as root) and serves it. A stale socket file is replaced; a live one (another banjo
    /// answers) or a file that is not a socket is an error.
    pub fn bind(path: &Path, access: Access) -> io::Result<Server> {
        let at = |e: io::Error| io::Error::new(e.kind(), format!("control socket {}: {e}", path.display()));
        remove_stale(path).map_err(at)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(at)?;
        }
        let listener = UnixListener::bind(path).map_err(at)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o660)).map_err(at)?;
        if let Some(group) = access.socket_group() {
            match sys::group_id(group) {
                Ok(Some(gid)) => {
                    if let Err(e) = std::os::unix::fs::chown(path, None, Some(gid)) {
                        tracing::warn!(path = %path.display(), group, error = %e, "cannot give the control socket to its group");
                    }
                }
                _ => tracing::warn!(group, "the group named for the control socket does not exist"),
            }
        }
        let ino = fs::metadata(path).map_err(at)?.ino();
        Server::start(listener, access, Some((path.to_path_buf(), ino)))
    }

    fn start(listener: UnixListener, access: Access, bound: Option<(PathBuf, u64)>) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let (queue, requests) = mpsc::channel();
        let shared = Arc::new(Shared {
            admin_gid: RwLock::new(admin_gid(&access)),
            access: RwLock::new(access),
            queue,
            wake: EventFd::new()?,
            slots: Mutex::new(Slots::default()),
        });
        let stop = Arc::new(EventFd::new()?);
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::Builder::new()
                .name("banjo-control".into())
                .spawn(move || listen(&listener, &shared, &stop))?
        };
        Ok(Server {
            shared,
            requests: Mutex::new(requests),
            stop,
            listener: Some(thread),
            bound,
        })
    }

    /// Readable when requests wait: poll it in the daemon's loop, then call
    /// [`Server::handle_pending`].
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.shared.wake.as_fd()
    }

    /// Answers every queued request with `handler`, without waiting for more.
    pub fn handle_pending(&self, handler: &mut dyn Handler) {
        self.shared.wake.clear();
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        while let Ok(p) = requests.try_recv() {
            if p.command.changes_state() {
                tracing::info!(
                    command = p.command.name(),
                    uid = p.peer.uid,
                    pid = p.peer.pid,
                    "control request: {:?}",
                    p.command
                );
            }
            let response = dispatch(handler, p.command);
            // The connection may have given up waiting; then nobody needs the answer.
            let _ = p.reply.try_send(response);
        }
    }

    /// Takes new groups (after a reload); connections already checked keep their answer.
    pub fn set_access(&self, access: Access) {
        *self
            .shared
            .admin_gid
            .write()
            .unwrap_or_else(PoisonError::into_inner) = admin_gid(&access);
        *self.shared.access.write().unwrap_or_else(PoisonError::into_inner) = access;
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.shared.slots().len()
    }

    /// The socket file this server created, if it did.
    pub fn path(&self) -> Option<&Path> {
        self.bound.as_ref().map(|(p, _)| p.as_path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.signal();
        if let Some(thread) = self.listener.take() {
            let _ = thread.join();
        }
        if let Some((path, ino)) = &self.bound
            && fs::symlink_metadata(path).is_ok_and(|m| m.ino() == *ino)
        {
            let _ = fs::remove_file(path);
        }
    }
}

/// Removes a socket file nobody answers on; refuses a live one or a file that is no socket.
fn remove_stale(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists and is not a socket: remove it or choose another --socket",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another banjo (or banjo.socket) answers there: stop it first (systemctl stop banjo.socket banjo)",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// The listener thread: accepts until `stop` is signalled.
fn listen(listener: &UnixListener, shared: &Arc<Shared>, stop: &EventFd) {
    loop {
        let ready = match sys::poll(&[listener.as_raw_fd(), stop.as_fd().as_raw_fd()], None) {
            Ok(ready) => ready,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "control socket: poll failed");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if ready[1] {
            return;
        }
        match listener.accept() {
            Ok((stream, _)) => admit(stream, shared),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                // Out of fds, most likely: let some connections finish.
                tracing::warn!(error = %e, "control socket: accept failed");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Holds a connection's slot while its thread lives.
struct Held(Arc<Shared>, u64);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.slots().release(self.1);
    }
}

/// Gives the caller a slot and starts its connection thread, or answers `busy`. Runs on the
/// listener thread: nothing here waits for the client.
fn admit(stream: UnixStream, shared: &Arc<Shared>) {
    let peer = match Peer::of(&stream) {
        Ok(peer) => peer,
        Err(e) => {
            refuse(
                &stream,
                ControlError::internal(format!("cannot read the caller's credentials: {e}")),
            );
            return;
        }
    };
    let admin = shared
        .admin_gid
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some_and(|gid| peer.in_group(gid));
    let caller = Caller { uid: peer.uid, admin };
    let handle = match stream.try_clone() {
        Ok(handle) => handle,
        Err(e) => {
            refuse(
                &stream,
                ControlError::busy(format!("cannot take the connection: {e}")),
            );
            return;
        }
    };
    let admission = shared.slots().admit(caller, handle, Instant::now());
    let id = match admission {
        Admission::Busy(why) => {
            refuse(&stream, ControlError::busy(why));
            return;
        }
        Admission::Admitted { id, evicted } => {
            if let Some(idle) = evicted {
                // its thread's read ends now; its slot is this connection's already
                tracing::debug!("control socket: an idle connection closed to make room");
                let _ = idle.shutdown(Shutdown::Both);
            }
            id
        }
    };
    let held = Held(shared.clone(), id);
    let spawned = thread::Builder::new()
        .name("banjo-control-conn".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let shared = held.0.clone();
            serve(&stream, &shared, peer, held.1);
            drop(held);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "control socket: cannot start a connection thread");
    }
}

/// Answers `error` and closes, never blocking the listener on this client: one try.
fn refuse(stream: &UnixStream, error: ControlError) {
    let _ = stream.set_nonblocking(true);
    let mut writer = stream;
    let _ = writer.write_all(&Response::err(error).to_line());
}

/// A connection thread: one request, one answer, close.
fn serve(stream: &UnixStream, shared: &Shared, peer: Peer, id: u64) {
    let response = answer(stream, shared, peer, id).unwrap_or_else(Response::err);
    if let Err(e) = &response.0 {
        tracing::debug!(kind = %e.kind, "control request refused: {e}");
    }
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut writer = stream;
    let _ = writer.write_all(&response.to_line());
    let _ = stream.shutdown(Shutdown::Both);
}

fn answer(stream: &UnixStream, shared: &Shared, peer: Peer, id: u64) -> Result<Response, ControlError> {
    let line = read_request(stream, Instant::now() + REQUEST_TIMEOUT)?;
    shared.slots().working(id);
    let request = parse_request(&line)?;
    shared
        .access
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .check(&peer, &request.command)?;
    let (reply, answer) = mpsc::sync_channel(1);
    let pending = Pending {
        command: request.command,
        peer,
        reply,
    };
    if shared.queue.send(pending).is_err() {
        return Err(ControlError::internal("banjo is shutting down"));
    }
    shared.wake.signal();
    match answer.recv_timeout(REPLY_TIMEOUT) {
        Ok(response) => Ok(response),
        Err(RecvTimeoutError::Timeout) => Err(ControlError::busy(format!(
            "the daemon did not answer within {} s: it may be busy, try again",
            REPLY_TIMEOUT.as_secs()
        ))),
        Err(RecvTimeoutError::Disconnected) => Err(ControlError::internal("banjo is shutting down")),
    }
}

/// Reads one line (without its newline) before `deadline`. End of input ends the line too.
fn read_request(stream: &UnixStream, deadline: Instant) -> Result<Vec<u8>, ControlError> {
    let slow = || {
        ControlError::bad_request(format!(
            "no complete request line within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))
    };
    let mut line = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut reader = stream;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(slow());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| ControlError::internal(format!("cannot set a read timeout: {e}")))?;
        let n = match reader.read(&mut chunk) {
            Ok(0) if line.is_empty() => {
                return Err(ControlError::bad_request(
                    "the connection closed before a request",
                ));
            }
            Ok(0) => return Ok(line),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(slow());
            }
            Err(e) => return Err(ControlError::bad_request(format!("reading the request: {e}"))),
        };
        let end = memchr::memchr(b'\n', &chunk[..n]);
        line.extend_from_slice(&chunk[..end.unwrap_or(n)]);
        if line.len() > MAX_REQUEST {
            return Err(ControlError::bad_request(format!(
                "the request is longer than {} KiB",
                MAX_REQUEST / 1024
            )));
        }
        if end.is_some() {
            return Ok(line);
        }
    }
}

#[cfg(test)]
mod tests;
