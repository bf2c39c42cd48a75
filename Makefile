# claude-metrics-exporter: `make demo` to see it work, `make test` to check it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SWIFT ?= swift
REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
RELEASE_FLAGS := -c release --static-swift-stdlib -Xcc -DEXPORTER_REVISION='"$(REVISION)"'
BINARY := .build/release/claude-metrics-exporter
VERSION := $(shell sed -n 's/^let version = "\(.*\)"/\1/p' Sources/claude-metrics-exporter/main.swift)
# Debian packages: the tests need promtool and prometheus (package prometheus) for the exposition format,
# the rules and a real scrape, systemd-analyze (package systemd) for the unit files, and systemd-nspawn
# (package systemd-container) to boot a real systemd with the unit installed, strace to prove that nothing is
# written into the watched trees, podman, runc, catatonit and busybox-static for the image and a real pod, and
# chromium to load the status page in a real browser; the demo needs curl.
TEST_PACKAGES := prometheus systemd systemd-container strace podman runc catatonit busybox-static chromium \
  $(DEB_PACKAGES) debootstrap
TEST_COMMANDS := promtool prometheus systemd-analyze systemd-nspawn strace podman runc catatonit busybox chromium \
  $(DEB_COMMANDS) debootstrap
# The deploy tests run on Debian's python3 with Debian's python3-yaml, in a virtual environment under .build
# that sees Debian's packages and adds kubernetes-validate from PyPI (Debian does not package it).
DEBIAN_PYTHON := /usr/bin/python3
PYTHON_PACKAGES := python3-yaml python3-venv
DEPLOY_VENV := .build/deploy-venv
DEPLOY_PYTHON := $(DEPLOY_VENV)/bin/python
DEMO_PACKAGES := curl
DEMO_COMMANDS := curl
# make deb needs Debian's packaging tools; the manual page is checked with man (man-db, groff).
DEB_PACKAGES := debhelper dpkg-dev fakeroot lintian man-db groff-base
DEB_COMMANDS := dh dpkg-buildpackage fakeroot lintian man groff

# The benchmark needs wrk (scrape throughput) and strip (binutils).
BENCH_PACKAGES := wrk binutils
BENCH_COMMANDS := wrk strip
BENCH_FLAGS ?= --large

# Building needs two Debian -dev packages: libsystemd-dev (the sd-daemon/sd-journal headers; the library itself
# is loaded at run time) and zlib1g-dev (libz.a, linked statically for gzip).
BUILD_PACKAGES := libsystemd-dev zlib1g-dev
BUILD_HEADERS := /usr/include/systemd/sd-daemon.h /usr/include/zlib.h

# $(call require,commands,packages): installs missing Debian packages when root; otherwise stops with
# the one command that does.
define require
	@missing=""; for c in $(1); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(2) (for:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; \
	  else \
	    echo "missing:$$missing. Install with: sudo apt-get install -y $(2)"; exit 1; \
	  fi; \
	fi
endef

# make install: PREFIX and DESTDIR are honoured; the units go where systemd looks for local units.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
UNITS := claude-metrics-exporter.service claude-metrics-exporter@.service claude-metrics-exporter.socket

FUZZ_SECONDS ?= 600

.PHONY: man dist deb deb-deps image tsan help deps build-deps demo-deps bench-deps bench docker build install uninstall fuzz release run demo test lint format clean

help:
	@echo "make demo     run the exporter on a generated sample tree and watch it go active, then idle"
	@echo "              (on a free port; DEMO_PORT=N or METRICS_PORT=N to choose one)"
	@echo "make run      run the exporter on your own ~/.claude and ~/.happy (port 8080)"
	@echo "make test     install what the tests need (Debian packages, as root) and run them"
	@echo "make lint     swift format lint --strict, and a build with warnings as errors"
	@echo "make release  build $(BINARY) (static Swift runtime)"
	@echo "make bench    measure the performance budget with the release binary (about 5 minutes)"
	@echo "make install  install the binary and the systemd units (PREFIX=$(PREFIX), DESTDIR honoured)"
	@echo "make image    build the container image with podman (localhost/claude-metrics-exporter)"
	@echo "make deb      build dist/claude-metrics-exporter_VERSION_ARCH.deb (Debian's tools, installed when root)"
	@echo "make dist     build dist/claude-metrics-exporter-VERSION-linux-ARCH.tar.gz and its .sha256"
	@echo "make man      write the manual page, $(MAN_PAGE), from the options table"
	@echo "make tsan     run the unit and integration tests under ThreadSanitizer"
	@echo "make fuzz     fuzz the HTTP request, registry and usage-line parsers with libFuzzer, and the usage reader against Python's json, FUZZ_SECONDS each (default 600)"

deps: build-deps
	$(call require,$(TEST_COMMANDS),$(TEST_PACKAGES))
	@$(DEBIAN_PYTHON) -c 'import yaml, ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(PYTHON_PACKAGES) (deploy tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PYTHON_PACKAGES) >/dev/null; \
	  else echo "missing: Debian's python3 yaml or venv module. Install with: sudo apt-get install -y $(PYTHON_PACKAGES)"; exit 1; fi; }
	@$(DEPLOY_PYTHON) -c 'import yaml, kubernetes_validate' 2>/dev/null || { \
	  echo "setting up $(DEPLOY_VENV): kubernetes-validate from PyPI (deploy tests)"; \
	  rm -rf $(DEPLOY_VENV) && $(DEBIAN_PYTHON) -m venv --system-site-packages $(DEPLOY_VENV) \
	    && $(DEPLOY_VENV)/bin/python -m pip install -q --disable-pip-version-check kubernetes-validate; }

build-deps:
	@missing=""; for h in $(BUILD_HEADERS); do [ -e $$h ] || missing="$$missing $$h"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(BUILD_PACKAGES) (for:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BUILD_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing. Install with: sudo apt-get install -y $(BUILD_PACKAGES)"; exit 1; \
	  fi; \
	fi

demo-deps: build-deps
	$(call require,$(DEMO_COMMANDS),$(DEMO_PACKAGES))

bench-deps:
	$(call require,$(BENCH_COMMANDS),$(BENCH_PACKAGES))

build: build-deps
	$(SWIFT) build

release: build-deps
	$(SWIFT) build $(RELEASE_FLAGS) --product claude-metrics-exporter

run: release
	CLAUDE_DIR=$${CLAUDE_DIR:-$$HOME/.claude} HAPPY_DIR=$${HAPPY_DIR:-$$HOME/.happy} $(BINARY)

demo: demo-deps build
	@bash scripts/demo.sh .build/debug/claude-metrics-exporter

# Measures the performance budget (README, "Performance"): about 5 minutes. BENCH_FLAGS=--help for options.
bench: bench-deps release
	python3 bench/bench.py $(BENCH_FLAGS)

# Swift tests (unit and integration), then the deploy/ tests: rules, manifests, a real Prometheus, and the
# release binary in an empty chroot with only the runtime image's libraries.
test: deps release
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) test --skip-build --disable-xctest
	python3 Tests/Differential/usage_differential.py .build/debug/usage-lines
	$(DEPLOY_PYTHON) deploy/tests/test_deploy.py

# The unit and integration tests under ThreadSanitizer (a build of their own in .build-tsan; the exporter the
# integration tests start is instrumented too). Any report fails: halt_on_error stops the process that races.
# Three tests are skipped here, and run by make test: two time a client against the server's own timers
# (keep-alive idle, a 10 s head deadline for thousands of pipelined requests), which TSan slows 5 to 15 times,
# and one bounds the exporter's resident memory, which TSan's shadow memory inflates.
TSAN_OPTIONS ?= halt_on_error=1 exitcode=66
TSAN_SKIP := keepAliveIdle|deepPipeline|millionAppends
tsan: build-deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS="$(TSAN_OPTIONS)" $(SWIFT) test --skip-build --disable-xctest --sanitize=thread --scratch-path .build-tsan \
	  --skip '$(TSAN_SKIP)'


# libFuzzer (with AddressSanitizer) for FUZZ_SECONDS each: the HTTP request parser, then the session registry's
# parser. The seed corpora in Fuzz/corpus/ are copied, never written to.
FUZZERS := HTTPRequestParserFuzzer:http RegistryParserFuzzer:registry UsageLineFuzzer:usage
fuzz: build-deps
	for fuzzer in $(FUZZERS); do \
	  CME_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz --product $${fuzzer%%:*} \
	    -Xswiftc -sanitize=fuzzer,address || exit 1; \
	done
	for fuzzer in $(FUZZERS); do \
	  name=$${fuzzer%%:*}; corpus=$${fuzzer##*:}; \
	  mkdir -p .build-fuzz/corpus-$$corpus && cp -n Fuzz/corpus/$$corpus/* .build-fuzz/corpus-$$corpus/; \
	  .build-fuzz/debug/$$name .build-fuzz/corpus-$$corpus -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -print_final_stats=1 || exit 1; \
	done
	$(SWIFT) build --product usage-lines
	python3 Tests/Differential/usage_differential.py .build/debug/usage-lines --seconds $(FUZZ_SECONDS) --seed $$(date +%s)

# The manual page, written by Tools/man-page from the option table that --help prints (it cannot drift), dated
# by the last commit.
DATE := $(shell git log -1 --format=%cs 2>/dev/null || date +%F)
ARCH := $(shell dpkg --print-architecture 2>/dev/null || uname -m)
MAN_PAGE := .build/claude-metrics-exporter.1
man: build-deps
	$(SWIFT) build --product man-page
	.build/debug/man-page $(VERSION) $(DATE) > $(MAN_PAGE)

# The release archive: the stripped binary, the units, the settings file, the manual page, README and LICENSE,
# with a .sha256 beside it. Reproducible: sorted, owned by root, dated by the last commit.
DIST_NAME := claude-metrics-exporter-$(VERSION)-linux-$(ARCH)
dist: release man
	rm -rf .build/dist && mkdir -p .build/dist/$(DIST_NAME) dist
	strip -o .build/dist/$(DIST_NAME)/claude-metrics-exporter $(BINARY)
	cp systemd/claude-metrics-exporter.service systemd/claude-metrics-exporter@.service \
	  systemd/claude-metrics-exporter.socket $(MAN_PAGE) README.md LICENSE .build/dist/$(DIST_NAME)/
	cp systemd/claude-metrics-exporter.env .build/dist/$(DIST_NAME)/claude-metrics-exporter.default
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=$(DATE) -C .build/dist \
	  -czf dist/$(DIST_NAME).tar.gz $(DIST_NAME)
	cd dist && sha256sum $(DIST_NAME).tar.gz > $(DIST_NAME).tar.gz.sha256
	@echo "dist/$(DIST_NAME).tar.gz"

# The Debian package, with dpkg-buildpackage and debhelper (debian/), in a copy under .build/deb so that nothing
# is written beside the checkout; the release binary and the manual page are built first (the Swift toolchain is
# not a Debian package: -d). Then lintian.
DEB := dist/claude-metrics-exporter_$(VERSION)_$(ARCH).deb
deb-deps:
	$(call require,$(DEB_COMMANDS),$(DEB_PACKAGES))

deb: deb-deps release man
	@test "$$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$(VERSION)" || \
	  { echo "debian/changelog's version is not $(VERSION): add an entry (dch -v $(VERSION))"; exit 1; }
	rm -rf .build/deb && mkdir -p .build/deb/src/.build/release dist
	cp -r debian systemd README.md LICENSE .build/deb/src/
	cp $(BINARY) .build/deb/src/.build/release/
	cp $(MAN_PAGE) .build/deb/src/.build/
	cd .build/deb/src && dpkg-buildpackage -b -d -us -uc --no-pre-clean > ../build.log 2>&1 \
	  || { tail -40 ../build.log; exit 1; }
	mv .build/deb/claude-metrics-exporter_$(VERSION)_$(ARCH).deb $(DEB)
	lintian --info --display-info $(DEB) | tee .build/deb/lintian.txt
	@echo "$(DEB) ($$(stat -c %s $(DEB)) bytes)"

# The image with podman (Debian's package; as root): the Dockerfile's runtime stage around the stripped release
# binary, on the distroless base where it can be pulled, else (IMAGE_BASE=local, the default here) on a base
# assembled from Debian's packages by scripts/runtime-base.sh. Tags localhost/claude-metrics-exporter:latest
# and :VERSION.
IMAGE_BASE ?= local
image: release
	@command -v podman >/dev/null || { echo "podman not found. Install with: sudo apt-get install -y podman runc catatonit"; exit 1; }
	rm -rf .build/image-context && mkdir -p .build/image-context
	strip -o .build/image-context/claude-metrics-exporter $(BINARY)
	cp Dockerfile .build/image-context/
	base=$(IMAGE_BASE); [ "$$base" != local ] || base=$$(bash scripts/runtime-base.sh); \
	podman build --quiet --build-arg BINARY_FROM=prebuilt --build-arg RUNTIME_BASE=$$base \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  -t localhost/claude-metrics-exporter:latest -t localhost/claude-metrics-exporter:$(VERSION) .build/image-context

# The container image; needs a Docker engine (none runs on the CI machines: `make test` checks the runtime
# half in a chroot instead).
docker:
	@command -v docker >/dev/null || { echo "docker not found"; exit 1; }
	docker build --build-arg REVISION=$(REVISION) -t claude-metrics-exporter:$(REVISION) .

lint: build-deps
	git ls-files -z '*.swift' | xargs -0 $(SWIFT) format lint --strict
	@# Synchronization.Mutex's contended path is invisible to ThreadSanitizer (false races): use Platform's Locked.
	@! git grep -n -E '\bMutex(<|\()' -- '*.swift' || { echo 'use Locked (Sources/Platform/Locked.swift), not Mutex'; exit 1; }
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors

format:
	git ls-files -z '*.swift' | xargs -0 $(SWIFT) format format -i

install: release
	install -D -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/claude-metrics-exporter
	for unit in $(UNITS); do \
	  sed 's|/usr/local/bin/claude-metrics-exporter|$(BINDIR)/claude-metrics-exporter|' systemd/$$unit \
	    | install -D -m 0644 /dev/stdin $(DESTDIR)$(UNITDIR)/$$unit; \
	done
	@# The settings file is the user's: installed once, never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/claude-metrics-exporter ] || \
	  install -D -m 0644 systemd/claude-metrics-exporter.env $(DESTDIR)$(SYSCONFDIR)/default/claude-metrics-exporter
	@echo "installed; then: systemctl daemon-reload && systemctl enable --now claude-metrics-exporter@$$USER"

# Removes what install put there, except the settings file in $(SYSCONFDIR)/default (it may hold your edits).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/claude-metrics-exporter
	for unit in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$unit; done

clean:
	rm -rf .build
