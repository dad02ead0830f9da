# banjo e2e: the checks, one function per group, run in order by suite.sh in a booted
# container (IN, check, ok, bad, contains, phase from lib.sh). A new group is a function here
# and a line in suite.sh's GROUPS. Globals: IP (the logger-made attacker), SHARE (/mnt/share).

IP=192.0.2.55

inset() { contains "$1" IN nft list set inet banjo "${2:-sshd-v4}"; }
not_inset() { ! inset "$@"; }
active() { [ "$(IN systemctl is-active banjo.service 2>/dev/null)" = active ]; }
waitactive() { for _ in $(seq 1 100); do active && return 0; sleep 0.1; done; return 1; }
status_shows() { contains "$1" IN banjo status "${2:-sshd}"; }
# wait_for SECONDS cmd…: polls cmd every 0.1 s
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

group_install() {
  # restarts in a row must not hit systemd's start limit (5 in 10 s); a test-only drop-in
  IN mkdir -p /etc/systemd/system/banjo.service.d
  printf '[Unit]\nStartLimitIntervalSec=0\n' | IN sh -c 'cat > /etc/systemd/system/banjo.service.d/50-e2e.conf'
  IN env DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/share/banjo.deb > "$WORK/dpkg-i.log" 2>&1 ||
    { cat "$WORK/dpkg-i.log"; bad "dpkg -i"; return 1; }
  ok "dpkg -i"
  check "banjo.service active" IN systemctl is-active banjo.service
  check "banjo.socket active" IN systemctl is-active banjo.socket
  check "banjo.service and banjo.socket enabled" IN systemctl is-enabled banjo.service banjo.socket
  check "qmail feed sockets installed, not enabled" \
    bash -c "! nsenter -t $PID1 -a systemctl is-enabled banjo-qmail-smtpd.socket banjo-qmail-submission.socket"
  check "units in /usr/lib/systemd/system" \
    IN test -f /usr/lib/systemd/system/banjo.service -a -f /usr/lib/systemd/system/banjo-qmail-smtpd.socket
  check "/etc/banjo/config.toml is a conffile" contains /etc/banjo/config.toml IN dpkg-query -W -f='${Conffiles}' banjo
  check "README.Debian installed" IN test -s /usr/share/doc/banjo/README.Debian.gz
  check "banjo check shows the sshd jail's built-in match" \
    contains "entries with _SYSTEMD_UNIT=ssh.service OR _SYSTEMD_UNIT=sshd.service OR (SYSLOG_IDENTIFIER=sshd|sshd-session|sshd-auth AND _UID=0)" \
    IN banjo check
  phase "installed"
}

# root's `logger -t sshd` carries SYSLOG_IDENTIFIER=sshd and _UID=0: the shipped sshd jail
# counts it through the built-in match, with no drop-in.
group_ban_from_journal() {
  for _ in 1 2 3 4 5; do IN logger -t sshd "Failed password for root from $IP port 2222 ssh2"; done
  if wait_for 10 inset "$IP"; then ok "5 x logger -t sshd -> $IP in nft set inet banjo sshd-v4"; else
    bad "$IP not in nft set inet banjo sshd-v4"; IN nft list ruleset || true
    IN journalctl -u banjo --no-pager -n 30 || true
  fi
  check "banjo status sshd shows $IP" status_shows "$IP"
  check "journalctl -u banjo JAIL=sshd has the audit record for $IP" \
    contains "$IP" IN journalctl -u banjo JAIL=sshd IP="$IP" -o cat --no-pager
  phase "ban"
}

# The Prometheus endpoint (banjo-metrics.socket, shipped disabled) scraped with curl as
# Prometheus does, on both loopback addresses; the text checked by Debian's promtool on the host
# ($PROMTOOL, which make e2e fetches); a ban moves the counters; journalctl -x explains the ban
# record with the catalog's text (installed by the package, put in the database by systemd's
# dpkg trigger).
METRICS_IP=192.0.2.77
scrape() { IN curl -fsS --max-time 10 "http://$1:9110/metrics"; }
scraped() { contains "$1" scrape 127.0.0.1; }
group_metrics_and_catalog() {
  local text
  check "banjo-metrics.socket installed, not enabled" \
    bash -c "! nsenter -t $PID1 -a systemctl is-enabled banjo-metrics.socket"
  IN systemctl enable --now banjo-metrics.socket >/dev/null 2>&1 || bad "systemctl enable --now banjo-metrics.socket"
  check "banjo-metrics.socket listening" IN systemctl is-active banjo-metrics.socket
  text=$(scrape 127.0.0.1) || { bad "curl http://127.0.0.1:9110/metrics"; IN journalctl --no-pager -n 20 -u 'banjo-metrics@*' || true; }
  check "curl http://127.0.0.1:9110/metrics: the ban of the journal group is counted" \
    contains 'banjo_bans_total{jail="sshd",cause="failures"} 1' echo "$text"
  check "curl http://[::1]:9110/metrics answers too" contains "banjo_build_info" scrape '[::1]'
  if [ -n "${PROMTOOL:-}" ]; then
    if out=$("$PROMTOOL" check metrics <<<"$text" 2>&1) && [ -z "$out" ]; then ok "promtool check metrics accepts the scrape"; else
      bad "promtool check metrics: $out"; fi
  else
    bad "promtool check metrics: \$PROMTOOL not set (make e2e sets it)"
  fi
  check "before banjo ban: no command ban counted" scraped 'banjo_bans_total{jail="sshd",cause="command"} 0'
  IN banjo ban sshd "$METRICS_IP" >/dev/null || bad "banjo ban sshd $METRICS_IP"
  check "after banjo ban: the scrape counts it" scraped 'banjo_bans_total{jail="sshd",cause="command"} 1'
  check "after banjo ban: two IPv4 bans active" scraped 'banjo_bans_active{jail="sshd",family="ipv4"} 2'
  IN banjo unban "$METRICS_IP" >/dev/null || bad "banjo unban $METRICS_IP"
  check "after banjo unban: the scrape counts it" scraped 'banjo_unbans_total{jail="sshd",cause="command"} 1'
  check "a scrape's service is gone after it (no banjo-metrics@ left running)" \
    wait_for 5 bash -c "[ -z \"\$(nsenter -t $PID1 -a systemctl list-units --no-legend --state=running 'banjo-metrics@*')\" ]"
  check "a request other than GET /metrics: 404" \
    bash -c "nsenter -t $PID1 -a curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:9110/nothing | grep -qx 404"
  IN systemctl disable --now banjo-metrics.socket 2>/dev/null || bad "systemctl disable --now banjo-metrics.socket"
  check "journalctl -x explains banjo's ban record (the catalog)" \
    contains "failures of $IP within its findtime" \
    IN journalctl -x -u banjo MESSAGE_ID=12dddcb6204944748f53bc07146ad80a IP="$IP" --no-pager
  check "journalctl -x explains the unban record" \
    contains "The ban of $METRICS_IP in jail sshd ended" \
    IN journalctl -x -u banjo MESSAGE_ID=690a63557246427ea6ee271444359589 --no-pager
  check "man banjo.toml: banjo.toml(5) installed, documents read_group" \
    bash -c "nsenter -t $PID1 -a zcat /usr/share/man/man5/banjo.toml.5.gz | grep -q read_group"
  phase "metrics and catalog"
}

group_socket_activation() {
  IN systemctl stop banjo.service 2>/dev/null
  check "banjo.service stopped" bash -c "! nsenter -t $PID1 -a systemctl is-active banjo.service"
  check "stop leaves $IP in the kernel set" inset "$IP"
  check "banjo status after stop works (socket activation)" IN banjo status
  check "banjo.service active again through banjo.socket" waitactive
  check "banjo status sshd still shows $IP after socket-activated start" status_shows "$IP"
  phase "socket activation"
}

group_reload_restart_stop() {
  local pid_before
  pid_before=$(IN systemctl show -P MainPID banjo.service)
  IN systemctl reload banjo.service
  check "systemctl reload: same MainPID" test "$(IN systemctl show -P MainPID banjo.service)" = "$pid_before"
  check "systemctl reload keeps $IP (kernel set)" inset "$IP"
  check "systemctl reload keeps $IP (banjo status)" status_shows "$IP"
  # `systemctl reload` returns once the new config is in force (ExecReload=banjo reload): a
  # jail added by a drop-in has its set in the kernel right after it, without waiting
  IN mkdir -p /etc/banjo/config.d
  printf '[jails.e2e-extra]\nfilter = "sshd"\njournal = ["SYSLOG_IDENTIFIER=e2e-extra"]\n' |
    IN sh -c 'cat > /etc/banjo/config.d/60-e2e-extra.toml'
  check "systemctl reload is done when it returns (new jail's set is there at once)" \
    bash -c "nsenter -t $PID1 -a systemctl reload banjo.service && nsenter -t $PID1 -a nft list set inet banjo e2e-extra-v4"
  printf '[jails.e2e-extra]\nmaxretry = "many"\n' | IN sh -c 'cat > /etc/banjo/config.d/60-e2e-extra.toml'
  check "systemctl reload of a bad config fails" bash -c "! nsenter -t $PID1 -a systemctl reload banjo.service"
  check "... and banjo keeps running the old one" \
    bash -c "nsenter -t $PID1 -a systemctl is-active banjo.service && nsenter -t $PID1 -a banjo status e2e-extra"
  IN rm -f /etc/banjo/config.d/60-e2e-extra.toml
  IN systemctl reload banjo.service || bad "reload after removing the bad drop-in"
  IN systemctl restart banjo.service
  check "systemctl restart: active" waitactive
  check "systemctl restart: new MainPID" test "$(IN systemctl show -P MainPID banjo.service)" != "$pid_before"
  check "systemctl restart keeps $IP (kernel set)" inset "$IP"
  check "systemctl restart keeps $IP (banjo status)" status_shows "$IP"
  IN systemctl stop banjo.service 2>/dev/null
  check "systemctl stop leaves $IP in the kernel set" inset "$IP"
  IN systemctl start banjo.service
  phase "reload, restart, stop"
}

# A config that does not validate: one failed start, exit 78 (EX_CONFIG), no restart loop.
# banjo.service's RestartPreventExitStatus=78 keeps systemd from restarting it every
# RestartSec=2s. The drop-in is removed after and banjo started again for the next group.
group_broken_config() {
  local restarts
  IN mkdir -p /etc/banjo/config.d
  IN systemctl stop banjo.service 2>/dev/null || true
  printf '[jails.sshd]\nmaxretry = "six"\n' | IN sh -c 'cat > /etc/banjo/config.d/99-e2e-broken.toml'
  if IN systemctl start banjo.service 2>/dev/null; then bad "broken config: systemctl start fails"; else
    ok "broken config: systemctl start fails"
  fi
  check "broken config: exit status 78" test "$(IN systemctl show -P ExecMainStatus banjo.service)" = 78
  restarts=$(IN systemctl show -P NRestarts banjo.service)
  norestart() {
    for _ in $(seq 1 50); do [ "$(IN systemctl show -P NRestarts banjo.service)" = "$restarts" ] || return 1; sleep 0.1; done
  }
  check "broken config: not restarted (NRestarts stays $restarts for 5 s, past RestartSec=2s)" norestart
  check "broken config: banjo.service failed" \
    bash -c "[ \"\$(nsenter -t $PID1 -a systemctl is-failed banjo.service)\" = failed ]"
  check "broken config: the error is in the journal" \
    bash -c "nsenter -t $PID1 -a journalctl -u banjo -o cat --no-pager | grep -q 'jails.sshd.maxretry'"
  IN rm -f /etc/banjo/config.d/99-e2e-broken.toml
  IN systemctl reset-failed banjo.service banjo.socket 2>/dev/null || true
  IN systemctl start banjo.socket banjo.service
  check "broken config removed: banjo.service active again" waitactive
  check "broken config removed: $IP still banned (banjo status)" status_shows "$IP"
  phase "broken config"
}

# A real OpenSSH in the container and an attacker in a network namespace of its own (made
# inside the container's private network, joined by a veth): each connection offers 7 unknown
# keys to an existing user, sshd gives up after MaxAuthTries (6) and logs "maximum
# authentication attempts exceeded" — from sshd-session as it exits on Debian 13, often
# without _SYSTEMD_UNIT. The shipped jail (maxretry 5) must ban after the 5th connection.
SSH_SRV=198.51.100.1 SSH_ATT=198.51.100.71
ssh_probe() {
  local keys="" k
  for k in 1 2 3 4 5 6 7; do keys="$keys -i /root/probe$k"; done
  IN ip netns exec e2e-att timeout 10 ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o ConnectTimeout=3 $keys alice@$SSH_SRV true >/dev/null 2>&1 || true
}
explained_failures() {  # failures banjo counts for the attacker in jail sshd
  local out
  out=$(IN banjo explain "$SSH_ATT" --json 2>/dev/null) || { echo 0; return; }
  grep -c '"time":' <<<"$out" || true
}
counted_at_least() { [ "$(explained_failures)" -ge "$1" ]; }
group_sshd_maxauthtries() {
  IN useradd -m alice
  for k in 1 2 3 4 5 6 7; do IN ssh-keygen -q -t ed25519 -N '' -f /root/probe$k; done
  IN ip netns add e2e-att
  IN ip link add e2e-srv type veth peer name e2e-att0 netns e2e-att
  IN ip addr add $SSH_SRV/24 dev e2e-srv
  IN ip link set e2e-srv up
  IN ip netns exec e2e-att sh -c "ip addr add $SSH_ATT/24 dev e2e-att0 && ip link set e2e-att0 up && ip link set lo up"
  # OpenSSH >= 9.8 refuses a source for a while after failed logins (PerSourcePenalties): a
  # real attacker waits it out; the test switches it off to connect back to back. Older sshd
  # (Debian 12) does not know the option, so it is only kept where `sshd -t` accepts it.
  echo "PerSourcePenalties no" | IN sh -c 'cat > /etc/ssh/sshd_config.d/50-e2e.conf'
  IN sshd -t 2>/dev/null || IN rm /etc/ssh/sshd_config.d/50-e2e.conf
  IN systemctl restart ssh.service
  check "sshd active ($(IN sshd -V 2>&1 | cut -d, -f1))" IN systemctl is-active ssh.service
  local maxretry=5 i
  for i in $(seq 1 $((maxretry - 1))); do ssh_probe; done
  if wait_for 10 counted_at_least $((maxretry - 1)); then
    check "after $((maxretry - 1)) probing connections: $((maxretry - 1)) failures counted, not banned" not_inset "$SSH_ATT"
  else
    bad "banjo did not count $((maxretry - 1)) failures for $SSH_ATT (explain: $(explained_failures))"
    IN journalctl -o short-precise --no-pager -n 30 SYSLOG_IDENTIFIER=sshd-session + SYSLOG_IDENTIFIER=sshd || true
  fi
  ssh_probe
  if wait_for 10 inset "$SSH_ATT"; then ok "probing connection $maxretry: $SSH_ATT banned"; else
    bad "$SSH_ATT not banned after $maxretry probing connections (counted: $(explained_failures))"
    IN journalctl -o short-precise --no-pager -n 40 SYSLOG_IDENTIFIER=sshd-session + SYSLOG_IDENTIFIER=sshd || true
  fi
  check "the banned client's next connection to port 22 is dropped" \
    bash -c "! nsenter -t $PID1 -a ip netns exec e2e-att timeout 3 bash -c 'exec 3<>/dev/tcp/$SSH_SRV/22'"
  local lost
  lost=$(IN journalctl -o export --no-pager SYSLOG_IDENTIFIER=sshd-session + SYSLOG_IDENTIFIER=sshd |
         awk -v RS= '/MESSAGE=error: maximum authentication/ && !/_SYSTEMD_UNIT=/ {n++} END {print n+0}')
  echo "  info: 'maximum authentication attempts' lines stored without _SYSTEMD_UNIT: $lost of $maxretry"
  phase "sshd MaxAuthTries probes"
}

# debian/tests as autopkgtest runs them (Tests: in debian/tests/control; a test fails on a
# non-zero exit or, without allow-stderr, on output to stderr). The container is the testbed
# (isolation-container, needs-root); the package is installed already.
group_autopkgtest() {
  local tests t rc
  tests=$(sed -n 's/^Tests:[[:space:]]*//p' "$SHARE/tests/control")
  for t in $tests; do
    rc=0
    IN env AUTOPKGTEST_TMP=/tmp sh /mnt/share/tests/"$t" >"$WORK/apt-$t.out" 2>"$WORK/apt-$t.err" || rc=$?
    if [ $rc = 0 ] && [ ! -s "$WORK/apt-$t.err" ]; then ok "autopkgtest $t ($(grep -c '^ok:' "$WORK/apt-$t.out") checks)"; else
      bad "autopkgtest $t: exit $rc"; cat "$WORK/apt-$t.out" "$WORK/apt-$t.err"
    fi
  done
  phase "autopkgtest"
}

group_reinstall() {
  IN env DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/share/banjo.deb > "$WORK/dpkg-i2.log" 2>&1 &&
    ok "dpkg -i again (upgrade path)" || bad "dpkg -i again"
  check "after re-install: banjo.service active" waitactive
  check "after re-install: $IP still banned (banjo status)" status_shows "$IP"
  check "after re-install: $IP still in the kernel set" inset "$IP"
  phase "re-install"
}

group_purge() {
  IN env DEBIAN_FRONTEND=noninteractive dpkg -P banjo > "$WORK/dpkg-P.log" 2>&1 && ok "dpkg -P banjo" ||
    { cat "$WORK/dpkg-P.log"; bad "dpkg -P banjo"; }
  check "purge: banjo.service inactive" bash -c "! nsenter -t $PID1 -a systemctl is-active banjo.service banjo.socket"
  check "purge: unit files, binary and config.toml gone" \
    bash -c "! nsenter -t $PID1 -a ls /usr/lib/systemd/system/banjo.service /usr/lib/systemd/system/banjo.socket /lib/systemd/system/banjo.service /usr/sbin/banjo /etc/banjo/config.toml 2>/dev/null | grep -q ."
  check "purge: no enable symlinks left" \
    bash -c "! nsenter -t $PID1 -a find /etc/systemd/system -name 'banjo*' -not -name 'banjo.service.d' | grep -q ."
  check "purge: /var/lib/banjo removed" bash -c "! nsenter -t $PID1 -a test -e /var/lib/banjo"
  phase "purge"
}
