//! One scrape request as `banjo metrics --http` reads it from the network (anyone who can reach
//! 127.0.0.1:9110 sends these bytes): reading the head and parsing it never panic, a head is
//! never longer than the cap plus one read, and a refusal is a 4xx or 5xx status.
#![no_main]

use std::time::Duration;

use banjo::metrics::http::{MAX_HEAD, parse, read_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    match read_head(&mut input, |_| Ok(true), Duration::from_secs(1)) {
        Ok(head) => {
            assert!(head.len() <= MAX_HEAD + 1024);
            if let Err(refusal) = parse(&head) {
                assert!((400..600).contains(&refusal.status));
            }
        }
        Err(refusal) => assert!((400..600).contains(&refusal.status)),
    }
    if let Err(refusal) = parse(data) {
        assert!((400..600).contains(&refusal.status));
    }
});
