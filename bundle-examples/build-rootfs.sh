#!/bin/sh
# Builds the rootfs of every example bundle from Debian's static busybox (make examples).
# With a directory argument, builds the bundles found there instead (the tests use a copy).
set -eu
cd "${1:-$(dirname "$0")}"
busybox=${BUSYBOX:-/bin/busybox}
for b in */; do
  b=${b%/}
  [ -f "$b/config.json" ] || continue
  rm -rf "$b/rootfs"
  # Mount points exist up front: in a user namespace the container's root may not create
  # directories in a rootfs owned by the host's root.
  for d in bin etc tmp var root proc sys dev; do mkdir -p "$b/rootfs/$d"; done
  cp "$busybox" "$b/rootfs/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$b/rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$b/rootfs/etc/passwd"
  echo 'root:x:0:' > "$b/rootfs/etc/group"
  echo 'this file is masked: you should not see it' > "$b/rootfs/etc/secret"
  echo "built $b/rootfs"
done
