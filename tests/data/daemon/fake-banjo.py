#!/usr/bin/env python3
# A stand-in for `banjo run`, used only by the harness_* tests in tests/daemon.rs to prove the
# harness's plumbing without the real daemon: it is started the way banjo is (nsenter into the
# journal's mount namespace and the lab's network namespace, same arguments and environment).
# Proves, in order:
#   - the journal's socket is at the real path in its mount namespace (an entry with
#     SYSLOG_IDENTIFIER=fake-banjo and the interfaces it sees: the lab server's, not the host's);
#   - STATE_DIRECTORY survives a restart (it counts its starts in STATE_DIRECTORY/starts);
#   - sd_notify: READY=1 when up; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1 and exit 0
#     on SIGTERM.
import os
import signal
import socket
import sys
import time


def notify(text):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(text.encode(), os.environ["NOTIFY_SOCKET"])


def journal(**fields):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto("".join(f"{k}={v}\n" for k, v in fields.items()).encode(), "/run/systemd/journal/socket")


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM})
state = os.path.join(os.environ["STATE_DIRECTORY"], "starts")
starts = int(open(state).read()) + 1 if os.path.exists(state) else 1
with open(state, "w") as f:
    f.write(str(starts))
ifaces = ",".join(sorted(name for _, name in socket.if_nameindex()))
journal(SYSLOG_IDENTIFIER="fake-banjo", MESSAGE=f"up: {' '.join(sys.argv[1:])}", IFACES=ifaces, STARTS=starts)
notify(f"READY=1\nSTATUS=fake banjo, start {starts}")
while True:
    sig = signal.sigwait({signal.SIGHUP, signal.SIGTERM})
    if sig == signal.SIGHUP:
        notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        notify("READY=1\nSTATUS=reloaded")
    else:
        notify("STOPPING=1")
        sys.exit(0)
