# banjo e2e: the shared pieces, sourced by run.sh, suite.sh and lintian.sh. Bash, set -euo pipefail.
#   rootfs SUITE [EXTRA_PACKAGES]  a cached mmdebstrap rootfs; prints its path
#   boot ROOT NAME SHARE           a booted container (systemd-nspawn, private network,
#                                  volatile overlay, SHARE bind-mounted read-only at /mnt/share);
#                                  sets PID1; teardown stops it
#   IN cmd…                        runs a command inside the booted container
#   check / ok / bad / phase       result lines and timing

CACHE=${E2E_CACHE:-/var/tmp/banjo-e2e}
# What every e2e rootfs holds: systemd as PID 1, nftables to inspect banjo's table, iproute2 for
# the attacker's namespace, OpenSSH (server and client) for the sshd checks, python3 for tools,
# Debian's default MTA (exim4) and whois for banjo-notify's mails (notify.sh), curl to scrape
# banjo-metrics.socket as Prometheus does.
E2E_PACKAGES=systemd,systemd-sysv,dbus,nftables,iproute2,procps,python3-minimal,openssh-server,openssh-client,exim4-daemon-light,whois,curl

T0=$EPOCHREALTIME; TP=$T0
ms() { local a=${1/./} b=${2/./}; echo $(( (10#$b - 10#$a) / 1000 )); }
phase() {
  local now=$EPOCHREALTIME
  printf '[%7.1fs] (+%6.1fs) %s\n' "$(($(ms "$T0" "$now")))e-3" "$(($(ms "$TP" "$now")))e-3" "$*"
  TP=$now
}
PASS=0; FAIL=0
ok()   { PASS=$((PASS+1)); echo "  PASS: $*"; }
bad()  { FAIL=$((FAIL+1)); echo "  FAIL: $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

# Whether the output of `cmd…` contains TEXT. The output is read whole first: `cmd | grep -q`
# under pipefail fails when grep exits at the match and cmd then dies of SIGPIPE on its next
# write. nft writes a listing in many small writes (24 for one set), so `nft list set … |
# grep -q ADDR` failed about 1 time in 8 with the element present: that was the "missing
# element" flake of issue 17 (exit status 141 of nft; banjo never removed the element).
contains() { local text=$1 out; shift; out=$("$@" 2>/dev/null) || return 1; [[ $out == *"$text"* ]]; }

# rootfs SUITE [EXTRA]: the path of a cached rootfs of SUITE with E2E_PACKAGES (+ EXTRA).
# The directory name carries a hash of the package list, so a changed list builds a new one
# and never reuses a rootfs without the packages; builders of the same rootfs wait on a lock.
rootfs() {
  local suite=$1 pkgs=$E2E_PACKAGES${2:+,$2} hash dir
  hash=$(printf '%s %s' "$suite" "$pkgs" | sha256sum | cut -c1-10)
  dir=$CACHE/rootfs-$suite-$hash
  mkdir -p "$CACHE"
  (
    flock 9
    if [ ! -e "$dir/.banjo-rootfs-complete" ]; then
      rm -rf "$dir.tmp" "$dir"
      echo "building the $suite rootfs ($pkgs) in $dir" >&2
      mmdebstrap --quiet --variant=minbase --include="$pkgs" "$suite" "$dir.tmp" >&2
      touch "$dir.tmp/.banjo-rootfs-complete"
      mv "$dir.tmp" "$dir"
    fi
  ) 9>"$dir.lock"
  echo "$dir"
}

need_tools() {
  local need=""
  command -v systemd-nspawn >/dev/null || need="$need systemd-container"
  command -v mmdebstrap >/dev/null || need="$need mmdebstrap"
  if [ -n "$need" ]; then
    echo "installing:$need"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
}

NSPAWN="" PID1="" CT_NAME="" CT_LOG=""
IN() { nsenter -t "$PID1" -a "$@"; }

# boot ROOT NAME SHARE: nspawn --keep-unit puts its payload/supervisor below its own cgroup,
# so it gets one of its own in both hierarchies of this hybrid host (removed by teardown).
boot() {
  local root=$1 share=$3 st=""
  CT_NAME=$2; CT_LOG=$share/../console.log
  export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1   # pure cgroup2 inside, as on a real Debian host
  for h in systemd unified; do [ -d "/sys/fs/cgroup/$h" ] && mkdir -p "/sys/fs/cgroup/$h/sysd-$CT_NAME"; done
  ( for h in systemd unified; do
      [ -d "/sys/fs/cgroup/$h/sysd-$CT_NAME" ] && echo "$BASHPID" > "/sys/fs/cgroup/$h/sysd-$CT_NAME/cgroup.procs"
    done
    exec systemd-nspawn -q -D "$root" -M "$CT_NAME" --register=no --keep-unit --console=pipe \
         --private-network --volatile=overlay --bind-ro="$share:/mnt/share" -b \
         </dev/null >"$CT_LOG" 2>&1 ) &
  NSPAWN=$!
  for _ in $(seq 1 100); do PID1=$(pgrep -P "$NSPAWN" -x systemd || true); [ -n "$PID1" ] && break; sleep 0.1; done
  [ -n "$PID1" ] || { echo "e2e: the container's systemd did not start" >&2; return 1; }
  for _ in $(seq 1 300); do
    st=$(IN systemctl is-system-running 2>/dev/null || true)
    case "$st" in running|degraded) break;; esac; sleep 0.1
  done
  # safety: the container must have its own network namespace
  if [ "$(readlink "/proc/$PID1/ns/net")" = "$(readlink /proc/self/ns/net)" ]; then
    echo "e2e: container shares the host's network namespace; refusing to continue" >&2; return 1
  fi
  phase "booted: $st"
}

teardown() {
  if [ -n "$NSPAWN" ]; then
    kill -TERM "$NSPAWN" 2>/dev/null || true     # nspawn forwards SIGRTMIN+3: a clean halt
    for _ in $(seq 1 100); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NSPAWN" 2>/dev/null; then kill -KILL "$NSPAWN" 2>/dev/null || true; sleep 0.5; fi
  fi
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h/sysd-$CT_NAME" ] &&
      find "/sys/fs/cgroup/$h/sysd-$CT_NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if ls -d /sys/fs/cgroup/*/sysd-"$CT_NAME" >/dev/null 2>&1; then
    echo "e2e: cgroup leftovers: /sys/fs/cgroup/*/sysd-$CT_NAME" >&2
  fi
}
