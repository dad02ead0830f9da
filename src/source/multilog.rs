//! qmail's multilog lines from pipes: FIFOs that systemd passes as named listen fds
//! (a `.socket` unit with `ListenFIFO=` and `FileDescriptorName=`), or FIFOs banjo opens itself.
//!
//! Reads never block: a stalled or silent pipe costs nothing, a writer that restarts is not an
//! end, partial lines wait for their rest, overlong lines are skipped and counted.
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::filter::time::{self, TimeFinder};
use crate::source::Entry;
use crate::source::lines::LineReader;

/// The most one read of a pipe takes before the daemon's loop goes on (the rest waits in the
/// pipe, and the loop's poll wakes at once for it): a writer that does not pause would
/// otherwise keep the loop reading, and every entry of its burst in memory at once (a
/// million failures, 45 MB, written at once held 627 MB). A MiB is about 10,000 lines of a
/// mail log.
pub const TURN_BYTES: usize = 1 << 20;

/// One pipe of stamped lines.
pub struct Pipe {
    pub name: String,
    reader: LineReader<File>,
    times: TimeFinder,
    cut: Vec<u8>,
    /// The writer side is gone for good (a plain pipe whose writer exited).
    pub closed: bool,
    pub lines: u64,
}

impl Pipe {
    /// A listen fd systemd passed (the fd is made non-blocking here).
    pub fn from_fd(name: &str, fd: OwnedFd) -> io::Result<Pipe> {
        crate::sys::set_nonblocking(fd.as_fd())?;
        Ok(Pipe::new(name, File::from(fd)))
    }

    /// A FIFO at `path`, opened read-write so that no writer closing it is ever an end of file
    /// (what systemd's ListenFIFO does too). A path that is not a FIFO is refused: banjo never
    /// creates or reads a plain file there.
    pub fn open_fifo(path: &Path) -> io::Result<Pipe> {
        let meta = std::fs::metadata(path)?;
        if !meta.file_type().is_fifo() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a FIFO (create it with mkfifo, or let a .socket unit with ListenFIFO= own it)",
                    path.display()
                ),
            ));
        }
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        Ok(Pipe::new(&path.display().to_string(), f))
    }

    fn new(name: &str, f: File) -> Pipe {
        Pipe {
            name: name.to_string(),
            reader: LineReader::new(f),
            times: TimeFinder::new(jiff::tz::TimeZone::system()),
            cut: Vec::new(),
            closed: false,
            lines: 0,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.reader.get_ref().as_fd()
    }

    /// Lines skipped for being too long.
    pub fn overlong(&self) -> u64 {
        self.reader.overlong
    }

    /// Reads what is there now, up to about [`TURN_BYTES`]; each complete line becomes an
    /// entry with its TAI64N (or tai64nlocal) time, or `now` when it carries none.
    pub fn read_available(&mut self, now: jiff::Timestamp, mut each: impl FnMut(Entry)) -> io::Result<()> {
        let Pipe {
            reader,
            times,
            cut,
            lines,
            ..
        } = self;
        let open = reader.read_available(TURN_BYTES, &mut |line: &[u8]| {
            *lines += 1;
            let mut entry = match times.find(line, now) {
                Some(found) => Entry {
                    time: found.time.or(Some(now)),
                    text: time::cut(line, &found, cut).to_vec(),
                },
                None => Entry {
                    time: Some(now),
                    text: line.to_vec(),
                },
            };
            crate::source::one_record(&mut entry.text);
            each(entry);
        })?;
        if !open {
            self.closed = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("feed.fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        p
    }

    fn read(p: &mut Pipe) -> Vec<Entry> {
        let mut v = Vec::new();
        p.read_available("2026-11-24T12:00:00Z".parse().unwrap(), |e| v.push(e))
            .unwrap();
        v
    }

    #[test]
    fn stamped_lines_get_their_tai64n_time_and_partial_lines_wait() {
        let d = tempfile::tempdir().unwrap();
        let path = fifo(d.path());
        let mut pipe = Pipe::open_fifo(&path).unwrap();
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        w.write_all(
            b"@400000006b059bd923f81394 GREETDELAY from 192.0.2.1: client sent data before greeting\n@4000",
        )
        .unwrap();
        let got = read(&mut pipe);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].time.unwrap().as_second(), 1795529679);
        assert!(
            got[0].text.starts_with(b" GREETDELAY"),
            "the blank after the date stays, as in fail2ban"
        );
        w.write_all(
            b"00006b059bd923f81394 qmail-smtpd: reject (auth not available): (null) from 192.0.2.2\n",
        )
        .unwrap();
        let got = read(&mut pipe);
        assert_eq!(got.len(), 1, "the partial line was joined");
        assert!(got[0].text.starts_with(b" qmail-smtpd: reject"));
    }

    #[test]
    fn writer_closing_is_not_an_end() {
        let d = tempfile::tempdir().unwrap();
        let path = fifo(d.path());
        let mut pipe = Pipe::open_fifo(&path).unwrap();
        {
            let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            w.write_all(b"one\n").unwrap();
        }
        assert_eq!(read(&mut pipe).len(), 1);
        assert!(!pipe.closed);
        assert!(
            read(&mut pipe).is_empty(),
            "no spin on a closed writer: nothing to read"
        );
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        w.write_all(b"two\n").unwrap();
        assert_eq!(read(&mut pipe).len(), 1, "a restarted writer is read");
    }

    #[test]
    fn a_plain_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plain");
        std::fs::write(&p, "x").unwrap();
        let e = Pipe::open_fifo(&p).err().unwrap();
        assert!(e.to_string().contains("not a FIFO"), "{e}");
    }

    #[test]
    fn garbage_and_invalid_utf8_are_tolerated() {
        let d = tempfile::tempdir().unwrap();
        let path = fifo(d.path());
        let mut pipe = Pipe::open_fifo(&path).unwrap();
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        w.write_all(b"\xff\xfe\x00garbage\n@4000zzzz not a stamp\n\n")
            .unwrap();
        let got = read(&mut pipe);
        assert_eq!(got.len(), 3);
        assert!(
            got.iter().all(|e| e.time.is_some()),
            "lines without a stamp get the read time"
        );
    }
}
