# banjo-notify end to end, with a real MTA: check groups sourced by tests/e2e/suite.sh (bash),
# whose lib.sh provides IN (run a command in the booted container), ok/bad/check/phase and $PID1.
# The rootfs (lib.sh's E2E_PACKAGES) holds Debian's default MTA, exim4 with its "local delivery
# only" default config, and whois; the private network makes whois fail fast, which the mail
# then says. Mail to root lands in /var/mail/mail (Debian's
# exim4 router mmm_mail4root), read here from the host side.
#
#   group_notify_unconfigured  right after dpkg -i: banjo-notify.service enabled, start skipped
#   group_notify             [notify.mail] to root: a ban's mail with its lines, whois and
#                            commands; restart and stop/start between bans (one mail each);
#                            a burst of 200 bans becomes digests; reload propagates
#   group_notify_purged      after dpkg -P: /var/lib/banjo-notify is gone

NOTIFY_MBOX=/var/mail/mail

# the mailbox as the host sees it (the container's overlay root)
notify_mbox() { cat "/proc/$PID1/root$NOTIFY_MBOX" 2>/dev/null || true; }
# how many ban mails for ADDRESS in jail sshd
notify_mails_for() { notify_mbox | grep -cF "Subject: [banjo] sshd: banned $1 on " || true; }
# every ban the mailbox accounts for: single ban mails plus what each digest counts
notify_bans_mailed() {
  notify_mbox | awk '/^X-Banjo-Event: ban$/ {n++} /^X-Banjo-Count: / {n += $2} END {print n+0}'
}
notify_mail_count() { notify_mbox | grep -c '^From ' || true; }
# five failed ssh logins from ADDRESS, as the shipped sshd jail reads them
notify_fail5() {
  IN sh -c "for i in 1 2 3 4 5; do echo 'Failed password for root from $1 port 2222 ssh2'; done | logger -t sshd"
}
# polls CMD… every 0.2 s for up to N seconds
notify_wait() { local n=$1; shift; for _ in $(seq 1 $((n * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
notify_has_mail_for() { [ "$(notify_mails_for "$1")" -ge 1 ]; }
notify_burst_mailed() { [ "$(notify_bans_mailed)" -ge 203 ]; }

group_notify_unconfigured() {
  check "banjo-notify.service installed and enabled" IN systemctl is-enabled banjo-notify.service
  check "banjo-notify skipped without [notify] (ExecCondition), not failed" \
    bash -c "[ \"\$(nsenter -t $PID1 -a systemctl show -P Result banjo-notify.service)\" = exec-condition ] &&
             ! nsenter -t $PID1 -a systemctl is-failed banjo-notify.service"
}

group_notify() {
  local a1=192.0.2.61 a2=192.0.2.62 a3=192.0.2.63 mail
  check "exim4 runs (the local MTA)" IN systemctl is-active exim4.service
  IN sh -c 'cat > /etc/banjo/config.d/60-notify.toml' <<'EOF'
[notify.mail]
dest = "root"
sender = "banjo"
digest_after = 5
digest_interval = "10s"
whois_timeout = "5s"
EOF
  check "banjo check shows [notify]" bash -c "nsenter -t $PID1 -a banjo check | grep -qF '[notify] (banjo notify, banjo-notify.service)'"
  IN systemctl restart banjo-notify.service
  check "banjo-notify active once configured" notify_wait 10 IN systemctl is-active banjo-notify.service
  phase "notify: $(IN systemd-analyze security banjo-notify.service 2>/dev/null | tail -1)"

  notify_fail5 "$a1"
  if notify_wait 30 notify_has_mail_for "$a1"; then ok "ban of $a1 -> a mail in $NOTIFY_MBOX through exim"; else
    bad "no mail for $a1 in $NOTIFY_MBOX"
    IN journalctl -u banjo-notify -u exim4 --no-pager -n 40 || true
    IN tail -20 /var/log/exim4/mainlog || true
  fi
  mail=$(notify_mbox)
  check "the mail names the jail, the address and this host" grep -qE "^Subject: \[banjo\] sshd: banned $a1 on [^ ]+$" <<<"$mail"
  check "the mail carries the matched lines" \
    test "$(grep -cF "Failed password for root from $a1 port 2222 ssh2" <<<"$mail")" = 5
  check "the mail carries the failures and ban time" grep -qF "after 5 failures, for 1d" <<<"$mail"
  check "the mail carries whois (or why it failed)" grep -qF "whois $a1" <<<"$mail"
  check "the mail says how to explain and lift the ban" \
    bash -c "grep -qF 'banjo explain $a1' <<<\"\$1\" && grep -qF 'banjo unban sshd $a1' <<<\"\$1\"" _ "$mail"
  check "banjo-notify logged the mail it sent" \
    bash -c "nsenter -t $PID1 -a journalctl -u banjo-notify MESSAGE_ID=dd823f762d14418b92396ff8cda556cd -o cat --no-pager | grep -qF $a1"
  phase "notify: ban mail"

  IN systemctl restart banjo-notify.service
  notify_fail5 "$a2"
  check "restart, then a ban: its mail arrives" notify_wait 30 notify_has_mail_for "$a2"
  IN systemctl stop banjo-notify.service
  notify_fail5 "$a3"
  check "a ban while banjo-notify is stopped is logged by banjo" \
    notify_wait 10 bash -c "nsenter -t $PID1 -a journalctl -u banjo IP=$a3 MESSAGE_ID=12dddcb6204944748f53bc07146ad80a -o cat --no-pager | grep -q ."
  IN systemctl start banjo-notify.service
  check "its mail arrives after the start" notify_wait 30 notify_has_mail_for "$a3"
  sleep 3   # a repeated mail would be there by now
  check "one mail each across restart and stop/start ($a1 $a2 $a3)" \
    test "$(notify_mails_for $a1)$(notify_mails_for $a2)$(notify_mails_for $a3)" = 111
  phase "notify: restarts"

  local pid_before; pid_before=$(IN systemctl show -P MainPID banjo-notify.service)
  IN systemctl reload banjo.service
  check "systemctl reload banjo reloads banjo-notify too (same MainPID, reloaded)" \
    notify_wait 10 bash -c "[ \"\$(nsenter -t $PID1 -a systemctl show -P MainPID banjo-notify.service)\" = $pid_before ] &&
      nsenter -t $PID1 -a journalctl -u banjo-notify --no-pager -o cat | grep -q 'configuration reloaded'"

  local before_mails; before_mails=$(notify_mail_count)
  IN sh -c 'for i in $(seq 1 200); do a=10.77.$((i / 200)).$((i % 200 + 1)); for j in 1 2 3 4 5; do
              echo "Failed password for root from $a port 2222 ssh2"; done; done | logger -t sshd'
  if notify_wait 120 notify_burst_mailed; then
    ok "a burst of 200 bans: every ban accounted for in the mailbox"
  else
    bad "burst: $(notify_bans_mailed) of 203 bans mailed"
    IN journalctl -u banjo-notify --no-pager -n 20 || true
  fi
  local burst_mails=$(( $(notify_mail_count) - before_mails ))
  check "200 bans gave digests, not 200 mails ($burst_mails mails)" test "$burst_mails" -le 12
  check "a digest says how many bans it holds" \
    grep -qE '^Subject: \[banjo\] sshd: digest of [0-9]+ bans on ' "/proc/$PID1/root$NOTIFY_MBOX"
  check "exactly 203 bans mailed, none twice" test "$(notify_bans_mailed)" = 203
  local pid rss; pid=$(IN systemctl show -P MainPID banjo-notify.service)
  rss=$(IN ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')
  phase "notify: burst of 200 bans -> $burst_mails mails; banjo-notify RSS ${rss:-?} kB"
}

group_notify_purged() {
  check "purge: /var/lib/banjo-notify removed" bash -c "! nsenter -t $PID1 -a test -e /var/lib/banjo-notify"
  check "purge: banjo-notify.service gone" bash -c "! nsenter -t $PID1 -a test -e /usr/lib/systemd/system/banjo-notify.service"
}
