#!/bin/sh
# Runs inside the VM booted with systemd as PID 1 (vm.sh --systemd): the test binaries
# given as arguments, including their tests that need systemd (ignored elsewhere).
set -u
[ "$(cat /proc/1/comm)" = systemd ] || { echo "systemd is not PID 1 here"; exit 1; }
[ -d /run/systemd/system ] || { echo "no /run/systemd/system"; exit 1; }
rc=0
for t in "$@"; do
  echo "== $t (systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), cgroup v2)"
  "$t" --include-ignored --test-threads=2 || rc=1
done
exit $rc
