"""bench/journald.py: a systemd-journald of the bench's own, in a private mount namespace.

The host's journal is never written: /run/systemd, /run/log, /var/log and journald.conf are
bind-mounted from a directory of ours inside a namespace held open by `unshare ... sleep`,
and journald runs in it (nsenter). Entries go in through the native protocol socket, which
is a file in our directory; the journal files land in ROOT/runlog/journal/<machine-id>/ and
stay there after stop(), readable with `journalctl -D`. Root is needed (unshare, mount).
Used by bench/journal.py (the journal suite's fill) and bench/daemon.py (the daemon suite).
"""
import glob
import os
import signal
import socket
import subprocess
import time

JOURNALD = "/lib/systemd/systemd-journald"
CONF = """[Journal]
Storage=volatile
ReadKMsg=no
RateLimitBurst=0
RateLimitIntervalSec=0
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
MaxLevelStore=debug
RuntimeMaxUse=8G
RuntimeMaxFileSize=2G
RuntimeKeepFree=1G
"""


def wait_for(cond, what, timeout=10):
    """Poll `cond` until it is true; SystemExit naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


class PrivateJournald:
    def __init__(self, root):
        self.root = root
        for d in ("run-systemd", "runlog/journal", "varlog/journal"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.makedirs("/run/log", exist_ok=True)  # a mount point, if the host has none
        with open(os.path.join(root, "journald.conf"), "w") as f:
            f.write(CONF)
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind {root}/run-systemd /run/systemd && mount --bind {root}/runlog /run/log && "
             f"mount --bind {root}/varlog /var/log && mount --bind {root}/journald.conf /etc/systemd/journald.conf "
             "&& exec sleep infinity"])
        wait_for(lambda: "/run/systemd" in open(f"/proc/{self.holder.pid}/mounts").read()
                 and "journald.conf" in open(f"/proc/{self.holder.pid}/mounts").read(), "the mount namespace")
        self.journald = subprocess.Popen(self.in_ns([JOURNALD]))
        self.socket_path = os.path.join(root, "run-systemd/journal/socket")
        wait_for(lambda: os.path.exists(self.socket_path), "journald's socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)

    def in_ns(self, argv, nsenter=()):
        """argv run inside the private mount namespace (`nsenter`: further nsenter options)."""
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", *nsenter, *argv]

    def send(self, ident, message, pid=None):
        """One entry (native protocol; blocks while journald's queue is full, losing nothing)."""
        pid_field = f"SYSLOG_PID={pid}\n" if pid else ""
        self.sock.sendto(f"SYSLOG_IDENTIFIER={ident}\n{pid_field}MESSAGE={message}\n".encode(), self.socket_path)

    def journal_dir(self):
        """The directory journald writes its files to (ROOT/runlog/journal/<machine-id>)."""
        dirs = glob.glob(os.path.join(self.root, "runlog/journal/*/"))
        return dirs[0].rstrip("/") if dirs else None

    def stop(self):
        """SIGTERM: journald syncs and marks its files offline; then the namespace goes."""
        self.sock.close()
        self.journald.send_signal(signal.SIGTERM)
        try:
            self.journald.wait(30)
        except subprocess.TimeoutExpired:
            self.journald.kill()
            self.journald.wait()
        self.holder.kill()
        self.holder.wait()
