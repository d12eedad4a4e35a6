#!/bin/sh
# Runs inside the VM (see vm.sh): the cgroup test binaries given as arguments, on pure
# cgroup v2. A loop device gives the io.max tests a block device, and a few huge pages
# the hugetlb test.
set -u
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || { echo "not a cgroup v2 host"; exit 1; }
modprobe loop 2>/dev/null
dd if=/dev/zero of=/tmp/disk bs=1M count=8 2>/dev/null && losetup -f --show /tmp/disk >/dev/null
# Huge pages for the hugepageLimits enforcement test (8 MiB of the guest's RAM).
echo 4 > /proc/sys/vm/nr_hugepages
rc=0
for t in "$@"; do
  echo "== $t (cgroup v2)"
  "$t" --test-threads=2 || rc=1
done
exit $rc
