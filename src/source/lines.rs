//! Splitting a byte stream (file, stdin, pipe) into lines without copying each one.
//!
//! Lines longer than the cap are skipped and counted, never buffered without bound; invalid
//! UTF-8 passes through as bytes; a final line without a newline is still a line.
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// The complete lines a reader holds at once, as one slice: a line handed out lies in
/// `bytes`, with the lines after it following it there, so a prefilter can search ahead
/// across many lines in one call ([`crate::filter::matchset::Scratch::look_ahead`]). `fill`
/// names the read that brought the bytes, unique in the process: a window at the same
/// address and of the same length but from another fill is other bytes.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub bytes: &'a [u8],
    pub fill: u64,
}

/// Fills of every reader, so that no two windows share a `fill`.
static FILLS: AtomicU64 = AtomicU64::new(0);

/// Longest line kept by default; a longer one is skipped (and counted).
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start and end of the unread bytes in `buf`.
    start: usize,
    end: usize,
    max_line: usize,
    /// Inside an overlong line: drop bytes until its newline.
    skipping: bool,
    /// Lines skipped for being longer than `max_line`.
    pub overlong: u64,
    eof: bool,
    /// The last fill's number (see [`Window`]).
    fill: u64,
    /// Bytes read so far.
    read: u64,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_max_line(inner, DEFAULT_MAX_LINE)
    }

    pub fn with_max_line(inner: R, max_line: usize) -> Self {
        let cap = (max_line * 2).max(1 << 20);
        LineReader {
            inner,
            buf: vec![0; cap],
            start: 0,
            end: 0,
            max_line,
            skipping: false,
            overlong: 0,
            eof: false,
            fill: 0,
            read: 0,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Calls `f` with each complete line (without its `\n` or `\r\n`) until end of input.
    pub fn for_each_line(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        self.for_each_line_in(|line, _| f(line))
    }

    /// [`LineReader::for_each_line`], each line with the [`Window`] it lies in.
    pub fn for_each_line_in(&mut self, mut f: impl FnMut(&[u8], Window<'_>)) -> io::Result<()> {
        while self.fill()? {
            self.drain_in(&mut f);
        }
        self.drain_in(&mut f);
        if self.start < self.end && !self.skipping {
            let window = Window {
                bytes: &self.buf[self.start..self.end],
                fill: self.fill,
            };
            f(trim_cr(window.bytes), window);
        }
        self.start = 0;
        self.end = 0;
        Ok(())
    }

    /// Hands out the complete lines that are in the buffer now.
    pub fn drain(&mut self, f: &mut impl FnMut(&[u8])) {
        self.drain_in(&mut |line, _| f(line));
    }

    fn drain_in(&mut self, f: &mut impl FnMut(&[u8], Window<'_>)) {
        let window = Window {
            bytes: &self.buf[self.start..self.end],
            fill: self.fill,
        };
        let mut at = 0;
        while let Some(nl) = memchr::memchr(b'\n', &window.bytes[at..]) {
            let line = &window.bytes[at..at + nl];
            if self.skipping {
                self.skipping = false;
            } else if line.len() > self.max_line {
                self.overlong += 1;
            } else {
                f(trim_cr(line), window);
            }
            at += nl + 1;
        }
        self.start += at;
    }

    /// Reads what a non-blocking fd has now, but no more than about `limit` bytes (it stops
    /// after the read that reaches it), and hands out the complete lines; a partial line waits
    /// in the buffer for the rest. Returns false at end of input (writer gone). The limit
    /// keeps a writer that never pauses from holding the caller, and the caller from holding
    /// all it wrote: a level-triggered poll wakes again for the rest.
    pub fn read_available(&mut self, limit: usize, f: &mut impl FnMut(&[u8])) -> io::Result<bool> {
        let first = self.read;
        loop {
            if self.read - first >= limit as u64 {
                return Ok(true);
            }
            match self.fill() {
                Ok(true) => self.drain(f),
                Ok(false) => {
                    self.drain(f);
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads more bytes; false at end of input. Keeps a partial line, or starts skipping it
    /// once it outgrows the cap.
    pub fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        // what follows moves or adds bytes: windows handed out before are stale
        self.fill = FILLS.fetch_add(1, Ordering::Relaxed) + 1;
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end > self.max_line {
            if !self.skipping {
                self.overlong += 1;
            }
            self.skipping = true;
            self.end = 0;
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    self.read += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> (Vec<String>, u64) {
        let mut r = LineReader::with_max_line(input, max);
        let mut out = Vec::new();
        r.for_each_line(|l| out.push(String::from_utf8_lossy(l).into_owned()))
            .unwrap();
        (out, r.overlong)
    }

    #[test]
    fn splits_and_keeps_a_last_line_without_newline() {
        assert_eq!(lines(b"a\nb\r\n\nc", 100).0, vec!["a", "b", "", "c"]);
    }

    #[test]
    fn overlong_lines_are_skipped_and_counted() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3_000_000));
        input.extend(b"\nafter\n");
        let (l, over) = lines(&input, 1000);
        assert_eq!(l, vec!["short", "after"]);
        assert_eq!(over, 1);
    }

    /// Input that comes `.1` bytes a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_across_reads_are_joined() {
        let mut r = LineReader::new(Trickle(b"hello world\nsecond line\n", 3));
        let mut out = Vec::new();
        r.for_each_line(|l| out.push(l.to_vec())).unwrap();
        assert_eq!(out, vec![b"hello world".to_vec(), b"second line".to_vec()]);
    }

    #[test]
    fn invalid_utf8_passes_through() {
        assert_eq!(lines(b"\xff\xfe ok\n", 100).0.len(), 1);
    }

    #[test]
    fn each_line_lies_in_its_window_and_each_fill_has_its_own() {
        // reads of 7 bytes: lines end up spread over fills, and moved to the buffer's start
        let input = b"one\ntwo two\nthree\n\nfour four four\nfive";
        let mut r = LineReader::new(Trickle(input, 7));
        let mut seen: Vec<(Vec<u8>, Vec<u8>, u64)> = Vec::new();
        r.for_each_line_in(|line, w| {
            let (base, at) = (w.bytes.as_ptr() as usize, line.as_ptr() as usize);
            assert!(base <= at && at + line.len() <= base + w.bytes.len());
            seen.push((line.to_vec(), w.bytes.to_vec(), w.fill));
        })
        .unwrap();
        let lines: Vec<&[u8]> = seen.iter().map(|(l, _, _)| &l[..]).collect();
        assert_eq!(lines, input.split(|b| *b == b'\n').collect::<Vec<_>>());
        // one fill, one window: lines of the same fill saw the same bytes
        for pair in seen.windows(2) {
            if pair[0].2 == pair[1].2 {
                assert_eq!(pair[0].1, pair[1].1);
            }
        }
        assert!(
            seen.iter()
                .map(|s| s.2)
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 3
        );
    }

    #[test]
    fn a_writer_that_never_pauses_does_not_hold_the_reader() {
        struct Endless;
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(4096) / 8 * 8;
                for chunk in buf[..n].chunks_mut(8) {
                    chunk.copy_from_slice(b"a line\n\n");
                }
                Ok(n)
            }
        }
        let mut r = LineReader::new(Endless);
        let mut lines = 0;
        assert!(r.read_available(100_000, &mut |_| lines += 1).unwrap());
        // 8 bytes make two lines; the last read may pass the limit by one read's worth
        assert!((25_000..=27_000).contains(&lines), "{lines}");
        assert!(r.read_available(100_000, &mut |_| lines += 1).unwrap());
        assert!((50_000..=54_000).contains(&lines), "{lines}");
    }
}
