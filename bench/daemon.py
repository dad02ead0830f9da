#!/usr/bin/env python3
"""bench/daemon.py: the daemon suite of make bench: banjo run measured in private namespaces.

  ban latency   journal write -> element in the kernel set (seen by `nft monitor`), p50/p99
                over N bans (one failure each: maxretry = 1)
  intake        journal entries/s through the daemon's reader, routing and filters, with 10
                jails on one journal of generated mail logs, side by side with journalctl -o cat
  restore       start-up time with 100k bans in the state file, until READY=1
  memory        RSS idle (after start) and with 100k bans

Nothing touches the host: the journald, the nftables table and the addresses all live in
namespaces this script makes and removes (root needed).

usage: bench/daemon.py BANJO [--bans N] [--restore N] [--entries N] [--only NAME,...] [--json FILE]
Each measurement is a function of (lab, binary, args) returning a dict of figures, listed in
MEASUREMENTS; each gets a fresh Lab. --json writes {name: figures} for bench/report.py.
"""
import argparse
import json
import os
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
    def __init__(self, lab, binary, config, extra=()):
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
        self.proc = subprocess.Popen(lab.in_ns([binary, "--config", self.cfg, "run", "--log", "stderr", *extra], net=True),
                                     env=env, stderr=self.err)

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
maxretry = 1
bantime = "1h"
"""


def addr(i):
    return f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256}"


def latency(lab, binary, n, fifo=False):
    """Journal (or FIFO) write -> element in the kernel set, as `nft monitor` sees it."""
    config = JAIL
    if fifo:
        path = os.path.join(lab.dir, "feed.fifo")
        os.mkfifo(path)
        config = JAIL.replace('journal = ["SYSLOG_IDENTIFIER=benchsvc"]', f'multilog = "{path}"')
    b = Banjo(lab, binary, config)
    try:
        return _latency(lab, b, n, path if fifo else None)
    finally:
        b.stop()


def _latency(lab, b, n, fifo):
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
    time.sleep(0.5)
    sent = {}
    for i in range(n):
        a = addr(i)
        sent[a] = time.monotonic()
        if feed:
            feed.write(f"auth failure from {a}\n")
        else:
            lab.send("benchsvc", f"auth failure from {a}")
        time.sleep(0.002)
    Lab.wait(lambda: len(seen) >= n, f"{n} bans in the monitor", timeout=60)
    mon.kill()
    rss = b.rss_mb()
    lat = sorted((seen[a] - sent[a]) * 1000 for a in sent)
    return dict(bans=n, p50_ms=round(statistics.median(lat), 2), p99_ms=round(lat[int(0.99 * (n - 1))], 2),
                max_ms=round(lat[-1], 2), rss_mb_after=round(rss, 1))


def intake(lab, binary, entries):
    jails = ["sshd", "dovecot", "postfix", "vpopmail", "qmailadmin", "roundcube", "nginx", "misc", "other1", "other2"]
    cfg = "[daemon]\nstate_dir = \"@STATE@\"\n[defaults]\nignoreself = false\nmaxretry = 1000000\nfindtime = \"10y\"\n"
    cfg += "[filters.any]\nfailregex = [\"Failed password for \\\\S+ from <HOST>\", \"auth failure from <HOST>\", \"rip=<HOST>\"]\n"
    for j in jails:
        cfg += f"[jails.{j}]\nfilter = \"any\"\njournal = [\"SYSLOG_IDENTIFIER={j}\"]\n"
    # the journal: `entries` entries spread over the ten identifiers, a tenth of them failures
    t0 = time.monotonic()
    for i in range(entries):
        ident = jails[i % 10]
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
    fill_s = time.monotonic() - t0
    t = time.monotonic()
    subprocess.run(lab.in_ns(["journalctl", "-q", "-o", "cat", "--no-pager"]), stdout=subprocess.DEVNULL, check=True)
    jctl = time.monotonic() - t
    b = Banjo(lab, binary, cfg)
    try:
        b.wait_ready()
        # banjo logs "caught up with the journal: N entries in S s" once the backlog is read
        err = os.path.join(lab.dir, "banjo.err")
        Lab.wait(lambda: "caught up" in open(err).read(), "banjo to read the backlog", timeout=600)
        line = [ln for ln in open(err) if "caught up" in ln][0]
    finally:
        b.stop()
    secs = float(line.split(" in ")[1].split("s")[0])
    n = int(line.split("caught up with the journal: ")[1].split()[0])
    return dict(entries=n, banjo_s=round(secs, 3), banjo_per_s=round(n / secs), journalctl_cat_s=round(jctl, 3),
                journalctl_cat_per_s=round(entries / jctl), journal_fill_s=round(fill_s, 1))


def restore(lab, binary, n):
    now = time.time()
    bans = [{"jail": "bench", "target": addr(i), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
             "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)), "count": 0, "failures": 1, "lines": []}
            for i in range(n)]
    with open(os.path.join(lab.dir, "state", "bans.json"), "w") as f:
        json.dump({"version": 1, "bans": bans, "history": []}, f)
    b = Banjo(lab, binary, JAIL)
    try:
        ready = b.wait_ready()
        rss = b.rss_mb()
        count = subprocess.run(lab.in_ns(["nft", "-j", "list", "set", "inet", "banjo", "bench-v4"], net=True),
                               capture_output=True, text=True).stdout.count('"elem"')
    finally:
        b.stop()
    return dict(bans=n, ready_s=round(ready, 3), in_kernel=count, rss_mb=round(rss, 1))


def idle(lab, binary):
    b = Banjo(lab, binary, JAIL)
    try:
        b.wait_ready()
        time.sleep(0.5)
        return dict(rss_mb=round(b.rss_mb(), 1))
    finally:
        b.stop()


# name -> function(lab, binary, args): figures. A new measurement is a function and a line here.
MEASUREMENTS = {
    "idle": lambda lab, binary, a: idle(lab, binary),
    "latency-journal": lambda lab, binary, a: latency(lab, binary, a.bans),
    "latency-fifo": lambda lab, binary, a: latency(lab, binary, a.bans, fifo=True),
    "restore": lambda lab, binary, a: restore(lab, binary, a.restore),
    "intake": lambda lab, binary, a: intake(lab, binary, a.entries),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("banjo")
    ap.add_argument("--bans", type=int, default=1000)
    ap.add_argument("--restore", type=int, default=100000)
    ap.add_argument("--entries", type=int, default=1000000)
    ap.add_argument("--only", default="", help="comma-separated names of MEASUREMENTS")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/daemon.py needs root (namespaces, nftables)")
    binary = os.path.realpath(a.banjo)
    only = [n for n in a.only.split(",") if n] or list(MEASUREMENTS)
    results = {}
    for name in only:
        lab = Lab()
        try:
            results[name] = MEASUREMENTS[name](lab, binary, a)
        finally:
            lab.close()
        print(f"{name:16} {json.dumps(results[name])}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
