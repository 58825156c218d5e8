# gigachatd — build, test, install, benchmark.
#
#   make demo      build, start the daemon (against the local fake API when GIGACHAT_CREDENTIALS is unset)
#                  and stream a reply
#   make test      install what the tests need, build, run unit and end-to-end tests
#   make install   binaries, systemd user units, completions and man page under PREFIX
#   make bench     the benchmark against the official Python SDK

PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSTEMD_USER_DIR ?= $(if $(XDG_CONFIG_HOME),$(XDG_CONFIG_HOME),$(HOME)/.config)/systemd/user
SWIFT ?= swift
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

APT_PACKAGES = libcurl4-openssl-dev libsystemd-dev openssl socat jq systemd curl
# Extra packages only the tests use (another uid for the peer-credential test, a pty for the REPL).
APT_TEST_PACKAGES = util-linux

.PHONY: all build release deps test-deps test unit-test e2e-test demo install uninstall bench clean sanitize

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

build: deps
	$(SWIFT) build

# The Swift runtime linked statically: gigachatctl starts in a few milliseconds and the daemon maps far
# fewer shared objects (see bench/REPORT.md).
RELEASE_FLAGS = -c release --static-swift-stdlib

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

sanitize: test-deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan

demo: build
	@contrib/demo.sh

install: release
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_USER_DIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 .build/release/gigachatd .build/release/gigachatctl $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/gigachatd.service > $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.service
	install -m 644 systemd/gigachatd.socket $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.socket
	@if [ -d contrib/completions ]; then \
	  install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d; \
	  .build/release/gigachatctl --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gigachatctl; \
	  .build/release/gigachatctl --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_gigachatctl; \
	  .build/release/gigachatctl --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/gigachatctl.fish; \
	fi
	@if [ -f docs/gigachatctl.1 ]; then install -m 644 docs/gigachatctl.1 $(DESTDIR)$(MANDIR)/man1/; fi
	@echo "installed; next: systemctl --user daemon-reload && systemctl --user enable --now gigachatd.socket"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/gigachatd $(DESTDIR)$(BINDIR)/gigachatctl
	rm -f $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.service $(DESTDIR)$(SYSTEMD_USER_DIR)/gigachatd.socket
	rm -f $(DESTDIR)$(MANDIR)/man1/gigachatctl.1

bench: test-deps
	$(SWIFT) build $(RELEASE_FLAGS)
	$(PYTHON) bench/run.py

clean:
	rm -rf .build .build-*
