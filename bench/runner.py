#!/usr/bin/env python3
"""bench/runner.py: run every case's tools, check their counts against the truth, time them.

  1. verify (untimed, once): every tool's count; per-address counts where a tool prints them
     (banjo --json, fail2ban-rs, the ceiling); journalctl's entry count. Warms the page cache.
  2. rounds: per case, its tools in turn (A B C A B C ...), each pinned to one core with
     taskset, so that a shared machine's drift hits every tool alike. Wall clock from fork to
     reap, CPU time from the child's rusage, the count parsed from its output and checked.

Writes OUT/runs.tsv (every timed run) and OUT/verify.tsv (every check) and prints a line per
run. Exits 1 (after writing everything) when a count of banjo or of the ceiling differs from
the truth, or, with --strict, any tool's: a peer's wrong count is a finding the table shows.

usage: runner.py --work DIR --logs DIR --out DIR [--rounds 3] [--cpu 1] [--suites files,journal]
                 [--journal-dir DIR --journal-entries N]
Tools: see cases.py (BANJO, F2B_REGEX, F2BRS, CEILING, JREAD in the environment).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as C  # noqa: E402

RUNS_HEADER = "suite\tcase\tlabel\ttool\trole\tround\tsize\tunit\twall_s\tcpu_s\tcount\texpected\tok\n"
VERIFY_HEADER = "suite\tcase\ttool\tcheck\texpected\tgot\tok\n"


def run(argv, cpu, env, stdout_path, timeout):
    """One run pinned to `cpu`: (wall s, cpu s, exit code)."""
    cmd = ["taskset", "-c", str(cpu), *argv] if cpu is not None else list(argv)
    with open(stdout_path, "wb") as out, open(stdout_path + ".err", "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(os.environ, **env))
        killer = threading.Timer(timeout, p.kill)  # a hung tool is killed: its run reports rc=-9
        killer.start()
        _, status, ru = os.wait4(p.pid, 0)  # wait4, not wait: the child's own rusage
        killer.cancel()
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    return wall, ru.ru_utime + ru.ru_stime, p.returncode


def count_of(tool, text):
    vals = [int(m.group(1)) for m in re.finditer(tool.count_re, text, re.M)]
    return sum(vals) if vals else None


def expected_of(tool, case):
    return case.expected if tool.counts == "matches" else case.size


def truth(logs, name):
    want = Counter()
    for line in open(os.path.join(logs, "truth.tsv")):
        f, addr, n = line.rstrip("\n").split("\t")
        if f == name:
            want[addr] = int(n)
    return want


def has_addresses(tool, case):
    return tool.role == "banjo" or tool.name == "fail2ban-rs" or (tool.role == "ceiling" and case.suite == "files")


def addresses(tool, case, scratch, logs):
    """Per-address counts, where the tool can print them: a Counter, or None."""
    if not has_addresses(tool, case):
        return None
    if tool.role == "banjo":
        out = subprocess.run(tool.argv + ["--json"], capture_output=True, text=True, check=True).stdout
        return Counter({h["host"]: h["failures"] for h in json.loads(out)["hosts"]})
    if tool.role == "ceiling" and case.suite == "files":
        out = subprocess.run([tool.argv[0], "--addresses", *tool.argv[1:]], capture_output=True, text=True,
                             check=True).stdout
        return Counter({a: int(n) for a, n in (ln.split("\t") for ln in out.splitlines()[1:])})
    if tool.name == "fail2ban-rs":
        text = open(scratch).read()
        return Counter({m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\S+): (\d+) failures", text, re.M)})
    return None


def counts_fail(tool, strict):
    return strict or tool.role in ("banjo", "ceiling")


def verify(cases, logs, scratch_dir, verify_f, timed, strict):
    """With `timed`, a tool whose count the timed runs check and that prints no addresses is
    left to them (fail2ban-regex on a 1M-line log is a minute)."""
    ok = True

    def record(case, tool, check, exp, got, good=None):
        nonlocal ok
        good = exp == got if good is None else good
        ok &= good or not counts_fail(tool, strict)
        verify_f.write(f"{case.suite}\t{case.name}\t{tool.name}\t{check}\t{exp}\t{got}\t{'ok' if good else 'WRONG'}\n")
        print(f"  verify {case.name:8} {tool.name:24} {check:9} {'ok' if good else 'WRONG'}: expected {exp}, got {got}",
              flush=True)

    for case in cases:
        want = truth(logs, "merged" if case.suite == "journal" else case.name)
        for tool in case.tools:
            if timed and tool.count_re and not has_addresses(tool, case):
                continue
            out = os.path.join(scratch_dir, f"{case.name}.{tool.role}.{tool.name.split()[0]}.out")
            _, _, rc = run(tool.argv, None, tool.env, out, 3600)
            if rc != 0:
                record(case, tool, "exit code", 0, rc)
                continue
            if tool.count_re:
                record(case, tool, "count", expected_of(tool, case), count_of(tool, open(out, errors="replace").read()))
            else:  # journalctl -o cat: one line per entry
                with open(out, "rb") as f:
                    record(case, tool, "count", expected_of(tool, case), sum(b.count(b"\n") for b in iter(lambda: f.read(1 << 20), b"")))
            got = addresses(tool, case, out, logs)
            if got is not None:
                diff = sorted(a for a in set(want) | set(got) if want[a] != got[a])
                record(case, tool, "addresses", f"{len(want)} addresses", f"{len(got)} addresses"
                       + (f", {len(diff)} differ, e.g. {diff[0]}: {want[diff[0]]} vs {got[diff[0]]}" if diff else ""),
                       good=not diff)
    return ok


def rounds(cases, n, cpu, scratch_dir, runs_f, timeout, strict):
    ok = True
    for case in cases:
        for r in range(n):
            for tool in case.tools:
                out = os.path.join(scratch_dir, "timed.out") if tool.stdout else os.devnull
                wall, cpu_s, rc = run(tool.argv, cpu, tool.env, out, timeout)
                exp = expected_of(tool, case)
                got = count_of(tool, open(out, errors="replace").read()) if tool.stdout and tool.count_re else ""
                good = rc == 0 and (got == "" or got == exp)
                ok &= good or (rc == 0 and not counts_fail(tool, strict))
                runs_f.write(f"{case.suite}\t{case.name}\t{case.label}\t{tool.name}\t{tool.role}\t{r + 1}\t{case.size}\t{case.unit}\t"
                             f"{wall:.4f}\t{cpu_s:.4f}\t{got}\t{exp}\t{'ok' if good else 'WRONG' if rc == 0 else f'rc={rc}'}\n")
                runs_f.flush()
                print(f"  round {r + 1}/{n} {case.name:8} {tool.name:24} {wall:8.3f} s  {case.size / wall:>12,.0f} "
                      f"{case.unit}/s  {got if got != '' else '-'}{'' if good else '  WRONG (want ' + str(exp) + ')'}",
                      flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=None, help="pin each timed tool to this CPU (taskset)")
    ap.add_argument("--suites", default="files")
    ap.add_argument("--journal-dir")
    ap.add_argument("--journal-entries", type=int)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--strict", action="store_true", help="any tool's wrong count fails the run")
    a = ap.parse_args()
    C.write_filters(a.work, C.load_patterns())
    suites = a.suites.split(",")
    cases = C.file_cases(a.work, a.logs, os.environ) if "files" in suites else []
    if "journal" in suites:
        cases.append(C.journal_case(a.work, a.logs, os.environ, a.journal_dir, a.journal_entries))
    scratch = os.path.join(a.work, "out")
    os.makedirs(scratch, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "verify.tsv"), "w") as vf:
        vf.write(VERIFY_HEADER)
        print("verify: counts and per-address counts against the truth (untimed)", flush=True)
        ok = verify(cases, a.logs, scratch, vf, a.rounds > 0, a.strict)
    with open(os.path.join(a.out, "runs.tsv"), "w") as rf:
        rf.write(RUNS_HEADER)
        if a.rounds:
            print(f"timed: {a.rounds} rounds, each tool on CPU {a.cpu}", flush=True)
            ok &= rounds(cases, a.rounds, a.cpu, scratch, rf, a.timeout, a.strict)
    if not ok:
        print(f"runner: counts differ from the truth or a tool failed (see {a.out}/verify.tsv and runs.tsv)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
