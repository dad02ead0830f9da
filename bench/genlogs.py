#!/usr/bin/env python3
"""bench/genlogs.py: banjo's benchmark logs, from a seed, with the ground truth.

One server's day of ssh, mail and web traffic with attacks mixed in. For one seed and one
size it always writes the same bytes, so runs on different machines and days are comparable.

  merged.log  the syslog stream, --lines lines in time order: what rsyslog writes to
              /var/log/syslog; ssh and mail lines and system noise (cron, systemd, kernel)
  ssh.log     its sshd lines   "Jul 12 08:56:39 mail sshd[1234]: Failed password for root from IP port 4711 ssh2"
  mail.log    its mail lines   postfix, dovecot, qmail-smtpd, vpopmail and roundcube
  journal.tsv the syslog stream as IDENTIFIER<TAB>PID<TAB>MESSAGE, to fill a journald with
  web.log     an nginx access log of the same day, a third as long as the syslog stream
              'IP - - [12/Jul/2022:08:56:39 +0200] "GET /wp-login.php HTTP/1.1" 404 ...'
              (nginx writes it itself: it is in neither syslog nor the journal)
  truth.tsv   file, address, attack lines: every line the bench filter (patterns.tsv) must count
  expected.tsv file, lines, attack lines, distinct addresses (what each tool's count is checked against)
  kinds.tsv   file, kind, class, lines: attack = counted; near-miss = carries a pattern's literal
              but is no failure (it makes a literal prefilter do the regex work); noise = the rest
  params.json the parameters and generator version, to tie a result to its input

Attackers come from a pool (a tenth IPv6), picked half uniformly and half Zipf-like: a few
loud addresses and a long tail. Legitimate clients come from other address blocks.

usage: genlogs.py --out DIR [--lines 1000000] [--seed 1] [--attack-ratio 0.08] [--attackers 5000]
  --lines: lines of the syslog stream (merged.log); web.log gets a third of that again
Standard library only.
"""
import argparse
import bisect
import ipaddress
import itertools
import json
import os
import random
import sys
import time
from collections import Counter

VERSION = 1  # bump when the output for a given seed changes: cached logs are keyed on it
HOST = "mail"
TZ = 2 * 3600  # the server's local time is +0200
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# what a line of the day is; every line but a web one goes to the syslog stream (merged.log)
SHARE = {"ssh": 0.30, "mail": 0.40, "web": 0.25, "system": 0.05}
FILES = ["ssh", "mail", "web"]
SYSLOG = {"ssh", "mail", "system"}

# attack kinds per file with their weights; each is counted by exactly one line of patterns.tsv
ATTACKS = {
    "ssh": [("failed_password", 35), ("failed_password_invalid_user", 20), ("invalid_user", 20),
            ("max_auth_attempts", 8), ("not_allowed", 7), ("too_many_auth_failures", 5),
            ("unable_to_negotiate", 5)],
    "mail": [("postfix_sasl", 35), ("postfix_rcpt_reject", 10), ("postfix_too_many_errors", 5),
             ("dovecot_login", 20), ("dovecot_passdb", 15), ("qmail_rejected", 5), ("qmail_greetdelay", 3),
             ("vpopmail", 5), ("roundcube", 2)],
    "web": [("botsearch_404", 70), ("basic_auth_401", 30)],
}
V4_ONLY = {"qmail_rejected", "qmail_greetdelay", "vpopmail"}  # "user@dom:IP" and tcpserver: IPv4

SSH_USERS = ["root", "admin", "test", "user", "ubuntu", "oracle", "postgres", "git", "guest", "ftpuser",
             "support", "pi", "deploy", "hadoop", "mysql", "tomcat", "jenkins", "nagios", "steam", "sa"]
STAFF = ["alice", "bob", "deploy", "backup", "carol"]
DOMAINS = ["example.org", "mail.example.org", "example.net", "shop.example.com"]
LOCALS = ["info", "admin", "postmaster", "sales", "office", "support", "john", "mary", "billing", "hr"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
       "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
       "curl/7.88.1", "Googlebot/2.1 (+http://www.google.com/bot.html)"]
PAGES = ["/", "/index.html", "/favicon.ico", "/robots.txt", "/static/app.css", "/static/app.js",
         "/images/logo.png", "/blog/2022/07/hello/", "/api/v1/status", "/feed.xml", "/contact", "/about"]
MISSING = ["/apple-touch-icon.png", "/old/page.php", "/.well-known/security.txt", "/blog/draft/"]
PROBES = ["/wp-login.php", "/xmlrpc.php", "/.env", "/.git/config", "/phpmyadmin/index.php", "/pma/",
          "/cgi-bin/luci"]
PRIVATE = ["/admin/", "/private/report.pdf", "/munin/", "/stats/"]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789ABCDEF"


class Weighted:
    """A weighted choice by bisection on the cumulative weights."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    def pick(self, rng):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def ipv4(rng, first):
    return f"{rng.choice(first)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def ipv6(rng):
    net = (0x2001 << 112) | (rng.randrange(0x0400, 0x0dff) << 96) | (rng.getrandbits(32) << 64)
    return str(ipaddress.IPv6Address(net | rng.choice([rng.randrange(1, 0x10000), rng.getrandbits(64)])))


class Gen:
    def __init__(self, a):
        self.a = a
        self.rng = r = random.Random(a.seed)
        # attackers and legitimate clients come from disjoint first octets
        bad = [1, 5, 14, 23, 27, 31, 36, 41, 45, 49, 58, 61, 101, 103, 110, 112, 117, 121, 139, 141, 150,
               159, 164, 171, 176, 179, 183, 185, 187, 190, 193, 195, 201, 203, 209, 211, 218, 222]
        good = [62, 77, 78, 80, 81, 82, 84, 85, 87, 88, 91, 93, 94]
        self.legit = [ipv4(r, good) for _ in range(a.legit)]
        self.legit6 = [ipv6(r) for _ in range(max(1, a.legit // 20))]
        pool = sorted({ipv6(r) if i < a.attackers // 10 else ipv4(r, bad) for i in range(a.attackers)})
        r.shuffle(pool)
        self.pool6 = pool
        self.pool4 = [ip for ip in pool if ":" not in ip]
        self.zipf6 = Weighted(range(len(self.pool6)), [1 / (i + 1) for i in range(len(self.pool6))])
        self.zipf4 = Weighted(range(len(self.pool4)), [1 / (i + 1) for i in range(len(self.pool4))])
        self.attack = {f: Weighted([k for k, _ in v], [w for _, w in v]) for f, v in ATTACKS.items()}
        self.file = Weighted(SHARE, SHARE.values())
        self.pid = {"sshd": 900, "postfix": 1800, "qmail": 20000, "vpopmail": 3000, "cron": 5000}
        self.truth = Counter()  # (file, ip) -> attack lines
        self.kinds = Counter()  # (file, kind, class) -> lines
        self._sec = None

    # ---- helpers ----
    def rid(self, n, alphabet=ALNUM):
        return "".join(self.rng.choices(alphabet, k=n))

    def mailbox(self):
        return f"{self.rng.choice(LOCALS)}@{self.rng.choice(DOMAINS)}"

    def attacker(self, v4_only):
        r = self.rng
        pool, zipf = (self.pool4, self.zipf4) if v4_only else (self.pool6, self.zipf6)
        return pool[r.randrange(len(pool))] if r.random() < 0.5 else pool[zipf.pick(r)]

    def client(self, v6=True):
        r = self.rng
        if v6 and r.random() < 0.05:
            return self.legit6[r.randrange(len(self.legit6))]
        return self.legit[r.randrange(len(self.legit))]

    def next_pid(self, key):
        self.pid[key] = self.pid[key] + self.rng.randrange(1, 9)
        return self.pid[key]

    def stamps(self, t):
        if t != self._sec:
            lt = time.gmtime(t + TZ)
            mon, hms = MONTHS[lt.tm_mon - 1], f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"
            self._stamps = (f"{mon} {lt.tm_mday:2d} {hms}", f"{lt.tm_mday:02d}/{mon}/{lt.tm_year}:{hms} +0200")
            self._sec = t
        return self._stamps

    # ---- line makers: return (kind or None, class, ip, ident, pid, message) ----
    def ssh(self, kind):
        r = self.rng
        pid, port = self.next_pid("sshd"), r.randrange(1024, 65535)
        if kind:
            ip, u = self.attacker(False), r.choice(SSH_USERS)
            m = {"failed_password": f"Failed password for {u} from {ip} port {port} ssh2",
                 "failed_password_invalid_user": f"Failed password for invalid user {u} from {ip} port {port} ssh2",
                 "invalid_user": f"Invalid user {u} from {ip} port {port}",
                 "max_auth_attempts": f"error: maximum authentication attempts exceeded for {u} from {ip} "
                                      f"port {port} ssh2 [preauth]",
                 "not_allowed": f"User {u} from {ip} not allowed because not listed in AllowUsers",
                 "too_many_auth_failures": f"Disconnecting authenticating user {u} {ip} port {port}: "
                                           f"Too many authentication failures [preauth]",
                 "unable_to_negotiate": f"Unable to negotiate with {ip} port {port}: no matching "
                                        f"{r.choice(['key exchange method', 'host key type', 'cipher'])} found. "
                                        f"Their offer: diffie-hellman-group1-sha1 [preauth]"}[kind]
            return kind, "attack", ip, "sshd", pid, m
        ip, u, x = self.client(), r.choice(STAFF), r.random()
        if x < 0.20:
            m = f"Accepted publickey for {u} from {ip} port {port} ssh2: ED25519 SHA256:{self.rid(43, B64)}"
        elif x < 0.25:
            m = f"Accepted password for {u} from {ip} port {port} ssh2"
        elif x < 0.45:
            m = f"pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)"
        elif x < 0.65:
            m = f"pam_unix(sshd:session): session closed for user {u}"
        elif x < 0.75:
            m = f"Received disconnect from {ip} port {port}:11: disconnected by user"
        elif x < 0.85:
            m = f"Disconnected from user {u} {ip} port {port}"
        elif x < 0.92:
            # a client offering several keys: not a failure (banjo's sshd filter agrees)
            m = f"Failed publickey for {u} from {ip} port {port} ssh2: RSA SHA256:{self.rid(43, B64)}"
        elif x < 0.97:
            # PAM's echo of a failed password: the "Failed password" line is the one counted
            m = (f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                 f"rhost={self.attacker(False)}  user=root")
        else:
            m = f"Connection closed by {ip} port {port} [preauth]"
        return None, "noise", None, "sshd", pid, m

    def mail(self, kind):
        if kind:
            ip = self.attacker(kind in V4_ONLY)
            return (kind, "attack", ip) + self.mail_attack(kind, ip)
        return self.mail_noise()

    def mail_attack(self, kind, ip):
        r = self.rng
        host = "unknown" if r.random() < 0.8 else f"host-{ip.replace('.', '-').replace(':', '-')}.example.net"
        sess = self.rid(16, B64)
        if kind == "postfix_sasl":
            ident = r.choice(["postfix/smtpd", "postfix/submission/smtpd"])
            mech, why = r.choice([("LOGIN", "UGFzc3dvcmQ6"), ("PLAIN", "authentication failure"),
                                  ("CRAM-MD5", "authentication failure")])
            return ident, self.next_pid("postfix"), f"warning: {host}[{ip}]: SASL {mech} authentication failed: {why}"
        if kind == "postfix_rcpt_reject":
            return "postfix/smtpd", self.next_pid("postfix"), (
                f"NOQUEUE: reject: RCPT from {host}[{ip}]: 554 5.7.1 <{self.mailbox()}>: Relay access denied; "
                f"from=<spam@{self.rid(8)}.example> to=<{self.mailbox()}> proto=ESMTP helo=<{self.rid(6)}>")
        if kind == "postfix_too_many_errors":
            return "postfix/smtpd", self.next_pid("postfix"), f"too many errors after AUTH from {host}[{ip}]"
        if kind == "dovecot_login":
            proto = r.choice(["imap", "imap", "pop3", "submission"])
            return "dovecot", None, (
                f"{proto}-login: Disconnected (auth failed, {r.randrange(1, 4)} attempts in {r.randrange(1, 15)} "
                f"secs): user=<{self.mailbox()}>, method=PLAIN, rip={ip}, lip=198.51.100.10, TLS, session=<{sess}>")
        if kind == "dovecot_passdb":
            why = "Password mismatch" if r.random() < 0.7 else "unknown user"
            return "dovecot", None, f"auth-worker({r.randrange(1000, 30000)}): sql({self.mailbox()},{ip},<{sess}>): {why}"
        if kind == "qmail_rejected":
            pid = self.next_pid("qmail")
            return "qmail-smtpd", pid, (
                f"qlogenvelope: result=rejected code=553 reason=rblreject detail=zen.spamhaus.org "
                f"helo=free-{r.randrange(250)}.example.net mailfrom=x@{self.rid(8)}.example rcptto={self.mailbox()} "
                f"relay=no rcpthosts=yes size= authuser= authtype= encrypted= sslverified=no localip=10.0.0.4 "
                f"localport=25 remoteip={ip} remoteport={r.randrange(1024, 65535)} remotehost= qp= pid={pid}")
        if kind == "qmail_greetdelay":
            return "qmail-smtpd", self.next_pid("qmail"), f"GREETDELAY from {ip}: client sent data before greeting"
        if kind == "vpopmail":
            what = (f"password fail (pass: '{self.rid(r.randrange(4, 12))}')" if r.random() < 0.6
                    else "vpopmail user not found")
            return "vpopmail", self.next_pid("vpopmail"), f"vchkpw-{r.choice(['submission', 'pop3'])}: {what} {self.mailbox()}:{ip}"
        sid = self.rid(26)  # roundcube
        return "roundcube", None, f"<{sid[:8]}> Failed login for {self.mailbox()} from {ip} in session {sid} (error: 0)"

    def mail_noise(self):
        r = self.rng
        ip, x, q = self.client(), r.random(), self.rid(10, HEX)
        host = "unknown" if r.random() < 0.3 else "mx.example.com"
        sess = self.rid(16, B64)
        if x < 0.12:
            return None, "noise", None, "postfix/smtpd", self.next_pid("postfix"), f"connect from {host}[{ip}]"
        if x < 0.24:
            return None, "noise", None, "postfix/smtpd", self.next_pid("postfix"), (
                f"disconnect from {host}[{ip}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
        if x < 0.30:
            return None, "noise", None, "postfix/cleanup", self.next_pid("postfix"), (
                f"{q}: message-id=<{self.rid(20)}@{r.choice(DOMAINS)}>")
        if x < 0.38:
            return None, "noise", None, "postfix/qmgr", self.next_pid("postfix"), (
                f"{q}: from=<{self.mailbox()}>, size={r.randrange(900, 900000)}, nrcpt=1 (queue active)")
        if x < 0.46:
            return None, "noise", None, "postfix/smtp", self.next_pid("postfix"), (
                f"{q}: to=<{self.mailbox()}>, relay=mx.example.com[{ip}]:25, delay=0.{r.randrange(10, 99)}, "
                f"delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {self.rid(10, HEX)})")
        if x < 0.50:
            # greylisting of a legitimate sender: "NOQUEUE: reject: RCPT from", but a 4xx
            return None, "near-miss", None, "postfix/smtpd", self.next_pid("postfix"), (
                f"NOQUEUE: reject: RCPT from {host}[{ip}]: 450 4.2.0 <{self.mailbox()}>: Recipient address "
                f"rejected: Greylisted; from=<{self.mailbox()}> to=<{self.mailbox()}> proto=ESMTP helo=<mx>")
        if x < 0.64:
            return None, "noise", None, "dovecot", None, (
                f"imap-login: Login: user=<{self.mailbox()}>, method=PLAIN, rip={ip}, lip=198.51.100.10, "
                f"mpid={r.randrange(1000, 60000)}, TLS, session=<{sess}>")
        if x < 0.76:
            return None, "noise", None, "dovecot", None, (
                f"imap({self.mailbox()})<{r.randrange(1000, 60000)}><{sess}>: Logged out in={r.randrange(100, 9000)} "
                f"out={r.randrange(300, 90000)} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0")
        if x < 0.80:
            return None, "noise", None, "dovecot", None, (
                f"imap-login: Disconnected (no auth attempts in {r.randrange(60)} secs): user=<>, rip={ip}, "
                f"lip=198.51.100.10, TLS handshaking: SSL_accept() failed, session=<{sess}>")
        if x < 0.88:
            pid = self.next_pid("qmail")
            return None, "noise", None, "qmail-smtpd", pid, (
                f"qlogenvelope: result=accepted code=250 reason=queueaccept detail= helo=mx.example.com "
                f"mailfrom={self.mailbox()} rcptto={self.mailbox()} relay=no rcpthosts=yes size={r.randrange(900, 90000)} "
                f"authuser= authtype= encrypted=tls sslverified=no localip=10.0.0.4 localport=25 remoteip={ip} "
                f"remoteport={r.randrange(1024, 65535)} remotehost= qp={pid + 1} pid={pid}")
        if x < 0.95:
            return None, "noise", None, "vpopmail", self.next_pid("vpopmail"), (
                f"vchkpw-submission: (PLAIN) login success {self.mailbox()}:{ip}")
        sid = self.rid(26)
        return None, "noise", None, "roundcube", None, (
            f"<{sid[:8]}> Successful login for {self.mailbox()} (ID: {r.randrange(1, 400)}) from {ip} in session {sid}")

    def web(self, kind, stamp):
        r = self.rng
        ua = r.choice(UAS)
        if kind == "botsearch_404":
            ip = self.attacker(False)
            m = (f'{ip} - - [{stamp}] "{r.choice(["GET", "GET", "POST", "HEAD"])} {r.choice(PROBES)} HTTP/1.1" '
                 f'404 {r.randrange(150, 600)} "-" "{ua}"')
            return kind, "attack", ip, "nginx", None, m
        if kind == "basic_auth_401":
            ip = self.attacker(False)
            m = (f'{ip} - {r.choice(SSH_USERS)} [{stamp}] "GET {r.choice(PRIVATE)} HTTP/1.1" 401 '
                 f'{r.randrange(150, 600)} "-" "{ua}"')
            return kind, "attack", ip, "nginx", None, m
        ip, x = self.client(), r.random()
        if x < 0.86:
            path, st, user, cls = r.choice(PAGES), r.choice([200, 200, 200, 304, 301]), "-", "noise"
        elif x < 0.93:
            path, st, user, cls = r.choice(MISSING), 404, "-", "near-miss"  # a 404, but no probe
        elif x < 0.97:
            path, st, user, cls = r.choice(PRIVATE), 401, "-", "near-miss"  # a browser before the password
        else:
            path, st, user, cls = r.choice(PRIVATE), 200, r.choice(STAFF), "noise"
        m = (f'{ip} - {user} [{stamp}] "GET {path} HTTP/1.1" {st} {r.randrange(0, 90000)} '
             f'"https://www.example.org/" "{ua}"')
        return None, cls, None, "nginx", None, m

    def system(self):
        r = self.rng
        x = r.random()
        if x < 0.4:
            return "CRON", self.next_pid("cron"), "(root) CMD (cd / && run-parts --report /etc/cron.hourly)"
        if x < 0.8:
            unit = r.choice(["logrotate.service", "man-db.service", "apt-daily.service", "certbot.service"])
            return "systemd", 1, f"{r.choice(['Starting', 'Finished', 'Started'])} {unit}."
        return "kernel", None, (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC={self.client(False)} "
                                f"DST=198.51.100.10 LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP "
                                f"SPT={r.randrange(1024, 65535)} DPT={r.choice([23, 3389, 8080])} WINDOW=1024 SYN URGP=0")

    # ---- the stream ----
    def run(self):
        a, r = self.a, self.rng
        os.makedirs(a.out, exist_ok=True)
        out = {f: open(os.path.join(a.out, f + ".log"), "w", buffering=1 << 20) for f in FILES + ["merged"]}
        journal = open(os.path.join(a.out, "journal.tsv"), "w", buffering=1 << 20)
        lines = Counter()
        span = a.span_hours * 3600
        while lines["merged"] < a.lines:
            t = a.start + lines["merged"] * span // a.lines
            syslog_ts, web_ts = self.stamps(t)
            f = self.file.pick(r)
            if f == "system":
                kind, cls, ip, (ident, pid, msg) = None, "noise", None, self.system()
            else:
                kind = self.attack[f].pick(r) if r.random() < a.attack_ratio else None
                if f == "web":
                    kind, cls, ip, ident, pid, msg = self.web(kind, web_ts)
                else:
                    kind, cls, ip, ident, pid, msg = getattr(self, f)(kind)
            head = f"{ident}[{pid}]" if pid is not None else ident
            line = f"{syslog_ts} {HOST} {head}: {msg}\n"
            for name in (f, "merged") if f in SYSLOG else (f,):
                if name == "system":
                    continue
                out[name].write(msg + "\n" if name == "web" else line)
                lines[name] += 1
                self.kinds[(name, kind or cls, cls)] += 1
                if ip:
                    self.truth[(name, ip)] += 1
            if f in SYSLOG:
                journal.write(f"{ident}\t{'' if pid is None else pid}\t{msg}\n")
        for fh in [*out.values(), journal]:
            fh.close()
        self.write_truth(lines)

    def write_truth(self, lines):
        a = self.a
        with open(os.path.join(a.out, "truth.tsv"), "w") as f:
            f.write("file\taddress\tlines\n")
            for (name, ip), n in sorted(self.truth.items()):
                f.write(f"{name}\t{ip}\t{n}\n")
        with open(os.path.join(a.out, "kinds.tsv"), "w") as f:
            f.write("file\tkind\tclass\tlines\n")
            for (name, kind, cls), n in sorted(self.kinds.items()):
                f.write(f"{name}\t{kind}\t{cls}\t{n}\n")
        with open(os.path.join(a.out, "expected.tsv"), "w") as f:
            f.write("file\tlines\tmatched\taddresses\n")
            for name in FILES + ["merged"]:
                ips = [n for (fn, _), n in self.truth.items() if fn == name]
                f.write(f"{name}\t{lines[name]}\t{sum(ips)}\t{len(ips)}\n")
        with open(os.path.join(a.out, "params.json"), "w") as f:
            json.dump(dict(vars(a), version=VERSION, lines_per_file=dict(lines)), f, indent=1, sort_keys=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--lines", type=int, default=1_000_000, help="lines of the syslog stream (merged.log)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--attack-ratio", type=float, default=0.08, help="share of ssh/mail/web lines that are attacks")
    p.add_argument("--attackers", type=int, default=5000, help="attacker addresses (a tenth IPv6)")
    p.add_argument("--legit", type=int, default=2000, help="legitimate client addresses")
    p.add_argument("--span-hours", type=int, default=24)
    p.add_argument("--start", type=int, default=1657576800, help="first stamp (unix s): 2022-07-12 00:00 +0200")
    a = p.parse_args()
    t = time.monotonic()
    Gen(a).run()
    print(f"genlogs: {a.lines} lines, seed {a.seed} -> {a.out} ({time.monotonic() - t:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
