# edgeftpd — the two commands a new user needs are `make run` and `make test`.
# Cross builds live in cross/cross.mk, benchmarks in bench/bench.mk.

CARGO ?= cargo
BIN   := target/release/edgeftpd
PORT  ?= 2121

.PHONY: all build release run test deps lint fmt clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Serve demo/ anonymously, read-only, on 127.0.0.1:$(PORT); USERS=file adds a users file.
run: release
	@echo "serving ./demo on ftp://127.0.0.1:$(PORT)/ (anonymous, read-only); Ctrl-C stops"
	RUST_LOG=$${RUST_LOG:-info} $(BIN) --listen 127.0.0.1:$(PORT) --root demo --anonymous \
	  --pasv-ports 50000-50099 $(if $(USERS),--users $(USERS))

# Every test: unit tests, protocol tests over loopback, real clients; then no process of
# the server may be left running (tests/leftovers.sh).
test: deps
	$(CARGO) build
	$(CARGO) test -- --test-threads=4
	sh tests/leftovers.sh target/debug/edgeftpd

# Debian packages the tests drive (real clients). Installs only what is missing.
DEPS_CMDS := curl:curl lftp:lftp wget:wget busybox:busybox tnftp:tnftp python3:python3 ncftpget:ncftp openssl:openssl rclone:rclone \
  shellcheck:shellcheck node:nodejs systemd-analyze:systemd dpkg-deb:dpkg adduser:adduser setpriv:util-linux
deps:
	@missing=""; for p in $(DEPS_CMDS); do c=$${p%%:*}; pkg=$${p##*:}; \
	  command -v $$c >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  sh scripts/apt-update.sh && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

lint:
	@rustup component add clippy rustfmt >/dev/null 2>&1 || true
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --no-default-features -- -D warnings
	for f in $$(find cross/openwrt/luci-app-edgeftpd -name '*.js'); do node --check $$f || exit 1; done
	for f in $$(find cross/openwrt/luci-app-edgeftpd -name '*.json') cross/openwrt/edgeftpd.capabilities.json; do \
	  python3 -m json.tool $$f >/dev/null || { echo "$$f: not JSON"; exit 1; }; done
	shellcheck cross/openwrt/edgeftpd.init cross/openwrt/postinst cross/openwrt/prerm \
	  cross/openwrt/luci-app-edgeftpd/root/usr/libexec/rpcd/luci.edgeftpd \
	  cross/debian/postinst cross/debian/prerm cross/debian/postrm \
	  scripts/apt-update.sh tests/fresh.sh tests/leftovers.sh

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean

-include cross/cross.mk
-include bench/bench.mk
-include fuzz/fuzz.mk
-include board/board.mk
