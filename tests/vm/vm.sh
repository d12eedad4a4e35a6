#!/bin/bash
# tests/vm/vm.sh - run COMMAND as root in a throwaway QEMU VM on a pure cgroup v2 host.
#
# usage: tests/vm/vm.sh [--mem MB] [--cpus N] [--timeout S] [--systemd] -- COMMAND [ARG...]
#
# The guest boots Debian's kernel (linux-image-amd64) with cgroup_no_v1=all and a tiny
# busybox initramfs, sees the host's / read-only over virtio-9p (under a tmpfs overlay, so
# guest writes vanish), and $PWD read-write at the same path. It gets fresh /proc, /sys,
# /dev, /tmp and /run, bpffs, and cgroup2 on /sys/fs/cgroup with every controller enabled
# in the root. COMMAND runs in $PWD as root; its stdout+stderr come back on our stdout and
# its exit status is ours (124: timeout, 125: the VM failed). KVM is used when it boots,
# else TCG. Host packages: qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
# xz-utils (`make test-cgroupv2` installs them).
#
# --systemd: the guest's PID 1 is the host's systemd (and dbus, for the system bus) instead
# of busybox; it mounts cgroup2 and manages it itself, and COMMAND runs as the service
# xrun-vm.service (in system.slice). Only what that service needs is started: it and dbus
# have no default dependencies, and the generators are masked, so boot stays short.
set -euo pipefail
mem=2048 cpus=$(nproc) tmo=900 systemd=
while [ $# -gt 0 ]; do case $1 in
  --mem) mem=$2; shift 2;; --cpus) cpus=$2; shift 2;; --timeout) tmo=$2; shift 2;;
  --systemd) systemd=1; shift;;
  --) shift; break;; *) sed -n 4p "$0" >&2; exit 2;;
esac; done
[ $# -gt 0 ] || { sed -n 4p "$0" >&2; exit 2; }
for t in qemu-system-x86_64 busybox cpio modprobe xz; do
  command -v $t >/dev/null || { echo "vm.sh: $t missing (run: make test-cgroupv2)" >&2; exit 125; }
done
kver=
for f in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V); do v=${f#/boot/vmlinuz-}; [ -d "/lib/modules/$v/kernel" ] && kver=$v; done
[ -n "$kver" ] || { echo "vm.sh: no kernel with modules in /boot (install linux-image-amd64)" >&2; exit 125; }
cache=${XRUN_VM_CACHE:-/var/cache/xrun-vm}; mkdir -p "$cache"
tmp=$(mktemp -d /tmp/xrun-vm.XXXXXX); trap 'rm -rf "$tmp"' EXIT

# Guest /init: stage 1 in the initramfs mounts the shares and switches root; stage 2
# ("init 2") runs COMMAND in the new root, as PID 1 or (with xrunvm=systemd on the kernel
# command line) as a service of systemd.
INIT='#!/bin/busybox sh
B=/bin/busybox
if [ "$1" != 2 ]; then
  export PATH=/bin
  mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
  case " $(cat /proc/cmdline) " in *" xrunvm=systemd "*) sd=1;; *) sd=;; esac
  for m in $(cat /m/order); do insmod /m/$m || echo "vm: insmod $m failed"; done
  o=trans=virtio,version=9p2000.L,msize=262144
  mount -t 9p -o $o,ro,cache=loose root /lower
  mount -t tmpfs -o mode=755 ovl /ovl; mkdir /ovl/u /ovl/w
  mount -t overlay -o lowerdir=/lower,upperdir=/ovl/u,workdir=/ovl/w overlay /newroot
  cd /newroot; mount --move /proc proc; mount --move /sys sys; mount --move /dev dev
  mkdir -p dev/pts dev/shm; mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts dev/pts
  mount -t tmpfs -o mode=1777 shm dev/shm; mount -t tmpfs -o mode=1777 tmp tmp
  mount -t tmpfs -o mode=755 run run; mount -t bpf bpf sys/fs/bpf
  if [ -z "$sd" ]; then
    mount -t cgroup2 -o nsdelegate cgroup2 sys/fs/cgroup
    for c in $(cat sys/fs/cgroup/cgroup.controllers); do
      echo +$c > sys/fs/cgroup/cgroup.subtree_control || echo "vm: cannot enable $c"
    done
  fi
  mkdir -p run/vm/ctl; cp /init $B run/vm/; mount -t 9p -o $o,cache=none ctl run/vm/ctl
  IFS= read -r w < run/vm/ctl/pwd || :
  [ -z "$w" ] || { mkdir -p ".$w"; mount -t 9p -o $o,cache=mmap pwd ".$w"; }
  [ -n "$sd" ] || exec switch_root /newroot /run/vm/busybox sh /run/vm/init 2
  # The host may be a container: the guest is not, or systemd would act as in one.
  $B rm -f .dockerenv run/.containerenv
  u=run/systemd/system; g=run/systemd/system-generators; mkdir -p $u/dbus.service.d $u/dbus.socket.d $g
  for f in /lower/usr/lib/systemd/system-generators/*; do $B ln -s /dev/null $g/${f##*/}; done
  printf "[Unit]\nDefaultDependencies=no\n" > $u/dbus.service.d/vm.conf
  cp $u/dbus.service.d/vm.conf $u/dbus.socket.d/vm.conf
  printf "%s\n" "[Unit]" DefaultDependencies=no AllowIsolate=yes "Wants=dbus.socket dbus.service" \
    "After=dbus.socket dbus.service" "[Service]" "ExecStart=/run/vm/busybox sh /run/vm/init 2" \
    TimeoutStartSec=infinity StandardOutput=tty TTYPath=/dev/console > $u/xrun-vm.service
  exec switch_root /newroot /lib/systemd/systemd
fi
B=/run/vm/busybox c=/run/vm/ctl
$B hostname xrun-vm; $B ip link set lo up
$B mkfifo /run/vm/out; /bin/cat /run/vm/out >> $c/out & p=$!
/bin/sh $c/cmd </dev/null >/run/vm/out 2>&1; echo $? > $c/rc
( $B sleep 2; $B kill $p ) & wait $p
$B sync; $B reboot -f'
initrd=$cache/initrd-$kver-$(printf %s "$INIT" | md5sum | cut -c1-8).cpio
if ! [ "$initrd" -nt "/lib/modules/$kver/modules.dep" ]; then
  d=$tmp/initrd; mkdir -p "$d"/{bin,m,proc,sys,dev,lower,ovl,newroot}
  cp "$(command -v busybox)" "$d/bin/busybox"; printf %s "$INIT" > "$d/init"; chmod +x "$d/init"
  for a in cat cp insmod mkdir mount switch_root; do ln -s busybox "$d/bin/$a"; done
  for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe -S "$kver" --show-depends $m; done |
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r k; do
      cp "$k" "$d/m/"; basename "$k" >> "$d/m/order"; done
  (cd "$d" && find . | cpio -o -H newc --quiet) > "$initrd.$$"
  rm -f "$cache"/initrd-*.cpio; mv "$initrd.$$" "$initrd"
fi
# The uncompressed ELF boots through PVH, which saves seconds of xz under TCG.
kernel=$cache/vmlinux-$kver
if ! [ "$kernel" -nt "/boot/vmlinuz-$kver" ]; then
  off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "/boot/vmlinuz-$kver" | head -1 | cut -d: -f1)
  { tail -c +$((${off:-0} + 1)) "/boot/vmlinuz-$kver" | xz -dc > "$kernel.$$"; } 2>/dev/null || :
  [ "$(head -c4 "$kernel.$$")" = $'\x7fELF' ] && mv "$kernel.$$" "$kernel" || { rm -f "$kernel.$$"; kernel=/boot/vmlinuz-$kver; }
fi
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -M pc -m "$mem" -smp "$cpus")
# KVM can exist and still fail (nested/paravirtual hosts): probe once per boot.
ac=$cache/accel-$(cat /proc/sys/kernel/random/boot_id)
if [ ! -s "$ac" ]; then
  accel=tcg
  if [ -w /dev/kvm ]; then
    ( timeout 20 "${qemu[@]}" -accel kvm -cpu host -kernel "$kernel" -serial stdio \
      -append 'console=ttyS0 panic=-1' </dev/null >"$tmp/probe" 2>&1 || : ) 2>/dev/null
    grep -q 'Kernel panic' "$tmp/probe" && accel=kvm
  fi
  echo $accel > "$ac"
fi
# TCG retranslates ld.so/libc on every exec at a new address: keep addresses fixed there.
[ "$(cat "$ac")" = kvm ] && qemu+=(-accel kvm -cpu host) || { qemu+=(-accel tcg -cpu max); extra=norandmaps; }

# XRUN_VM_CONSOLE=FILE keeps the guest's console log (kernel and, with --systemd, systemd).
[ -z "${XRUN_VM_CONSOLE:-}" ] || trap 'cp "$tmp/console.log" "$XRUN_VM_CONSOLE" 2>/dev/null; rm -rf "$tmp"' EXIT
q() { local s; for s; do printf "'%s' " "${s//\'/\'\\\'\'}"; done; }
{ echo "export PATH=$(q "$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")"
  for v in HOME USER LANG CARGO_HOME RUSTUP_HOME RUST_BACKTRACE CI; do
    [ -z "${!v:-}" ] || echo "export $v=$(q "${!v}")"; done
  echo "cd $(q "$PWD") || exit 125"; echo "exec $(q "$@")"; } > "$tmp/cmd"
echo "$PWD" > "$tmp/pwd"
shares=(-virtfs "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=${tmp//,/,,},mount_tag=ctl,security_model=none"
        -virtfs "local,path=${PWD//,/,,},mount_tag=pwd,security_model=passthrough,multidevs=remap")
append="console=ttyS0 panic=-1 quiet cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
append+=" pci=noacpi cryptomgr.notests mitigations=off lpj=10000000 ${extra:-}"
[ -z "$systemd" ] || append+=" xrunvm=systemd systemd.unit=xrun-vm.service systemd.show_status=0"
: > "$tmp/out"; rc=0
timeout -k 5 "$tmo" "${qemu[@]}" -kernel "$kernel" -initrd "$initrd" -append "$append" \
  -serial "file:$tmp/console.log" "${shares[@]}" </dev/null & qp=$!
tail -n +1 -s 0.2 -f --pid=$qp "$tmp/out" & tp=$!
trap 'kill $qp $tp 2>/dev/null; echo "vm.sh: interrupted" >&2; exit 130' INT TERM
wait $qp || rc=$?; wait $tp || :
if [ $rc = 124 ] || [ $rc = 137 ]; then
  tail -n 40 "$tmp/console.log" >&2; echo "vm.sh: timed out after ${tmo}s" >&2; exit 124
fi
[ -s "$tmp/rc" ] && exit "$(cat "$tmp/rc")"
tail -n 40 "$tmp/console.log" >&2
echo "vm.sh: the VM failed (qemu exit $rc, no exit status from the guest)" >&2; exit 125
