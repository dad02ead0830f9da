//! One scrape over HTTP/1.x, as `banjo metrics --http` answers it on the connection systemd
//! accepted (banjo-metrics.socket, Accept=yes): the request head read with a size cap and a
//! deadline, `GET /metrics` (or `HEAD`) answered with the text, anything else with the status
//! that says why, and the connection closed. Parsing is pure (bytes in, a [`Route`] out) and
//! fuzzed (fuzz/fuzz_targets/http_request.rs); reading takes any `Read` and a readiness wait.
//!
//! No HTTP crate: a scraper sends one small GET, and a request line plus a blank line is all
//! this reads; keep-alive, bodies, chunking and TLS are not needed on a loopback socket.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::exposition::CONTENT_TYPE;

/// The longest request head read (a scraper's is a few hundred bytes).
pub const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (a query string is ignored); `head`: HEAD, headers only.
    Metrics { head: bool },
    /// `GET /`: a line pointing at /metrics.
    Index { head: bool },
}

/// A refusal: the status and a line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

/// Reads the request head (up to its blank line) from `input`; `ready` waits until `input`
/// has bytes or the time left runs out (false: it did not come).
pub fn read_head(
    input: &mut impl Read,
    mut ready: impl FnMut(Duration) -> io::Result<bool>,
    timeout: Duration,
) -> Result<Vec<u8>, Refusal> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(Refusal::new(431, "the request head is longer than 8 KiB"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let timed_out = || Refusal::new(408, "no complete request within 5 s");
        if left.is_zero() || !ready(left).map_err(|e| Refusal::new(400, e.to_string()))? {
            return Err(timed_out());
        }
        match input.read(&mut buf) {
            Ok(0) if head.is_empty() => return Err(Refusal::new(400, "no request")),
            Ok(0) => return Err(Refusal::new(400, "the request ended before its blank line")),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Refusal::new(400, e.to_string())),
        }
    }
}

/// Where the head ends: after the blank line (`\r\n\r\n` or a bare `\n\n`).
fn head_end(head: &[u8]) -> Option<usize> {
    let crlf = head.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = head.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a request head asks for.
pub fn parse(head: &[u8]) -> Result<Route, Refusal> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end].strip_suffix(b"\r").unwrap_or(&head[..line_end]);
    let line = std::str::from_utf8(line).map_err(|_| Refusal::new(400, "the request line is not text"))?;
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Refusal::new(
            400,
            "expected a request line such as GET /metrics HTTP/1.1",
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Refusal::new(505, format!("{version:?} is not HTTP/1.x")));
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Err(Refusal::new(
                405,
                format!("{method} is not served here: GET /metrics"),
            ));
        }
    };
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match path {
        "/metrics" => Ok(Route::Metrics { head: head_only }),
        "/" => Ok(Route::Index { head: head_only }),
        _ => Err(Refusal::new(404, format!("nothing at {path}: try /metrics"))),
    }
}

/// One response, with its length, closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// HEAD: the headers say the body's length, the body is not sent.
    pub head_only: bool,
}

impl Response {
    /// The metrics text.
    pub fn metrics(text: String, head_only: bool) -> Response {
        Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: text.into_bytes(),
            head_only,
        }
    }

    /// The index: where the metrics are.
    pub fn index(head_only: bool) -> Response {
        Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: b"banjo: the metrics are at /metrics\n".to_vec(),
            head_only,
        }
    }

    /// A refusal or a failure, its message as the body.
    pub fn error(status: u16, message: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{message}\n").into_bytes(),
            head_only: false,
        }
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn always(_: Duration) -> io::Result<bool> {
        Ok(true)
    }

    #[test]
    fn a_scrapers_get_is_the_metrics() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9110\r\nUser-Agent: Prometheus/2.42.0\r\n\
                     Accept: text/plain;version=0.0.4\r\nAccept-Encoding: gzip\r\n\r\n";
        let got = read_head(&mut &head[..], always, READ_TIMEOUT).unwrap();
        assert_eq!(parse(&got), Ok(Route::Metrics { head: false }));
        assert_eq!(
            parse(b"HEAD /metrics?x=1 HTTP/1.0\n\n"),
            Ok(Route::Metrics { head: true })
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Ok(Route::Index { head: false }));
    }

    #[test]
    fn other_requests_get_the_status_that_says_why() {
        let status = |head: &[u8]| parse(head).unwrap_err().status;
        assert_eq!(status(b"POST /metrics HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"GET /admin HTTP/1.1\r\n\r\n"), 404);
        assert_eq!(status(b"GET /metrics HTTP/2\r\n\r\n"), 505);
        assert_eq!(status(b"GET /metrics\r\n\r\n"), 400);
        assert_eq!(status(b"GET  /metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"\xff\xfe /metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b""), 400);
    }

    #[test]
    fn a_head_that_never_ends_is_cut_at_8_kib() {
        let endless = vec![b'a'; 3 * MAX_HEAD];
        let e = read_head(&mut &endless[..], always, READ_TIMEOUT).unwrap_err();
        assert_eq!(e.status, 431);
    }

    #[test]
    fn a_silent_or_short_client_is_told_so() {
        let e = read_head(&mut &b"GET /metrics HTTP/1.1\r\n"[..], always, READ_TIMEOUT).unwrap_err();
        assert_eq!(e.status, 400, "{e:?}");
        let e = read_head(&mut &b""[..], |_| Ok(false), READ_TIMEOUT).unwrap_err();
        assert_eq!(e.status, 408);
    }

    #[test]
    fn the_response_has_length_type_and_closes() {
        let r = Response::metrics("banjo_up 1\n".into(), false).to_bytes();
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert!(text.contains("Content-Length: 11\r\nConnection: close\r\n\r\nbanjo_up 1\n"));
        let head = Response::metrics("banjo_up 1\n".into(), true).to_bytes();
        assert!(
            String::from_utf8(head)
                .unwrap()
                .ends_with("Content-Length: 11\r\nConnection: close\r\n\r\n")
        );
        let refused = String::from_utf8(Response::error(405, "no").to_bytes()).unwrap();
        assert!(refused.contains("Allow: GET, HEAD\r\n"), "{refused}");
    }
}
