//! The control protocol's parsers on arbitrary bytes: a request line (what any local user
//! can send to the daemon) and a response line (what the CLI reads). Neither may panic; an
//! accepted request re-encodes to itself; every refusal is a `bad_request`.
#![no_main]

use banjo::control::{ErrorKind, Response, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(request) => {
            let again = parse_request(&request.to_line()).expect("a request re-encodes");
            assert_eq!(again, request);
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::BadRequest),
    }
    let _ = Response::parse(data);
});
