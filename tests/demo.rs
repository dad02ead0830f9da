//! `make demo` (tests/demo.sh) as a test, with this build's banjo: it must run to "demo done"
//! and leave no process behind. It used to stop the shell and nsenter wrappers it had
//! started and leave banjo and systemd-journald running. Every process the demo starts
//! inherits a marker in its environment; after the demo, none may be left. Needs root.
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Pids of the processes whose environment holds `NAME=VALUE`.
fn processes_with(name: &str, value: &str) -> Vec<(u32, String)> {
    let wanted = format!("{name}={value}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == wanted.as_bytes()))
        })
        .map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, comm.trim().to_string())
        })
        .collect()
}

#[test]
fn the_demo_runs_and_leaves_no_process_behind() {
    skip_unless_capable!();
    for tool in ["python3", "logger", "bash"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            eprintln!("skipped: needs {tool}");
            return;
        }
    }
    let mark = format!("{}-{}", std::process::id(), common::next_serial());
    // Output into a file, not a pipe: a process the demo left behind would hold a pipe open.
    let dir = common::temp_dir("bjt-demo");
    let log_path = dir.path().join("demo.out");
    let log = std::fs::File::create(&log_path).expect("demo log");
    let mut demo = Command::new("bash")
        .arg("tests/demo.sh")
        .arg(env!("CARGO_BIN_EXE_banjo"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env("BANJO_DEMO_MARK", &mark)
        .stdout(log.try_clone().expect("demo log"))
        .stderr(log)
        .spawn()
        .expect("bash runs the demo");
    let mut status = None;
    common::wait_until(Duration::from_secs(120), || {
        status = demo.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = demo.kill();
        let _ = demo.wait();
    }
    // Bounded: a process killed a moment ago may still be on its way out.
    let mut left = processes_with("BANJO_DEMO_MARK", &mark);
    common::wait_until(Duration::from_secs(2), || {
        left = processes_with("BANJO_DEMO_MARK", &mark);
        left.is_empty()
    });
    for (pid, _) in &left {
        common::signal(*pid, libc::SIGKILL);
    }
    let out = std::fs::read_to_string(&log_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the demo did not finish within 120 s:\n{out}"));
    assert!(status.success(), "the demo failed ({status}):\n{out}");
    assert!(out.contains("demo done"), "{out}");
    assert!(
        out.contains("NO ANSWER (dropped)") && out.contains("MESSAGE=Ban 192.0.2.2"),
        "the demo shows the ban: {out}"
    );
    assert!(left.is_empty(), "the demo left {left:?} running\n{out}");
}
