#!/bin/sh
# Runs inside the VM (see vm.sh): the cgroup test binaries given as arguments, on pure
# cgroup v2. A loop device gives the io.max tests a block device, a few huge pages the
# hugetlb test, and a soft-RoCE device the rdma tests.
set -u
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || { echo "not a cgroup v2 host"; exit 1; }
modprobe loop 2>/dev/null
dd if=/dev/zero of=/tmp/disk bs=1M count=8 2>/dev/null && losetup -f --show /tmp/disk >/dev/null
# Huge pages for the hugepageLimits enforcement test (8 MiB of the guest's RAM).
echo 4 > /proc/sys/vm/nr_hugepages
# A soft-RoCE device (rxe0 over a veth) for the rdma tests, where the kernel has rdma_rxe.
modprobe rdma_rxe 2>/dev/null && ip link add xrunv0 type veth peer name xrunv1 &&
  ip link set xrunv0 up && rdma link add rxe0 type rxe netdev xrunv0 || echo "no rdma_rxe: rdma values untested"
rc=0
for t in "$@"; do
  echo "== $t (cgroup v2)"
  "$t" --test-threads=2 || rc=1
done
exit $rc
