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

# The image tests need dockerd, podman and skopeo for their fixtures.
test: image-deps

IMAGE_FIXTURES = target/image-fixtures/$(shell cat tests/fixtures/docker-fixtures.sh tests/fixtures/Dockerfile.app /bin/busybox 2>/dev/null | sha256sum | cut -c1-16)

# Real-world image tarballs (dockerd 20.10, podman, skopeo), cached by content; the tests
# build them on first use too.
fixtures: image-deps
	@[ -f $(IMAGE_FIXTURES)/done ] || bash tests/fixtures/docker-fixtures.sh $(IMAGE_FIXTURES)
	@ls $(IMAGE_FIXTURES)

# The whole path on a fresh machine: a busybox image tarball built here, unpacked and run,
# then loaded into a store, run from an overlay bundle, and everything removed again.
demo:
	$(call apt_install,busybox-static)
	$(CARGO) build --release
	@set -e; d=$$(mktemp -d /var/tmp/xrun-demo.XXXXXX); \
	trap 'umount -l $$d/overlay/rootfs 2>/dev/null || true; rm -rf $$d' EXIT; \
	echo "== build a docker-save image from Debian's busybox-static"; \
	tests/fixtures/busybox-image.sh $$d/busybox.tar xrun-demo/busybox:latest; \
	echo "== xrun image unpack"; \
	$(XRUN) image unpack $$d/busybox.tar $$d/bundle; \
	echo "== xrun run"; \
	$(XRUN) --root $$d/state run --bundle $$d/bundle demo-unpacked; \
	echo "== xrun image load / images / bundle (overlayfs) / run / unbundle"; \
	$(XRUN) image --store $$d/store load $$d/busybox.tar; \
	$(XRUN) image --store $$d/store images; \
	$(XRUN) image --store $$d/store bundle xrun-demo/busybox $$d/overlay; \
	$(XRUN) --root $$d/state run --bundle $$d/overlay demo-overlay; \
	$(XRUN) image --store $$d/store unbundle $$d/overlay; \
	echo "== demo done; cleaning up $$d"

bench-image: image-deps
	$(CARGO) build --release
	bash bench/image.sh $(XRUN)
