#!/usr/bin/env bash
# Startup speed and peak memory of `RUNTIME run` of busybox `true` with a default spec:
# xrun against runc and crun from Debian. Prints medians, ratios and peak RSS.
#
# The runs are paired: each round runs every runtime once, in turn, so drift in the machine's
# load hits them all alike. crun refuses this hybrid cgroup host, so it runs in a private
# mount namespace with the unified cgroup2 mount hidden; xrun is measured in that same
# wrapper for the comparison with crun, and the wrapper's own time is measured too.
set -euo pipefail
XRUN=${XRUN:?path to the xrun binary}
RUNS=${RUNS:-200}
work=$(mktemp -d /tmp/xrun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/"
ln -s busybox "$bundle/rootfs/bin/true"
"$XRUN" spec --bundle "$bundle"
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" > "$work/c.json"
mv "$work/c.json" "$bundle/config.json"

hide='umount /sys/fs/cgroup/unified && mount -t tmpfs none /sys/fs/cgroup/unified;'
names=(xrun runc xrun-hidden-v2 crun-hidden-v2 wrapper-only)
cmds=(
  "$XRUN --root $work/x run -b $bundle b1"
  "runc --root $work/r run -b $bundle b2"
  "unshare -m sh -c '$hide exec $XRUN --root $work/x2 run -b $bundle b3'"
  "unshare -m sh -c '$hide exec crun --root $work/c run -b $bundle b4'"
  "unshare -m sh -c '$hide exec true'"
)

# Warm up, and fail early if a runtime cannot run the bundle.
for i in "${!cmds[@]}"; do
  for _ in 1 2 3; do eval "${cmds[$i]}" >/dev/null || { echo "${names[$i]} failed" >&2; exit 1; }; done
done

echo "== startup: $RUNS paired rounds of 'run' of busybox true"
for i in "${!cmds[@]}"; do : > "$work/t$i"; done
for _ in $(seq "$RUNS"); do
  for i in "${!cmds[@]}"; do
    t0=$EPOCHREALTIME
    eval "${cmds[$i]}" >/dev/null
    t1=$EPOCHREALTIME
    echo "$t0 $t1" | awk '{printf "%.3f\n", ($2 - $1) * 1000}' >> "$work/t$i"
  done
done
# Median and quartiles in ms.
stat() { sort -n "$1" | awk '{v[NR]=$1} END {printf "%.2f %.2f %.2f\n", v[int(NR*0.5+0.5)], v[int(NR*0.25+0.5)], v[int(NR*0.75+0.5)]}'; }
declare -A med
for i in "${!cmds[@]}"; do
  read -r m q1 q3 < <(stat "$work/t$i")
  med[${names[$i]}]=$m
  printf '%-16s median %7s ms   (quartiles %s .. %s)\n' "${names[$i]}" "$m" "$q1" "$q3"
done
r() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
w=${med[wrapper-only]}
echo
echo "== ratios of medians (lower is faster)"
echo "xrun / runc:                     $(r "${med[xrun]}" "${med[runc]}")"
echo "xrun / crun (both in wrapper):   $(r "${med[xrun-hidden-v2]}" "${med[crun-hidden-v2]}")   (target <= 0.8)"
echo "xrun / crun (wrapper subtracted): $(r "$(awk -v a="${med[xrun-hidden-v2]}" -v w="$w" 'BEGIN{print a-w}')" \
  "$(awk -v a="${med[crun-hidden-v2]}" -v w="$w" 'BEGIN{print a-w}')")"

echo
echo "== peak RSS (KB, GNU time, max over 20 runs; crun measured inside the wrapper)"
peak() {
  local max=0 r
  for _ in $(seq 20); do
    r=$(eval "$1" 2>&1 >/dev/null | tail -1)
    [ "$r" -gt "$max" ] && max=$r
  done
  echo "$max"
}
x=$(peak "/usr/bin/time -f %M $XRUN --root $work/x run -b $bundle m1")
rc=$(peak "/usr/bin/time -f %M runc --root $work/r run -b $bundle m2")
c=$(peak "unshare -m sh -c '$hide /usr/bin/time -f %M crun --root $work/c run -b $bundle m3'")
echo "xrun $x   runc $rc   crun $c   xrun/crun $(r "$x" "$c")   (target <= 1.0)"
