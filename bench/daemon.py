#!/usr/bin/env python3
"""bench/daemon.py: the daemon suite of make bench: banjo run measured in private namespaces.

  idle          RSS after start; wake-ups per minute of a banjo with no log traffic (context
                switches of all its threads, /proc/PID/task/*/status, over --idle-s seconds);
                the wake-ups and CPU one lone journal entry costs (the hot window's price)
  burst-*       ban latency: failure written -> element in the kernel set (seen by `nft
                monitor`), p50/p99/max over N bans, each a burst of 5 failures 100 ms apart
                from one address (maxretry = 5: the 5th bans; timed from the 5th); a burst
                starts every 200 ms, so about two are under way at once
  isolated-*    the same for single failures (maxretry = 1) with the source quiet before each:
                1.5 s apart on the journal (longer than banjo's hot window and journald's
                250 ms notice), 50 ms apart on a pipe
                (* = journal: through a private journald; pipe: a multilog FIFO)
  intake        journal entries/s through `banjo run`'s reader, routing, filters and counting
                (10 jails, a huge maxretry), beside the bare sd-journal read (bench/jread.c),
                the same reading every field of each entry (jread -a: the floor of a reader
                that builds banjo's line) and journalctl -o cat of the same journal, each
                pinned to one core, in rounds; by
                the wall clock and by each reader's CPU time (banjo's "caught up" line gives
                its loop thread's)
  restore       100k bans in the state file: start until READY=1 (state read, table applied,
                kernel reconciled), RSS, elements in the kernel

Nothing touches the host: the journald, the nftables table and the addresses all live in
namespaces this script makes and removes (root needed).

usage: bench/daemon.py BANJO [--before BANJO] [--bans N] [--isolated N] [--restore N]
                       [--entries N] [--rounds N] [--idle-s S] [--only NAME,...] [--json FILE]
--before: a second binary (say, main's) measured in the same run, measurement by measurement
(intake: round by round), reported as "NAME (before)" beside "NAME".
Each measurement is a function listed in MEASUREMENTS; each binary gets a fresh Lab per
measurement (intake: one Lab, one journal, every reader in turn). --json writes
{name: figures} for bench/report.py.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from journald import PrivateJournald, wait_for  # noqa: E402


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


class Lab:
    """A private journald (bench/journald.py) and a server network namespace, made and removed
    per measurement."""

    wait = staticmethod(wait_for)

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="banjo-bench.")
        self.ns = f"banjo-bench-{os.getpid()}"
        for d in ("state", "runtime"):
            os.makedirs(os.path.join(self.dir, d))
        self.journald = PrivateJournald(self.dir)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")

    def in_ns(self, argv, net=False):
        """argv in the journald's mount namespace, and with net=True in the server's netns."""
        return self.journald.in_ns(argv, [f"--net=/run/netns/{self.ns}"] if net else [])

    def send(self, ident, message):
        self.journald.send(ident, message)

    def close(self):
        self.journald.stop()
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Banjo:
    def __init__(self, lab, binary, config, extra=(), pin=None):
        self.lab = lab
        self.cfg = os.path.join(lab.dir, "config.toml")
        with open(self.cfg, "w") as f:
            f.write(config.replace("@STATE@", os.path.join(lab.dir, "state")))
        self.notify_path = os.path.join(lab.dir, "notify.sock")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, RUNTIME_DIRECTORY=os.path.join(lab.dir, "runtime"))
        self.err = open(os.path.join(lab.dir, "banjo.err"), "w")
        self.t0 = time.monotonic()
        argv = [binary, "--config", self.cfg, "run", "--log", "stderr", *extra]
        if pin is not None:
            argv = ["taskset", "-c", pin, *argv]  # taskset execs banjo: the pid stays banjo's
        self.proc = subprocess.Popen(lab.in_ns(argv, net=True), env=env, stderr=self.err)

    def wait_ready(self, timeout=120):
        self.notify.settimeout(timeout)
        while True:
            msg = self.notify.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                ready = time.monotonic() - self.t0
                # keep reading, as systemd does: an unread notify socket fills up
                self.notify.settimeout(None)
                threading.Thread(target=self._drain, daemon=True).start()
                return ready

    def _drain(self):
        try:
            while self.notify.recv(4096):
                pass
        except OSError:
            pass

    def rss_mb(self):
        # nsenter enters the namespaces and execs banjo: same pid
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        self.err.close()


JAIL = """
[daemon]
state_dir = "@STATE@"
[defaults]
ignoreself = false
ignoreip = []
[filters.bench]
failregex = ["auth failure from <ADDR>$"]
[jails.bench]
filter = "bench"
journal = ["SYSLOG_IDENTIFIER=benchsvc"]
maxretry = @MAXRETRY@
findtime = "1h"
bantime = "1h"
"""


def jail_config(maxretry=1, fifo=None):
    config = JAIL.replace("@MAXRETRY@", str(maxretry))
    if fifo:
        config = config.replace('journal = ["SYSLOG_IDENTIFIER=benchsvc"]', f'multilog = "{fifo}"')
    return config


def addr(i):
    return f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256}"


def tasks(pid):
    """Every thread of `pid`: its /proc/PID/task/TID directories."""
    base = f"/proc/{pid}/task"
    return [os.path.join(base, t) for t in os.listdir(base)]


def wakeups(pid):
    """Context switches of every thread of `pid` so far (each one a wake-up, or a preemption)."""
    n = 0
    for t in tasks(pid):
        try:
            for line in open(os.path.join(t, "status")):
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    n += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return n


def cpu_ns(pid):
    """CPU time of every thread of `pid` so far, in ns (schedstat: finer than utime's ticks)."""
    n = 0
    for t in tasks(pid):
        try:
            n += int(open(os.path.join(t, "schedstat")).read().split()[0])
        except FileNotFoundError:
            pass
    return n


class Schedule:
    """Failures to send at given times: (offset s, address, is the banning one)."""

    def __init__(self):
        self.events = []

    @staticmethod
    def bursts(n, every=0.2, size=5, spacing=0.1):
        s = Schedule()
        for b in range(n):
            for k in range(size):
                s.events.append((b * every + k * spacing, addr(b), k == size - 1))
        s.events.sort()
        return s

    @staticmethod
    def isolated(n, gap):
        s = Schedule()
        s.events = [(i * gap, addr(i), True) for i in range(n)]
        return s


def latency(lab, binary, n, schedule, maxretry, fifo=False):
    """Failure written (the banning one) -> element in the kernel set, as `nft monitor` sees it."""
    path = None
    if fifo:
        path = os.path.join(lab.dir, "feed.fifo")
        os.mkfifo(path)
    b = Banjo(lab, binary, jail_config(maxretry, path))
    try:
        return _latency(lab, b, n, schedule, path)
    finally:
        b.stop()


def _latency(lab, b, n, schedule, fifo):
    b.wait_ready()
    feed = open(fifo, "w", buffering=1) if fifo else None
    seen = {}
    mon = subprocess.Popen(lab.in_ns(["nft", "monitor", "elements"], net=True), stdout=subprocess.PIPE, text=True, bufsize=1)

    def read():
        for line in mon.stdout:
            t = time.monotonic()
            if "add element" in line:
                for tok in line.replace("{", " ").replace("}", " ").replace(",", " ").split():
                    if tok.count(".") == 3 and tok not in seen:
                        seen[tok] = t
    threading.Thread(target=read, daemon=True).start()
    time.sleep(2)  # the monitor subscribed; banjo's start-up read and its hot window over
    sent, early = {}, 0
    t0 = time.monotonic()
    for offset, a, banning in schedule.events:
        wait = t0 + offset - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        if banning:
            sent[a] = now
        elif a in seen:
            early += 1  # banned before its banning failure: the schedule or banjo is wrong
        if feed:
            feed.write(f"auth failure from {a}\n")
        else:
            lab.send("benchsvc", f"auth failure from {a}")
    Lab.wait(lambda: len(seen) >= n, f"{n} bans in the monitor", timeout=60)
    mon.kill()
    rss = b.rss_mb()
    lat = sorted((seen[a] - sent[a]) * 1000 for a in sent)
    figures = dict(bans=n, p50_ms=round(statistics.median(lat), 2), p99_ms=round(lat[int(0.99 * (n - 1))], 2),
                   max_ms=round(lat[-1], 2), rss_mb_after=round(rss, 1))
    if early:
        figures["banned_early"] = early
    return figures


def burst(lab, binary, a, fifo=False):
    return latency(lab, binary, a.bans, Schedule.bursts(a.bans), maxretry=5, fifo=fifo)


def isolated(lab, binary, a, fifo=False):
    n = a.isolated if a.isolated is not None else a.bans
    return latency(lab, binary, n, Schedule.isolated(n, 0.05 if fifo else 1.5), maxretry=1, fifo=fifo)


def idle(lab, binary, a):
    """RSS after start; wake-ups per minute with no log traffic; the price of one lone entry."""
    b = Banjo(lab, binary, jail_config(maxretry=1000))
    try:
        b.wait_ready()
        time.sleep(3)  # past the start-up read and its hot window
        pid = b.proc.pid
        rss = b.rss_mb()
        w0, c0, t0 = wakeups(pid), cpu_ns(pid), time.monotonic()
        time.sleep(a.idle_s)
        w1, c1, t1 = wakeups(pid), cpu_ns(pid), time.monotonic()
        per_min = (w1 - w0) * 60 / (t1 - t0)
        # one entry a jail reads (not a failure), then quiet: what it costs beyond the idle rate
        lone_w, lone_c = [], []
        for i in range(5):
            w, c, t = wakeups(pid), cpu_ns(pid), time.monotonic()
            lab.send("benchsvc", f"nothing to see {i}")
            time.sleep(3)
            dt = time.monotonic() - t
            lone_w.append(wakeups(pid) - w - per_min * dt / 60)
            lone_c.append((cpu_ns(pid) - c) / 1e6 - (c1 - c0) / 1e6 * dt / (t1 - t0))
        return dict(rss_mb=round(rss, 1), wakeups_per_min=round(per_min, 1),
                    idle_cpu_ms_per_min=round((c1 - c0) / 1e6 * 60 / (t1 - t0), 2),
                    lone_entry_wakeups=round(statistics.median(lone_w)),
                    lone_entry_cpu_ms=round(statistics.median(lone_c), 2))
    finally:
        b.stop()


INTAKE_JAILS = ["sshd", "dovecot", "postfix", "vpopmail", "qmailadmin", "roundcube", "nginx", "misc", "other1",
                "other2"]


def intake_config():
    cfg = "[daemon]\nstate_dir = \"@STATE@\"\n[defaults]\nignoreself = false\nmaxretry = 1000000\nfindtime = \"10y\"\n"
    cfg += "[filters.any]\nfailregex = [\"Failed password for \\\\S+ from <HOST>\", \"auth failure from <HOST>\", \"rip=<HOST>\"]\n"
    for j in INTAKE_JAILS:
        cfg += f"[jails.{j}]\nfilter = \"any\"\njournal = [\"SYSLOG_IDENTIFIER={j}\"]\n"
    return cfg


def fill_intake_journal(lab, entries):
    """`entries` entries spread over the ten identifiers, a tenth of them failures from 50,000
    addresses (each address fails twice in 1M entries: the per-failure work counts too)."""
    t0 = time.monotonic()
    for i in range(entries):
        ident = INTAKE_JAILS[i % 10]
        msg = f"Failed password for root from {addr(i % 50000)} port 22 ssh2" if i % 10 == 0 else \
            f"session opened for user u{i} by (uid=0) noise noise noise {i}"
        lab.send(ident, msg)
        if i % 5000 == 4999:
            time.sleep(0.01)  # let journald keep up with the socket
    # entries from one socket are stored in order: the last one there means all are (a
    # lookup by field is cheap, where counting a 1M-entry journal on every poll was not)
    lab.send("banjo-bench", "end of fill")
    end = lab.in_ns(["journalctl", "-q", "-o", "cat", "--no-pager", "MESSAGE=end of fill"])
    Lab.wait(lambda: subprocess.run(end, capture_output=True).stdout.count(b"\n") == 1,
             "journald to store the entries", timeout=600)
    return time.monotonic() - t0


def timed(argv):
    """Runs argv: (wall s, CPU s of it and its children, stdout)."""
    r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    wall, r1 = time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), out


def banjo_intake(lab, binary, cpu):
    """`banjo run` over the filled journal: (entries, wall s, CPU s or None) from its "caught
    up with the journal: N entries in S s (CPU C s)" line (banjo before issue 12: no CPU)."""
    # each run reads the whole journal: no cursor (progress.json) from the run before
    state = os.path.join(lab.dir, "state")
    for f in os.listdir(state):
        os.remove(os.path.join(state, f))
    b = Banjo(lab, binary, intake_config(), pin=cpu)
    try:
        b.wait_ready()
        err = os.path.join(lab.dir, "banjo.err")
        Lab.wait(lambda: "caught up" in open(err).read(), "banjo to read the backlog", timeout=600)
        line = [ln for ln in open(err) if "caught up" in ln][0]
    finally:
        b.stop()
    secs = float(line.split(" in ")[1].split("s")[0])
    cpu_s = float(line.split("(CPU ")[1].split("s")[0]) if "(CPU " in line else None
    n = int(line.split("caught up with the journal: ")[1].split()[0])
    return n, secs, cpu_s


def intake(lab, binaries, a):
    """Every reader of one journal in turn, --rounds times, each pinned to the last core: the
    bare read (jread), journalctl -o cat, and each banjo. Medians of the wall clock, and of
    the CPU time (the readers' own: steadier than the wall clock on a shared machine)."""
    fill_s = fill_intake_journal(lab, a.entries)
    jdir = lab.journald.journal_dir()
    cpu = str(os.cpu_count() - 1)
    pin = ["taskset", "-c", cpu]
    readers = ["jread", "jread-a", "journalctl", *(label for label, _ in binaries)]
    walls, cpus, counts = {r: [] for r in readers}, {r: [] for r in readers}, {}
    for _ in range(a.rounds):
        if a.jread:
            # jread -a: every field of each entry, the floor of a reader building banjo's line
            for name, opts in (("jread", []), ("jread-a", ["-a"])):
                s, c, out = timed([*pin, a.jread, *opts, jdir])
                walls[name].append(s)
                cpus[name].append(c)
                counts[name] = int(out.split()[0].split(b"=")[1])
        s, c, out = timed(lab.in_ns([*pin, "journalctl", "-q", "-o", "cat", "--no-pager"]))
        walls["journalctl"].append(s)
        cpus["journalctl"].append(c)
        counts["journalctl"] = out.count(b"\n")
        for label, binary in binaries:
            n, s, c = banjo_intake(lab, binary, cpu)
            walls[label].append(s)
            if c is not None:
                cpus[label].append(c)
            counts[label] = n
    wall = {k: statistics.median(v) for k, v in walls.items() if v}
    cpu_s = {k: statistics.median(v) for k, v in cpus.items() if v}
    results = {}
    for label, _ in binaries:
        n = counts[label]
        f = dict(entries=n, banjo_s=round(wall[label], 3), banjo_per_s=round(n / wall[label]))
        if label in cpu_s:
            f.update(banjo_cpu_s=round(cpu_s[label], 3))
        if "jread" in wall:
            f.update(bare_read_s=round(wall["jread"], 3), bare_read_cpu_s=round(cpu_s["jread"], 3),
                     bare_read_per_s=round(counts["jread"] / wall["jread"]),
                     share_of_bare=round(wall["jread"] / wall[label] * n / counts["jread"], 3))
            if label in cpu_s:
                f.update(cpu_share_of_bare=round(cpu_s["jread"] / cpu_s[label] * n / counts["jread"], 3))
            f.update(all_fields_read_s=round(wall["jread-a"], 3), all_fields_read_cpu_s=round(cpu_s["jread-a"], 3),
                     all_fields_share_of_bare=round(wall["jread"] / wall["jread-a"], 3))
        f.update(journalctl_cat_s=round(wall["journalctl"], 3),
                 journalctl_cat_per_s=round(counts["journalctl"] / wall["journalctl"]),
                 rounds=a.rounds, journal_fill_s=round(fill_s, 1))
        results[label] = f
    return results


def restore(lab, binary, a):
    n = a.restore
    now = time.time()
    bans = [{"jail": "bench", "target": addr(i), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
             "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)), "count": 0, "failures": 1, "lines": []}
            for i in range(n)]
    with open(os.path.join(lab.dir, "state", "bans.json"), "w") as f:
        json.dump({"version": 1, "bans": bans, "history": []}, f)
    b = Banjo(lab, binary, jail_config())
    try:
        ready = b.wait_ready()
        rss = b.rss_mb()
        count = subprocess.run(lab.in_ns(["nft", "-j", "list", "set", "inet", "banjo", "bench-v4"], net=True),
                               capture_output=True, text=True).stdout.count('"elem"')
    finally:
        b.stop()
    return dict(bans=n, ready_s=round(ready, 3), in_kernel=count, rss_mb=round(rss, 1))


# name -> function(lab, binary, args): figures, run in a fresh Lab per binary. A new
# measurement is a function and a line here.
MEASUREMENTS = {
    "idle": idle,
    "burst-journal": burst,
    "burst-pipe": lambda lab, binary, a: burst(lab, binary, a, fifo=True),
    "isolated-journal": isolated,
    "isolated-pipe": lambda lab, binary, a: isolated(lab, binary, a, fifo=True),
    "restore": restore,
}
# name -> function(lab, [(label, binary)], args): {label: figures}, one Lab for all binaries.
SHARED = {
    "intake": intake,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("banjo")
    ap.add_argument("--before", help="a second banjo binary (say, main's) measured in the same run")
    ap.add_argument("--bans", type=int, default=1000)
    ap.add_argument("--isolated", type=int, help="isolated failures (default: --bans)")
    ap.add_argument("--restore", type=int, default=100000)
    ap.add_argument("--entries", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3, help="intake rounds")
    ap.add_argument("--idle-s", type=float, default=60)
    ap.add_argument("--jread", default=os.environ.get("JREAD"), help="the bare reader (bench/jread.c built)")
    ap.add_argument("--only", default="", help="comma-separated names of MEASUREMENTS")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/daemon.py needs root (namespaces, nftables)")
    binaries = [("after", os.path.realpath(a.banjo))]
    if a.before:
        binaries.insert(0, ("before", os.path.realpath(a.before)))
    only = [n for n in a.only.split(",") if n] or [*MEASUREMENTS, *SHARED]
    for name in only:
        if name not in MEASUREMENTS and name not in SHARED:
            sys.exit(f"unknown measurement {name!r}: one of {', '.join([*MEASUREMENTS, *SHARED])}")
    results = {}

    def key(name, label):
        return name if label == "after" else f"{name} ({label})"

    for name in only:
        if name in SHARED:
            lab = Lab()
            try:
                by_label = SHARED[name](lab, binaries, a)
            finally:
                lab.close()
        else:
            by_label = {}
            for label, binary in binaries:
                lab = Lab()
                try:
                    by_label[label] = MEASUREMENTS[name](lab, binary, a)
                finally:
                    lab.close()
        for label, figures in by_label.items():
            results[key(name, label)] = figures
            print(f"{key(name, label):27} {json.dumps(figures)}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
