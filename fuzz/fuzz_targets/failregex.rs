//! A fail2ban failregex (first line of the input) compiled and run over a log line (the rest):
//! neither the dialect rewrite nor the engines may panic on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (regex, line) = text.split_once('\n').unwrap_or((text, ""));
    for multi_line in [false, true] {
        if let Ok(p) = banjo::filter::Pattern::compile_with(regex, multi_line) {
            let _ = p.captures(line.as_bytes());
        }
    }
});
