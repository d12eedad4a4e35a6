#!/bin/bash
# Image companion benchmarks (part of `make bench`):
#  1. unpack time of a >= 100 MB, 4-layer image: `xrun image unpack` vs `umoci unpack` of
#     the same image (converted with skopeo to an OCI layout with gzip layers, which both
#     read), and xrun on the docker-save tarball itself;     target: xrun >= 2x faster
#  2. time to make a store-backed bundle (overlay mount), for a small and the large image;
#                                                            target: < 20 ms, any size
#   bench/image.sh [XRUN]
set -euo pipefail
shopt -s inherit_errexit
xrun=$(realpath "${1:-target/release/xrun}")
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../tests/fixtures
runs=${RUNS:-5}
work=$(mktemp -d /var/tmp/xrun-bench.XXXXXX)
cleanup() {
    { grep -F " $work/" /proc/self/mountinfo || true; } | cut -d' ' -f5 | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$work"
}
[ -n "${KEEP:-}" ] && echo "keeping $work" >&2 || trap cleanup EXIT
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# A 4-layer image of about 130 MB: many small text-like files, some large binaries, and
# later layers that change and delete what earlier ones made.
gen() { # DIR FILES SIZE-BYTES
    mkdir -p "$1"
    for i in $(seq "$2"); do
        head -c "$3" /dev/urandom | base64 > "$1/f$i"
    done
}
l=$work/layers
mkdir -p "$l/1/bin" "$l/1/etc"
cp /bin/busybox "$l/1/bin/busybox"; ln -s busybox "$l/1/bin/sh"; ln -s busybox "$l/1/bin/cat"
for d in $(seq 40); do gen "$l/1/usr/share/doc$d" 50 6000; done   # 2000 files, ~16 MB
head -c 25000000 /dev/urandom > "$l/1/usr/blob1"
for d in $(seq 20); do gen "$l/2/usr/lib/mod$d" 50 12000; done    # 1000 files, ~16 MB
head -c 30000000 /dev/urandom > "$l/2/usr/blob2"
mkdir -p "$l/3/usr/share"
for d in $(seq 10); do : > "$l/3/usr/share/.wh.doc$d"; done
head -c 20000000 /dev/urandom > "$l/3/usr/blob1"
gen "$l/3/opt/app" 500 20000                                       # ~13 MB
mkdir -p "$l/4/opt/app"; : > "$l/4/opt/app/.wh..wh..opq"
head -c 15000000 /dev/urandom > "$l/4/opt/app/bin"
"$fixtures/mkimage.sh" "$work/big.tar" bench/big:1 '{"Cmd":["/bin/cat","/etc/hostname"]}' \
    "$l/1" "$l/2" "$l/3" "$l/4" >/dev/null
rm -rf "$l"
"$fixtures/busybox-image.sh" "$work/small.tar" bench/small:1 >/dev/null
size=$(( $(stat -c %s "$work/big.tar") / 1000000 ))
skopeo copy -q "docker-archive:$work/big.tar" "oci:$work/oci:big"

# The store first, on a settled file system: the unpack runs below delete GBs of files,
# which keeps ext4 busy for a while afterwards and would time that, not the bundle.
echo "store-backed bundle creation (overlay mount; median of 20):" >&2
store=$work/store
"$xrun" image --store "$store" -q load "$work/big.tar" >/dev/null
"$xrun" image --store "$store" -q load "$work/small.tar" >/dev/null
sync
worst=0
for img in bench/small:1 bench/big:1; do
    ts=()
    for i in $(seq 20); do
        t0=$(now)
        "$xrun" image --store "$store" bundle "$img" "$work/b$i" >/dev/null
        ts+=($(( ($(now) - t0) / 100000 )))
    done
    for i in $(seq 20); do "$xrun" image --store "$store" unbundle "$work/b$i" >/dev/null; done
    med=$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 10p)
    printf '  %-46s %4d.%d ms\n' "xrun image bundle $img" $((med / 10)) $((med % 10)) >&2
    [ "$med" -gt "$worst" ] && worst=$med
done
bverdict=$([ "$worst" -lt 200 ] && echo met || echo MISSED)
echo "  store bundle, any image size: target < 20 ms: $bverdict" >&2

# Each run unpacks into a fresh bundle; the tools take turns, so a busy moment on a shared
# machine hits all of them; the median of $runs runs counts.
declare -A times
tools=(umoci xrun-oci xrun-tar)
unpack() { # TOOL BUNDLE
    case $1 in
        umoci) umoci unpack --image "$work/oci:big" "$2" ;;
        xrun-oci) "$xrun" image -q unpack --image big "$work/oci" "$2" ;;
        xrun-tar) "$xrun" image -q unpack "$work/big.tar" "$2" ;;
    esac >/dev/null
}
for t in "${tools[@]}"; do unpack "$t" "$work/warm-$t"; rm -rf "$work/warm-$t"; done
for i in $(seq "$runs"); do
    for t in "${tools[@]}"; do
        sync
        t0=$(now)
        unpack "$t" "$work/run-$t-$i"
        times[$t]+="$(ms "$t0" "$(now)") "
    done
    rm -rf "$work"/run-*
done
median() { printf '%s\n' $1 | sort -n | sed -n "$(( ($(printf '%s\n' $1 | wc -l) + 1) / 2 ))p"; }
echo "image unpack, ${size} MB docker-save image, 4 layers (median of $runs):" >&2
t_umoci=$(median "${times[umoci]}")
t_xoci=$(median "${times[xrun-oci]}")
t_xtar=$(median "${times[xrun-tar]}")
printf '  %-46s %6d ms   (runs: %s)\n' "umoci unpack (OCI layout, gzip)" "$t_umoci" "${times[umoci]% }" >&2
printf '  %-46s %6d ms   (runs: %s)\n' "xrun image unpack (same OCI layout, gzip)" "$t_xoci" "${times[xrun-oci]% }" >&2
printf '  %-46s %6d ms   (runs: %s)\n' "xrun image unpack (docker-save tarball)" "$t_xtar" "${times[xrun-tar]% }" >&2
speedup=$(awk "BEGIN{printf \"%.1f\", $t_umoci / ($t_xoci > 0 ? $t_xoci : 1)}")
verdict=$([ "$(awk "BEGIN{print ($t_umoci >= 2 * $t_xoci)}")" = 1 ] && echo met || echo MISSED)
echo "  xrun vs umoci on the same input: ${speedup}x faster (target >= 2x: $verdict)" >&2

