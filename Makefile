# gigachatd — build, test, install, benchmark.
#
#   make demo      build, start the daemon (against the local fake API when GIGACHAT_CREDENTIALS is unset)
#                  and stream a reply
#   make test      install what the tests need, build, run unit and end-to-end tests
#   make install   binaries, systemd user units, completions and man pages under PREFIX
#   make deb       dist/gigachatd_VERSION_ARCH.deb (release build, dpkg-shlibdeps, lintian)
#   make bench     the benchmark against the official Python SDK

PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSTEMD_USER_DIR ?= $(if $(XDG_CONFIG_HOME),$(XDG_CONFIG_HOME),$(HOME)/.config)/systemd/user
BASH_COMPLETION_DIR ?= $(DATADIR)/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(DATADIR)/zsh/site-functions
FISH_COMPLETION_DIR ?= $(DATADIR)/fish/vendor_completions.d
# Where install-files takes gigachatd and gigachatctl from (`make install` builds them there first).
BUILT ?= .build/release
SWIFT ?= swift
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

APT_PACKAGES = libcurl4-openssl-dev libsystemd-dev libsqlite3-dev openssl socat jq systemd curl
# Extra packages only the tests use (another uid for the peer-credential test, a pty for the REPL;
# unshare, nsenter, setpriv and useradd for the tests under a real systemd --user, test_user_manager.py;
# the sqlite3 shell for docs/USAGE.md's example).
APT_TEST_PACKAGES = util-linux sqlite3 passwd

# The version is defined once, in the code (GigaChatDVersion.current); the package takes it from there.
VERSION := $(shell sed -n '/enum GigaChatDVersion/,/^}/s/.*static let current = "\([^"]*\)".*/\1/p' $$(grep -rl 'enum GigaChatDVersion' Sources))
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB := dist/gigachatd_$(VERSION)_$(DEB_ARCH).deb
# dpkg-shlibdeps expects the package's files in debian/PACKAGE, next to debian/control.
DEB_ROOT := .build-deb/debian/gigachatd
# dpkg-dev: dpkg-shlibdeps; lintian checks the result; binutils: strip.
APT_DEB_PACKAGES = dpkg-dev lintian binutils

.PHONY: all build release deps test-deps deb-deps test unit-test e2e-test demo install install-files uninstall deb deb-test print-deb bench clean sanitize

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test-deps: deps
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@$(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest
	@# Real clients for the HTTP front end's tests (test_openai.py) and the shell examples of docs/OPENAI.md.
	@$(PYTHON) -c 'import openai, httpx, langchain_openai, gigachat, langchain_gigachat' 2>/dev/null || \
	  $(PYTHON) -m pip install -q openai httpx langchain-openai gigachat langchain-gigachat
	@command -v llm >/dev/null 2>&1 || $(PYTHON) -m pip install -q llm

build: deps
	$(SWIFT) build

# Package.swift links the Swift runtime statically into release executables, so this builds what a plain
# `swift build -c release` builds. With no shared objects of our own left, the $ORIGIN RUNPATH SwiftPM
# adds would only be a search path nobody needs (lintian: custom-library-search-path).
RELEASE_FLAGS = -c release --disable-local-rpath

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

unit-test: build
	$(SWIFT) test

e2e-test: build
	$(PYTHON) -m pytest -q Tests/EndToEnd

test: test-deps
	$(SWIFT) build
	$(SWIFT) test
	$(PYTHON) -m pytest -q Tests/EndToEnd

# Formatting is swift-format's job (.swift-format holds the rules); `swift format format -i -r Sources Tests`
# fixes what this finds.
lint:
	$(SWIFT) format lint --strict -r Sources Tests

sanitize: test-deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan

demo: build
	@contrib/demo.sh

install: release
	@$(MAKE) --no-print-directory install-files

# What `make install` copies, without building: the tests install binaries they built elsewhere
# (BUILT=DIR) and the package is laid out with it (DESTDIR=...).
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_USER_DIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR) $(DESTDIR)$(FISH_COMPLETION_DIR)
	install -m 755 $(BUILT)/gigachatd $(BUILT)/gigachatctl $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/gigachatd.service > $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.service
	chmod 644 $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.service
	install -m 644 systemd/gigachatd.socket systemd/gigachatd-no-namespaces.conf $(DESTDIR)$(SYSTEMD_USER_DIR)/
	@# bash-completion sources the file; a #! line would only suggest running it.
	$(BUILT)/gigachatctl --generate-completion-script bash | sed '1{/^#!/d;}' > $(DESTDIR)$(BASH_COMPLETION_DIR)/gigachatctl
	$(BUILT)/gigachatctl --generate-completion-script zsh > $(DESTDIR)$(ZSH_COMPLETION_DIR)/_gigachatctl
	$(BUILT)/gigachatctl --generate-completion-script fish > $(DESTDIR)$(FISH_COMPLETION_DIR)/gigachatctl.fish
	install -m 644 docs/gigachatctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/gigachatd.8 $(DESTDIR)$(MANDIR)/man8/
	@echo "installed; next: systemctl --user daemon-reload && systemctl --user enable --now gigachatd.socket"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/gigachatd $(DESTDIR)$(BINDIR)/gigachatctl
	rm -f $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.service $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.socket \
	  $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd-no-namespaces.conf
	rm -f $(DESTDIR)$(BASH_COMPLETION_DIR)/gigachatctl $(DESTDIR)$(ZSH_COMPLETION_DIR)/_gigachatctl \
	  $(DESTDIR)$(FISH_COMPLETION_DIR)/gigachatctl.fish
	rm -f $(DESTDIR)$(MANDIR)/man1/gigachatctl.1 $(DESTDIR)$(MANDIR)/man8/gigachatd.8

deb-deps:
	@missing=""; for p in $(APT_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

# A binary package made with dpkg tools alone (no debian/rules): the release build laid out as Debian
# puts things, Depends computed by dpkg-shlibdeps from the binaries, then lintian, which must report no
# errors (packaging/debian/lintian-overrides says why each remaining tag is fine).
deb: deb-deps release
	@test -n "$(VERSION)" || { echo "cannot find GigaChatDVersion.current in Sources" >&2; exit 1; }
	rm -rf .build-deb && mkdir -p $(DEB_ROOT)/DEBIAN dist
	@$(MAKE) --no-print-directory install-files DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr BINDIR=/usr/bin \
	  SYSTEMD_USER_DIR=/usr/lib/systemd/user ZSH_COMPLETION_DIR=/usr/share/zsh/vendor-completions >/dev/null
	strip --strip-unneeded --remove-section=.comment --remove-section=.note $(DEB_ROOT)/usr/bin/gigachatd $(DEB_ROOT)/usr/bin/gigachatctl
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/gigachatctl.1 $(DEB_ROOT)/usr/share/man/man8/gigachatd.8
	install -d $(DEB_ROOT)/usr/share/doc/gigachatd $(DEB_ROOT)/usr/share/lintian/overrides
	install -m 644 README.md docs/SYSTEMD.md docs/PROTOCOL.md docs/SCRIPTING.md docs/RELIABILITY.md $(DEB_ROOT)/usr/share/doc/gigachatd/
	install -m 644 packaging/debian/copyright $(DEB_ROOT)/usr/share/doc/gigachatd/copyright
	sed -e 's|@VERSION@|$(VERSION)|' -e "s|@DATE@|$$(git log -1 --format=%cD 2>/dev/null || date -R)|" packaging/debian/changelog \
	  | gzip -9n > $(DEB_ROOT)/usr/share/doc/gigachatd/changelog.gz
	install -m 644 packaging/debian/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/gigachatd
	printf 'Source: gigachatd\n\nPackage: gigachatd\nArchitecture: any\n' > .build-deb/debian/control
	cd .build-deb && dpkg-shlibdeps -O -edebian/gigachatd/usr/bin/gigachatd -edebian/gigachatd/usr/bin/gigachatctl > shlibs.substvars
	depends=$$(sed -n 's/^shlibs:Depends=//p' .build-deb/shlibs.substvars); \
	size=$$(du -k -s --apparent-size --exclude=DEBIAN $(DEB_ROOT) | cut -f1); \
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e "s|@DEPENDS@|$$depends|" -e "s|@SIZE@|$$size|" \
	  packaging/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)
	lintian --fail-on error --display-info $(DEB)
	@echo "built $(DEB)"

# The package's path, for scripts: GIGACHATD_DEB=$$(make -s print-deb)
print-deb:
	@echo $(DEB)

# The tests under a real systemd --user again, this time with the package installed (apt-get install
# ./gigachatd_*.deb, into the test's own namespace: the machine itself is not changed).
deb-test: deb test-deps
	GIGACHATD_DEB=$(CURDIR)/$(DEB) $(PYTHON) -m pytest -q Tests/EndToEnd/test_user_manager.py -k deb

# bench/oneshot.c is the floor gigachatctl's one-shot is held against; bench/out/ stays out of git.
# BENCH_ARGS passes options through (make bench BENCH_ARGS=--quick; python3 bench/run.py --help).
bench: test-deps
	$(SWIFT) build $(RELEASE_FLAGS)
	@mkdir -p bench/out
	$(CC) -O2 -Wall -o bench/out/oneshot bench/oneshot.c
	$(PYTHON) bench/run.py --bin-dir .build/release $(BENCH_ARGS)

clean:
	rm -rf .build .build-* dist
