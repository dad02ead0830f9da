#!/bin/bash
# banjo end-to-end test: the .deb installed into a booted Debian 12 container.
#
# systemd-nspawn boots a cached bookworm rootfs (mmdebstrap) with its own network namespace
# (--private-network: the host's ruleset and journal are never touched), a throw-away overlay
# (--volatile=overlay) and the .deb bind-mounted read-only; nsenter drives it from outside.
# Needs root. Usage: tests/e2e/run.sh [path/to/banjo_*.deb]
#   E2E_CACHE  rootfs cache (default /var/tmp/banjo-e2e); rebuilt only when missing
#   E2E_REBUILD_DEB=1  build the .deb even if target/deb/ has one
set -euo pipefail

cd "$(dirname "$0")/../.."
CACHE=${E2E_CACHE:-/var/tmp/banjo-e2e}
ROOT=$CACHE/rootfs
NAME=banjo-e2e-$$
WORK=$(mktemp -d "$CACHE/run.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE" && mktemp -d "$CACHE/run.XXXXXX"; })
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1   # pure cgroup2 inside, as on a real bookworm host
IP=192.0.2.55

T0=$EPOCHREALTIME; TP=$T0
ms() { local a=${1/./} b=${2/./}; echo $(( (10#$b - 10#$a) / 1000 )); }
phase() { local now=$EPOCHREALTIME; printf '[%7.1fs] (+%6.1fs) %s\n' "$(($(ms "$T0" "$now")))e-3" "$(($(ms "$TP" "$now")))e-3" "$*"; TP=$now; }
PASS=0; FAIL=0
ok()   { PASS=$((PASS+1)); echo "  PASS: $*"; }
bad()  { FAIL=$((FAIL+1)); echo "  FAIL: $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

[ "$(id -u)" = 0 ] || { echo "e2e: needs root" >&2; exit 2; }

# --- tools -------------------------------------------------------------------------------------
need=""
command -v systemd-nspawn >/dev/null || need="$need systemd-container"
command -v mmdebstrap >/dev/null || need="$need mmdebstrap"
if [ -n "$need" ]; then
  echo "installing:$need"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# --- the package -------------------------------------------------------------------------------
DEB=${1:-}
if [ -z "$DEB" ]; then
  DEB=$(ls -t target/deb/banjo_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$DEB" ] || [ "${E2E_REBUILD_DEB:-0}" = 1 ]; then
    make deb
    DEB=$(ls -t target/deb/banjo_*.deb | head -1)
  fi
fi
DEB=$(realpath "$DEB")
mkdir -p "$WORK/share"; cp "$DEB" "$WORK/share/banjo.deb"
phase "package: $DEB"

# --- the rootfs (cached) -----------------------------------------------------------------------
if [ ! -x "$ROOT/lib/systemd/systemd" ]; then
  rm -rf "$ROOT.tmp"
  mmdebstrap --quiet --variant=minbase \
    --include=systemd,systemd-sysv,dbus,nftables,iproute2,procps,python3-minimal \
    bookworm "$ROOT.tmp"
  mv "$ROOT.tmp" "$ROOT"
  phase "rootfs built ($(du -sh "$ROOT" | cut -f1))"
else
  phase "rootfs cached: $ROOT"
fi

# --- boot --------------------------------------------------------------------------------------
NSPAWN=""
cleanup() {
  local rc=$?
  if [ -n "$NSPAWN" ]; then
    kill -TERM "$NSPAWN" 2>/dev/null || true     # nspawn forwards SIGRTMIN+3: a clean halt
    for _ in $(seq 1 100); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NSPAWN" 2>/dev/null; then kill -KILL "$NSPAWN" 2>/dev/null || true; sleep 0.5; fi
  fi
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h/sysd-$NAME" ] &&
      find "/sys/fs/cgroup/$h/sysd-$NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if ls -d /sys/fs/cgroup/*/sysd-"$NAME" >/dev/null 2>&1; then echo "e2e: cgroup leftovers: /sys/fs/cgroup/*/sysd-$NAME" >&2; fi
  if [ "$rc" != 0 ] && [ -s "$WORK/console.log" ]; then echo "--- container console (tail)"; tail -30 "$WORK/console.log"; fi
  rm -rf "$WORK"
  phase "container stopped, cgroups and work dir removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nspawn --keep-unit puts its payload/supervisor below its own cgroup: give it one of its own,
# in both hierarchies of this hybrid host.
for h in systemd unified; do [ -d "/sys/fs/cgroup/$h" ] && mkdir -p "/sys/fs/cgroup/$h/sysd-$NAME"; done
( for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h/sysd-$NAME" ] && echo "$BASHPID" > "/sys/fs/cgroup/$h/sysd-$NAME/cgroup.procs"
  done
  exec systemd-nspawn -q -D "$ROOT" -M "$NAME" --register=no --keep-unit --console=pipe \
       --private-network --volatile=overlay --bind-ro="$WORK/share:/mnt/share" -b \
       </dev/null >"$WORK/console.log" 2>&1 ) &
NSPAWN=$!
PID1=""
for _ in $(seq 1 100); do PID1=$(pgrep -P "$NSPAWN" -x systemd || true); [ -n "$PID1" ] && break; sleep 0.1; done
[ -n "$PID1" ] || { echo "e2e: the container's systemd did not start" >&2; exit 1; }
IN() { nsenter -t "$PID1" -a "$@"; }
st=""
for _ in $(seq 1 300); do
  st=$(IN systemctl is-system-running 2>/dev/null || true)
  case "$st" in running|degraded) break;; esac; sleep 0.1
done
phase "booted: $st"
# safety: the container must have its own network namespace
if [ "$(readlink /proc/$PID1/ns/net)" = "$(readlink /proc/self/ns/net)" ]; then
  echo "e2e: container shares the host's network namespace; refusing to continue" >&2; exit 1
fi

# --- install -----------------------------------------------------------------------------------
# The sshd jail of the shipped config matches _SYSTEMD_UNIT=ssh.service; logger's lines carry
# SYSLOG_IDENTIFIER=sshd instead. A drop-in (written before the install, so the first start
# uses it) points the jail at that, and checks config.d layering on the way.
IN mkdir -p /etc/banjo/config.d
printf '[jails.sshd]\njournal = ["SYSLOG_IDENTIFIER=sshd"]\n' | IN sh -c 'cat > /etc/banjo/config.d/50-e2e.toml'
IN env DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/share/banjo.deb > "$WORK/dpkg-i.log" 2>&1 ||
  { cat "$WORK/dpkg-i.log"; bad "dpkg -i"; exit 1; }
ok "dpkg -i"
check "banjo.service active" IN systemctl is-active banjo.service
check "banjo.socket active" IN systemctl is-active banjo.socket
check "banjo.service and banjo.socket enabled" IN systemctl is-enabled banjo.service banjo.socket
check "qmail feed sockets installed, not enabled" \
  bash -c "! nsenter -t $PID1 -a systemctl is-enabled banjo-qmail-smtpd.socket banjo-qmail-submission.socket &&
           nsenter -t $PID1 -a test -f /lib/systemd/system/banjo-qmail-smtpd.socket"
check "/etc/banjo/config.toml is a conffile" bash -c "nsenter -t $PID1 -a dpkg-query -W -f='\${Conffiles}' banjo | grep -q /etc/banjo/config.toml"
phase "installed"

# --- a ban from the journal --------------------------------------------------------------------
for i in 1 2 3 4 5; do
  IN logger -t sshd "Failed password for root from $IP port 2222 ssh2"
done
banned=no
for _ in $(seq 1 100); do
  if IN nft list set inet banjo sshd-v4 2>/dev/null | grep -qF "$IP"; then banned=yes; break; fi
  sleep 0.1
done
if [ $banned = yes ]; then ok "5 x logger -t sshd -> $IP in nft set inet banjo sshd-v4"; else
  bad "$IP not in nft set inet banjo sshd-v4"; IN nft list ruleset || true
  IN journalctl -u banjo --no-pager -n 30 || true
fi
phase "ban"
check "banjo status sshd shows $IP" bash -c "nsenter -t $PID1 -a banjo status sshd | grep -qF $IP"
check "journalctl -u banjo JAIL=sshd has the audit record for $IP" \
  bash -c "nsenter -t $PID1 -a journalctl -u banjo JAIL=sshd IP=$IP -o cat --no-pager | grep -q ."

inset() { IN nft list set inet banjo sshd-v4 2>/dev/null | grep -qF "$IP"; }
waitactive() { for _ in $(seq 1 100); do [ "$(IN systemctl is-active banjo.service 2>/dev/null)" = active ] && return 0; sleep 0.1; done; return 1; }

# --- socket activation -------------------------------------------------------------------------
IN systemctl stop banjo.service 2>/dev/null
check "banjo.service stopped" bash -c "! nsenter -t $PID1 -a systemctl is-active banjo.service"
check "stop leaves $IP in the kernel set" inset
check "banjo status after stop works (socket activation)" IN banjo status
check "banjo.service active again through banjo.socket" waitactive
check "banjo status sshd still shows $IP after socket-activated start" \
  bash -c "nsenter -t $PID1 -a banjo status sshd | grep -qF $IP"
phase "socket activation"

# --- reload, restart, stop ---------------------------------------------------------------------
pid_before=$(IN systemctl show -P MainPID banjo.service)
IN systemctl reload banjo.service
check "systemctl reload: same MainPID" test "$(IN systemctl show -P MainPID banjo.service)" = "$pid_before"
check "systemctl reload keeps $IP (kernel set)" inset
check "systemctl reload keeps $IP (banjo status)" bash -c "nsenter -t $PID1 -a banjo status sshd | grep -qF $IP"
IN systemctl restart banjo.service
check "systemctl restart: active" waitactive
check "systemctl restart: new MainPID" test "$(IN systemctl show -P MainPID banjo.service)" != "$pid_before"
check "systemctl restart keeps $IP (kernel set)" inset
check "systemctl restart keeps $IP (banjo status)" bash -c "nsenter -t $PID1 -a banjo status sshd | grep -qF $IP"
IN systemctl stop banjo.service 2>/dev/null
check "systemctl stop leaves $IP in the kernel set" inset
phase "reload, restart, stop"

# --- a config that does not validate: one failed start, exit 78, no restart loop -----------------
# (issue 15) banjo exits 78 (EX_CONFIG) and banjo.service's RestartPreventExitStatus=78 keeps
# systemd from restarting it every RestartSec=2s. Self-contained: the drop-in is removed after.
printf '[jails.sshd]\nmaxretry = "six"\n' | IN sh -c 'cat > /etc/banjo/config.d/99-e2e-broken.toml'
if IN systemctl start banjo.service 2>/dev/null; then bad "broken config: systemctl start fails"; else ok "broken config: systemctl start fails"; fi
check "broken config: exit status 78" test "$(IN systemctl show -P ExecMainStatus banjo.service)" = 78
restarts=$(IN systemctl show -P NRestarts banjo.service)
norestart() { for _ in $(seq 1 50); do [ "$(IN systemctl show -P NRestarts banjo.service)" = "$restarts" ] || return 1; sleep 0.1; done; }
check "broken config: not restarted (NRestarts stays $restarts for 5 s, past RestartSec=2s)" norestart
check "broken config: banjo.service failed" bash -c "[ \"\$(nsenter -t $PID1 -a systemctl is-failed banjo.service)\" = failed ]"
check "broken config: the error is in the journal" \
  bash -c "nsenter -t $PID1 -a journalctl -u banjo -o cat --no-pager | grep -q 'jails.sshd.maxretry'"
IN rm -f /etc/banjo/config.d/99-e2e-broken.toml
IN systemctl reset-failed banjo.service banjo.socket 2>/dev/null || true
phase "broken config"

# --- upgrade path: re-install the same version (postinst restarts) ------------------------------
IN systemctl start banjo.service
IN env DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/share/banjo.deb > "$WORK/dpkg-i2.log" 2>&1 && ok "dpkg -i again (upgrade path)" || bad "dpkg -i again"
check "after re-install: banjo.service active" waitactive
check "after re-install: $IP still banned (banjo status)" bash -c "nsenter -t $PID1 -a banjo status sshd | grep -qF $IP"
phase "re-install"

# --- purge -------------------------------------------------------------------------------------
IN env DEBIAN_FRONTEND=noninteractive dpkg -P banjo > "$WORK/dpkg-P.log" 2>&1 && ok "dpkg -P banjo" || { cat "$WORK/dpkg-P.log"; bad "dpkg -P banjo"; }
check "purge: banjo.service inactive" bash -c "! nsenter -t $PID1 -a systemctl is-active banjo.service banjo.socket"
check "purge: unit files, binary and config.toml gone" \
  bash -c "! nsenter -t $PID1 -a ls /lib/systemd/system/banjo.service /lib/systemd/system/banjo.socket /usr/sbin/banjo /etc/banjo/config.toml 2>/dev/null | grep -q ."
check "purge: no enable symlinks left" \
  bash -c "! nsenter -t $PID1 -a find /etc/systemd/system -name 'banjo*' | grep -q ."
check "purge: /var/lib/banjo removed" bash -c "! nsenter -t $PID1 -a test -e /var/lib/banjo"
phase "purge"

echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
