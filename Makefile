# banjo — build, test, demo, benchmark, install.
# `make test` and `make demo` work on a fresh Debian 12 machine as root: they install what they need.

PREFIX    ?= /usr
DESTDIR   ?=
CARGO     ?= cargo
BINDIR    ?= $(PREFIX)/sbin
DATADIR   ?= $(PREFIX)/share/banjo
DOCDIR    ?= $(PREFIX)/share/doc/banjo
SYSCONFDIR ?= /etc
RELEASE   := target/release/banjo

# Debian packages the build and the tests need: pkg-config and libsystemd-dev for the journal,
# libclang-dev for rustables' bindgen, nftables/iproute2 for the namespace tests,
# systemd-journal-remote for journal fixtures, daemontools for multilog/tai64n, python3 for bench.
APT_PACKAGES := pkg-config libsystemd-dev libclang-dev nftables iproute2 systemd systemd-journal-remote \
                daemontools python3 ca-certificates man-db

.PHONY: all deps build test lint unit compat demo bench bench-check install deb lintian e2e clean

# promtool, for the tests that check `banjo metrics` (`promtool check metrics`): taken out of
# Debian's prometheus package (19 MB to fetch; promtool alone is 48 MB) into target/tools, not
# installed: the package would also install and start a Prometheus server.
PROMTOOL := target/tools/promtool

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }

build: deps
	$(CARGO) build --release --locked

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	@# the service's exposure score (in tenths): at most 1.5
	systemd-analyze security --offline=yes --threshold=15 units/banjo.service >/dev/null
	@echo "systemd-analyze security: $$(systemd-analyze security --offline=yes units/banjo.service 2>&1 | tail -1)"
	@# banjo-notify: network, setuid MTA helpers and their capabilities are what sending needs
	systemd-analyze security --offline=yes --threshold=30 units/banjo-notify.service >/dev/null
	@echo "systemd-analyze security: $$(systemd-analyze security --offline=yes units/banjo-notify.service 2>&1 | tail -1)"
	@# banjo-metrics@: one scrape, no capabilities, no network of its own
	systemd-analyze security --offline=yes --threshold=10 units/banjo-metrics@.service >/dev/null
	@echo "systemd-analyze security: $$(systemd-analyze security --offline=yes units/banjo-metrics@.service 2>&1 | tail -1)"

unit: deps $(PROMTOOL)
	PROMTOOL=$(CURDIR)/$(PROMTOOL) $(CARGO) test --locked

$(PROMTOOL):
	rm -rf target/tools/deb && mkdir -p target/tools/deb
	cd target/tools/deb && { apt-get download -qq -o APT::Sandbox::User=root prometheus 2>/dev/null || \
	  { apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root prometheus; }; }
	dpkg-deb --fsys-tarfile target/tools/deb/prometheus_*.deb | tar -xO ./usr/bin/promtool > $@.tmp
	chmod 0755 $@.tmp && mv $@.tmp $@ && rm -rf target/tools/deb
	$@ --version | head -1

test: lint unit compat bench-check e2e

# fail2ban conformance: banjo on every annotated sample log of Debian's fail2ban package (fetched
# once into target/compat), checked as fail2ban's samplestestcase.py does; fails below the floor
# kept in tests/compat/floor. Every wrong line, grouped by cause: target/compat/wrong.txt (printed).
# Then every filter of that filter.d must load and compile with every parameter it takes
# (mode, logtype, …), not only those its sample log tests.
compat: deps
	bash tests/compat/fetch.sh target/compat
	$(CARGO) test --locked --test compat -- --include-ignored --nocapture
	@sed -n '/^== /,$$p' target/compat/wrong.txt
	BANJO_FAIL2BAN_FILTER_D=target/compat/root/etc/fail2ban/filter.d \
	  $(CARGO) test --locked --lib every_real_fail2ban_filter_compiles_in_every_mode -- --nocapture

demo: build
	bash tests/demo.sh $(RELEASE)

# banjo beside fail2ban-regex, fail2ban-rs, grep, journalctl and two ceilings on generated logs
# and a private journald, every count checked against the truth, then the daemon suite
# (bench/run.sh; needs root; fetches and builds the peers under target/bench on first use).
# Quick by default (100k lines, a few minutes); `make bench FULL=1`: the 1M-line suite, which
# also writes bench/results/ and the README's table. `BEFORE=OLD_BANJO`: a second binary
# measured in every suite of the same run, as "banjo (before)".
bench: build
	FULL=$(FULL) BEFORE=$(BEFORE) bash bench/run.sh $(RELEASE)

# make test's guard against the bench rotting: the generator, banjo and grep on a 3000-line
# log, every count and per-address count checked, the table written. No root, no network.
bench-check:
	$(CARGO) build --locked
	bash bench/run.sh --check target/debug/banjo

# /usr/lib: where Debian 13 (merged /usr) wants units; systemd 252 (Debian 12) finds them there too
UNITDIR   ?= /usr/lib/systemd/system
MANDIR    ?= $(PREFIX)/share/man

install:
	install -D -m 0755 $(RELEASE) $(DESTDIR)$(BINDIR)/banjo
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 units/*.service units/*.socket $(DESTDIR)$(UNITDIR)/
	@# the journal catalog (journalctl -x): a package's is updated by systemd's dpkg trigger
	install -D -m 0644 catalog/banjo.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/banjo.catalog
	test -n "$(DESTDIR)" || journalctl --update-catalog
	$(RELEASE) generate man $(DESTDIR)$(MANDIR)/man8
	$(RELEASE) generate config-man $(DESTDIR)$(MANDIR)/man5
	$(RELEASE) generate completions target/completions
	install -D -m 0644 target/completions/banjo.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/banjo
	install -D -m 0644 target/completions/_banjo $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_banjo
	install -D -m 0644 target/completions/banjo.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/banjo.fish
	install -d $(DESTDIR)$(DATADIR)/filters
	install -m 0644 filters/*.conf $(DESTDIR)$(DATADIR)/filters/
	install -D -m 0644 config.toml $(DESTDIR)$(DOCDIR)/examples/config.toml
	test -e $(DESTDIR)$(SYSCONFDIR)/banjo/config.toml || \
	  install -D -m 0644 config.toml $(DESTDIR)$(SYSCONFDIR)/banjo/config.toml

# The Debian package: plain dh driving this Makefile (debian/rules), built with rustup's cargo.
# Output: ../banjo_<version>_<arch>.deb (dpkg-buildpackage's place), copied with its .changes,
# .buildinfo and dbgsym to target/deb/. debian/rules keeps target/, so rebuilds are incremental.
# `make lintian` checks it with Debian 13's lintian.
DEB_TOOLS := build-essential debhelper devscripts lintian fakeroot
DEB_BUILD_DEPS := pkg-config libsystemd-dev libclang-dev

deb:
	@missing=""; for p in $(DEB_TOOLS) $(DEB_BUILD_DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	DEB_BUILD_OPTIONS="nocheck $(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	@version=$$(dpkg-parsechangelog -S Version); arch=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	rm -rf target/deb; mkdir -p target/deb; \
	cp ../banjo_$${version}_$${arch}.deb ../banjo_$${version}_$${arch}.changes target/deb/; \
	cp ../banjo_$${version}_$${arch}.buildinfo target/deb/; \
	cp ../banjo-dbgsym_$${version}_$${arch}.*deb target/deb/ 2>/dev/null || true; \
	ls -l target/deb

DEB_BASE = target/deb/banjo_$$(dpkg-parsechangelog -S Version)_$$(dpkg-architecture -qDEB_HOST_ARCH)
# Debian 13's lintian (in a cached trixie chroot, tests/e2e/lintian.sh): errors and warnings fail.
lintian: deb
	bash tests/e2e/lintian.sh $(DEB_BASE).deb

# End-to-end: the .deb installed into booted Debian 13 (trixie) and Debian 12 (bookworm)
# containers side by side (systemd-nspawn, private network), driven through journald,
# nftables, systemctl and a real OpenSSH, and Debian 13's lintian beside them; one result line
# per suite. Needs root. See tests/e2e/run.sh (E2E_SUITES="trixie" for one suite).
e2e: deb $(PROMTOOL)
	PROMTOOL=$(CURDIR)/$(PROMTOOL) bash tests/e2e/run.sh $(DEB_BASE).deb

clean:
	$(CARGO) clean
