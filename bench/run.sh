#!/usr/bin/env bash
# Startup speed and memory of `RUNTIME run` of busybox `true` with a default spec:
# xrun against runc and crun from Debian. Prints medians, ratios and peak RSS.
#
# crun refuses this hybrid cgroup host, so it runs in a private mount namespace where the
# unified cgroup2 mount is hidden; xrun is measured the same way for the comparison with crun
# (same wrapper, same cost), and plainly for the comparison with runc.
set -euo pipefail
XRUN=${XRUN:?path to the xrun binary}
RUNS=${RUNS:-100}
work=$(mktemp -d /tmp/xrun-bench.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/"
ln -s busybox "$bundle/rootfs/bin/true"
"$XRUN" spec --bundle "$bundle"
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" > "$work/c.json"
mv "$work/c.json" "$bundle/config.json"

hide_v2='umount /sys/fs/cgroup/unified && mount -t tmpfs none /sys/fs/cgroup/unified;'
declare -A cmd=(
  [xrun]="$XRUN --root $work/xrun run -b $bundle bx"
  [runc]="runc --root $work/runc run -b $bundle br"
  [xrun-hidden-v2]="unshare -m sh -c '$hide_v2 exec $XRUN --root $work/xrun2 run -b $bundle bx2'"
  [crun-hidden-v2]="unshare -m sh -c '$hide_v2 exec crun --root $work/crun run -b $bundle bc'"
)
order=(xrun runc xrun-hidden-v2 crun-hidden-v2)

echo "== startup: median of $RUNS runs of 'run' of busybox true (hyperfine)"
for k in "${order[@]}"; do
  hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/$k.json" "${cmd[$k]}" >/dev/null 2>&1 ||
    hyperfine --warmup 10 --runs "$RUNS" --export-json "$work/$k.json" "${cmd[$k]}" >/dev/null
  jq -r --arg k "$k" '.results[0] | "\($k)\t\(.median*1000 | .*100|round/100) ms (mean \(.mean*1000 | .*100|round/100) ± \(.stddev*1000 | .*100|round/100))"' "$work/$k.json"
done
med() { jq '.results[0].median' "$work/$1.json"; }
echo
echo "== ratios (lower is faster)"
echo "xrun / runc: $(echo "$(med xrun) / $(med runc)" | bc -l | cut -c1-5)"
echo "xrun / crun: $(echo "$(med xrun-hidden-v2) / $(med crun-hidden-v2)" | bc -l | cut -c1-5)   (target <= 0.8)"

echo
echo "== peak RSS (max over 20 runs, KB, GNU time)"
for k in xrun runc crun-hidden-v2; do
  max=0
  for _ in $(seq 20); do
    if [ "$k" = crun-hidden-v2 ]; then
      # Measure crun itself, not the wrapper shell.
      r=$(unshare -m sh -c "$hide_v2 /usr/bin/time -f %M crun --root $work/crun run -b $bundle bc 2>&1 >/dev/null" | tail -1)
    else
      r=$( { /usr/bin/time -f %M ${cmd[$k]} >/dev/null; } 2>&1 | tail -1)
    fi
    [ "$r" -gt "$max" ] && max=$r
  done
  echo "$k	$max KB"
done
