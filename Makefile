# xrun — the two commands that matter:
#   make demo   set up what is missing, build, turn a docker-save image into a bundle, run it
#   make test   every test (unit, integration, conformance); .ci/run calls this
SHELL := /bin/bash
CARGO ?= cargo
XRUN := target/release/xrun
# Debian packages the tests and tools need.
TEST_PKGS := busybox-static jq
BENCH_PKGS := runc crun hyperfine

.PHONY: all build deps test unit integration clippy fmt-check bench

all: build

build:
	$(CARGO) build --release

# Installs the Debian packages in $(1) that are missing (as root, from Debian's archive).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(TEST_PKGS))

test: deps
	$(CARGO) build --all-targets
	$(CARGO) test -- --test-threads=2

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

fmt-check:
	$(CARGO) fmt --check

# ---- image companion (xrun image ...) ----
# Tools that make and check the image fixtures: dockerd 20.10 (Debian's docker.io), podman,
# skopeo, umoci (bench), zstd; all from Debian's archive.
IMAGE_PKGS := busybox-static docker.io podman skopeo umoci zstd uidmap

.PHONY: image-deps fixtures demo bench-image

image-deps:
	$(call apt_install,$(IMAGE_PKGS))
