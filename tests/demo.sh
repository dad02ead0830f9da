#!/usr/bin/env bash
# make demo: banjo on the example mail server's own log lines.
# Runs as any user; writes only to a temporary directory it removes.
set -euo pipefail
BANJO=$(realpath "${1:-target/release/banjo}")
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "banjo check: the example config.toml (the mail server's seven jails and sshd)"
"$BANJO" --config config.toml check

say "qmail-smtpd's multilog lines (TAI64N stamps) through the built-in qmail-smtp filter"
cat tests/data/logs/qmail-smtpd.current | cut -c1-110
"$BANJO" test-filter qmail-smtp tests/data/logs/qmail-smtpd.current --print-all-missed

say "the same as JSON, for scripts"
"$BANJO" test-filter qmail-smtp tests/data/logs/qmail-smtpd.current --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({k: r[k] for k in ("lines","matched","ignored","missed","matches")}, indent=1))'

say "the journal: vpopmail's syslog lines, read with a journal match as banjo's jails do"
if [ -x /lib/systemd/systemd-journal-remote ]; then
    /lib/systemd/systemd-journal-remote --output="$T/demo.journal" tests/data/journal/mail.export 2>/dev/null
    "$BANJO" test-filter vpopmail --journal-file "$T/demo.journal" SYSLOG_IDENTIFIER=vpopmail
else
    echo "(systemd-journal-remote is not installed: make deps installs it)"
fi

say "an injection attempt: an address inside the password field is not the one taken"
printf '%s\n' "Jul 22 17:31:46 qmail vpopmail[6383]: vchkpw-submission: password fail (pass: 'x:203.0.113.66') postmaster@yourdomain.xy:192.0.2.44" \
    | "$BANJO" test-filter vpopmail - --json | python3 -c 'import json,sys; m=json.load(sys.stdin)["matches"][0]; print("banned address:", m["host"])'
