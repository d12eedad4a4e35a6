# xrun — the two commands that matter:
#   make demo   set up what is missing, build, turn a docker-save image into a bundle, run it
#   make test   every test: lints, unit and integration (as root), conformance, and the
#               cgroup tests again on a pure cgroup v2 kernel in a VM; .ci/run calls this
SHELL := /bin/bash
CARGO ?= cargo
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
# The release binary is static and not position-independent: no dynamic loader and no
# relocation work on every start (about 0.7 MB less resident memory per start). Stack, heap
# and mmap addresses are still randomised; only the binary's own image is at a fixed address.
STATIC := RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C force-unwind-tables=no"
XRUN := target/$(HOST_TRIPLE)/release/xrun
# Debian packages the tests and tools need.
# gcc and libc6-dev build the static helper of the hugetlb test.
TEST_PKGS := busybox-static jq runc containerd docker.io podman iproute2 util-linux bsdutils tar gcc libc6-dev
BENCH_PKGS := runc crun hyperfine

.PHONY: all build deps test clippy fmt-check bench

all: build

build:
	$(STATIC) $(CARGO) build --release --bin xrun --target $(HOST_TRIPLE)

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

test: deps fmt-check clippy
	$(CARGO) build --workspace --all-targets
	$(CARGO) test --workspace -- --test-threads=2
	$(MAKE) conformance
	$(MAKE) test-cgroupv2

# Root filesystems of bundle-examples/ from Debian's static busybox.
.PHONY: examples
examples:
	$(call apt_install,busybox-static)
	bundle-examples/build-rootfs.sh

# Startup time and peak memory against runc and crun (bench/run.sh), then the image
# companion's unpack against umoci and bundles from the store (bench/image.sh).
bench: build
	$(call apt_install,$(BENCH_PKGS) jq time)
	XRUN=$(XRUN) bash bench/run.sh
	$(MAKE) bench-image

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt-check:
	$(CARGO) fmt --check

# The conformance suite (conformance/README.md): a static checker run inside containers over
# a matrix of configs; fails on any `not ok`. `make conformance RUNTIME=runc` runs the same
# matrix under runc, to check the checker.
CONFORMANCE_PKGS := busybox-static iproute2 libc6-dev
CHECKER = target/$(HOST_TRIPLE)/release/checker
RUNTIME ?= $(XRUN)

.PHONY: conformance
conformance:
	$(call apt_install,$(CONFORMANCE_PKGS))
	$(STATIC) $(CARGO) build --release --bin xrun --target $(HOST_TRIPLE)
	$(STATIC) $(CARGO) build --release -p xrun-conformance-checker --target $(HOST_TRIPLE)
	$(CARGO) build --release -p xrun-conformance
	target/release/conformance --runtime $(RUNTIME) --xrun $(XRUN) --checker $(CHECKER)

# Pure cgroup v2: the cgroup tests (and the lifecycle, and AppArmor, which Debian's kernel has on
# in the VM) in a throwaway QEMU VM booted with
# cgroup_no_v1=all (tests/vm/vm.sh). Built here, run there. A few minutes under TCG.
# systemd and dbus: the second VM boots systemd as PID 1 for the --systemd-cgroup tests.
# ibverbs-utils: ibv_devinfo opens a verbs context on the VM's soft-RoCE device (rdma limits).
VM_PKGS := qemu-system-x86 linux-image-amd64 busybox-static cpio kmod xz-utils procps util-linux apparmor \
	systemd dbus ibverbs-utils
CGROUPV2_TESTS := cgroup_lifecycle cgroup_resources lifecycle lsm
SYSTEMD_TESTS := cgroup_systemd
test_bins = $(CARGO) test --no-run --message-format=json $(foreach t,$(1),--test $(t)) \
	| jq -r 'select(.profile.test == true) | .executable'

.PHONY: test-cgroupv2
test-cgroupv2: export INITRD := No
test-cgroupv2:
	$(call apt_install,$(TEST_PKGS) $(VM_PKGS))
	$(CARGO) build --tests
	@rc=0; start=$$(date +%s); \
	bins=$$($(call test_bins,$(CGROUPV2_TESTS))) && \
	tests/vm/vm.sh --timeout 900 -- tests/vm/cgroupv2-tests.sh $$bins || rc=1; \
	bins=$$($(call test_bins,$(SYSTEMD_TESTS))) && \
	tests/vm/vm.sh --systemd --timeout 600 -- tests/vm/systemd-tests.sh $$bins || rc=1; \
	echo "test-cgroupv2: both VMs took $$(($$(date +%s) - start))s"; exit $$rc
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
demo: build
	$(call apt_install,busybox-static)
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

bench-image: image-deps build
	bash bench/image.sh $(XRUN)
