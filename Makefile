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

# Pure cgroup v2: the cgroup tests (and the lifecycle) in a throwaway QEMU VM booted with
# cgroup_no_v1=all (tests/vm/vm.sh). Built here, run there. A few minutes under TCG.
VM_PKGS := qemu-system-x86 linux-image-amd64 busybox-static cpio kmod xz-utils procps util-linux
CGROUPV2_TESTS := cgroup_lifecycle cgroup_resources lifecycle

.PHONY: test-cgroupv2
test-cgroupv2: export INITRD := No
test-cgroupv2:
	$(call apt_install,$(TEST_PKGS) $(VM_PKGS))
	$(CARGO) build --tests
	bins=$$($(CARGO) test --no-run --message-format=json $(foreach t,$(CGROUPV2_TESTS),--test $(t)) \
		| jq -r 'select(.profile.test == true) | .executable'); \
	tests/vm/vm.sh --timeout 900 -- tests/vm/cgroupv2-tests.sh $$bins
