#!/usr/bin/env bash
# make demo: banjo doing its job, end to end, without touching this host's journal or firewall.
#
# A private systemd-journald (own mount namespace) and three network namespaces: a server
# where banjo runs, an attacker and a good client, each joined to the server by a veth pair.
# banjo runs with the repository's config.toml; the attacker's failed logins are logged as
# vpopmail does (syslog identifier vpopmail); banjo bans the attacker in its own nftables table
# in the server namespace; the attacker's connection to port 25 is dropped while the good
# client still connects; the audit record is in the journal. Everything is removed at the end.
set -euo pipefail
BANJO=$(realpath "${1:-target/release/banjo}")
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces, nftables)" >&2; exit 1; }

ID=$$
SRV=banjo-demo-srv-$ID ATT=banjo-demo-att-$ID GOOD=banjo-demo-good-$ID
ATTACKER=192.0.2.2 GOODIP=198.51.100.2
T=$(mktemp -d /tmp/banjo-demo.XXXXXX)
HOLDER="" JOURNALD="" BANJO_PID="" LISTENER=""
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# stop PID...: SIGTERM, up to 5 s to exit, then SIGKILL. Every pid here is the program itself
# (the shells and nsenter/ip/unshare wrappers exec it; see started), never a wrapper.
stop() {
    local p
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=""
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$@" 2>/dev/null || true
}
cleanup() {
    set +e
    stop $BANJO_PID $LISTENER $JOURNALD $HOLDER
    for n in $SRV $ATT $GOOD; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$T"
}
# started PID NAME: waits until PID runs NAME (the wrappers have exec'd it), or fails
started() {
    for _ in $(seq 100); do
        [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.05
    done
    echo "pid $1 is not $2: $(cat "/proc/$1/comm" 2>/dev/null)" >&2
    return 1
}
trap cleanup EXIT
trap "exit 130" INT TERM

bold "a private journald and three network namespaces"
mkdir -p "$T"/{run-systemd,runlog/journal,varlog/journal,state,runtime} /run/log /run/systemd
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToWall=no\n' > "$T/journald.conf"
unshare --mount --propagation private sh -c '
  mount --bind "$1/run-systemd" /run/systemd && mount --bind "$1/runlog" /run/log &&
  mount --bind "$1/varlog" /var/log && mount --bind "$1/journald.conf" /etc/systemd/journald.conf &&
  exec sleep infinity' _ "$T" &
HOLDER=$!
started $HOLDER sleep
for _ in $(seq 100); do [ "$(readlink /proc/$HOLDER/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && grep -q run/systemd /proc/$HOLDER/mounts 2>/dev/null && break; sleep 0.05; done
# the server: the journal's mount namespace and the server's network namespace (nsenter opens
# /run/netns/… from here, where ip netns made it, before entering the mount namespace)
on_server() { nsenter --mount=/proc/$HOLDER/ns/mnt --net=/run/netns/$SRV "$@"; }
# the same in the background, with $! the program itself: the subshell and nsenter exec it
on_server_bg() { ( exec nsenter --mount=/proc/$HOLDER/ns/mnt --net=/run/netns/$SRV "$@" ) & }
( exec nsenter --mount=/proc/$HOLDER/ns/mnt /lib/systemd/systemd-journald ) &
JOURNALD=$!
started $JOURNALD systemd-journal
for _ in $(seq 100); do [ -S "$T/run-systemd/journal/socket" ] && break; sleep 0.05; done
echo "journald pid $JOURNALD, journal in $T/runlog/journal"

for n in $SRV $ATT $GOOD; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add demo-a$ID type veth peer name demo-as$ID
ip link set demo-a$ID netns $ATT; ip link set demo-as$ID netns $SRV
ip link add demo-g$ID type veth peer name demo-gs$ID
ip link set demo-g$ID netns $GOOD; ip link set demo-gs$ID netns $SRV
ip -n $ATT addr add $ATTACKER/24 dev demo-a$ID; ip -n $ATT link set demo-a$ID up
ip -n $SRV addr add 192.0.2.1/24 dev demo-as$ID; ip -n $SRV link set demo-as$ID up
ip -n $GOOD addr add $GOODIP/24 dev demo-g$ID; ip -n $GOOD link set demo-g$ID up
ip -n $SRV addr add 198.51.100.1/24 dev demo-gs$ID; ip -n $SRV link set demo-gs$ID up
echo "server 192.0.2.1 / 198.51.100.1, attacker $ATTACKER, good client $GOODIP"

# an SMTP-port listener on the server, to connect to
ip netns exec $SRV python3 -c '
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", 25)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"220 demo ESMTP\r\n"); c.close()' &
LISTENER=$!
started $LISTENER python3
connect() {  # connect NS ADDR: prints connected / no answer
    if ip netns exec "$1" timeout 2 python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], 25), timeout=1.5).recv(64)' "$2" 2>/dev/null
    then echo "  $1 -> $2:25 connected"; else echo "  $1 -> $2:25 NO ANSWER (dropped)"; fi
}
sleep 0.3
connect $ATT 192.0.2.1
connect $GOOD 198.51.100.1

bold "banjo run, with the repository's config.toml (multilog jails off: no qmail pipes here)"
mkdir -p "$T/etc/config.d"
cp config.toml "$T/etc/config.toml"
cat > "$T/etc/config.d/50-demo.toml" <<EOF
[daemon]
state_dir = "$T/state"
runtime_dir = "$T/runtime"
[jails.qmail-smtp]
enabled = false
[jails.qmail-submission]
enabled = false
EOF
on_server "$BANJO" --config "$T/etc/config.toml" check | sed -n '/jails.vpopmail/,/ignoreip/p'
on_server_bg "$BANJO" --config "$T/etc/config.toml" run --log journal 2>"$T/banjo.err"
BANJO_PID=$!
started $BANJO_PID banjo
for _ in $(seq 100); do on_server nft list table inet banjo >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
echo "banjo is up: table inet banjo in the server namespace"

bold "the attack: five failed SMTP logins from $ATTACKER, logged by vpopmail through syslog"
for i in 1 2 3 4 5; do
    msg="vchkpw-submission: password fail (pass: 'guess$i') postmaster@example.org:$ATTACKER"
    logger -u "$T/run-systemd/journal/dev-log" -t vpopmail "$msg"
    echo "  vpopmail: $msg"
    sleep 0.1
done
for _ in $(seq 50); do on_server nft list set inet banjo vpopmail-v4 2>/dev/null | grep -q "$ATTACKER" && break; sleep 0.1; done

bold "banjo's set in the kernel (nft list table inet banjo, server namespace)"
on_server nft list table inet banjo | sed -n '/set vpopmail-v4 {/,/}/p'
on_server nft list chain inet banjo input | grep -E 'type filter|vpopmail-v[46]'

bold "traffic: the attacker is dropped, the good client still connects"
connect $ATT 192.0.2.1
connect $GOOD 198.51.100.1

bold "the audit record: journalctl JAIL=vpopmail (fields MESSAGE_ID, JAIL, IP, BANTIME, FAILURES…)"
journalctl -D "$T/runlog/journal" JAIL=vpopmail -o verbose --no-pager | grep -E '^\s+(MESSAGE|MESSAGE_ID|JAIL|IP|BANTIME|UNTIL|FAILURES)=' || true

bold "asking the daemon over its control socket: banjo status vpopmail, banjo explain $ATTACKER"
on_server "$BANJO" --socket "$T/runtime/banjo.sock" status vpopmail
on_server "$BANJO" --socket "$T/runtime/banjo.sock" explain $ATTACKER | sed -n '1p;/^vpopmail:/,/^[a-z]/p' | sed '$d'

bold "stopping banjo: the ban stays in the kernel and expires there (flush_on_stop = false)"
stop $BANJO_PID; BANJO_PID=""
on_server nft list set inet banjo vpopmail-v4 | grep -E "elements" || true
echo
echo "demo done; namespaces, journald and files are removed now"
