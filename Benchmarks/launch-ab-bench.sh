#!/usr/bin/env bash
# A/B of two builds of boxbench on the container-launch figures of container-launch-bench.sh, interleaved in one
# run so a load change on this shared machine hits both alike: (a) the in-harness launch → exit
# (`container bench --overlay`), (b) `boxbench container run` and `boxbench-runtime run`, (c) create + start +
# delete with boxbench-runtime. Prints new ÷ old medians with 95 % bootstrap intervals; writes results/$OUT.
#
#   Benchmarks/launch-ab-bench.sh OLD_BIN_DIR [NEW_BIN_DIR]   # dirs holding boxbench and boxbench-runtime
#
# Build the old side from a worktree: git worktree add /tmp/old <commit> && (cd /tmp/old && swift build -c release
# --static-swift-stdlib --product boxbench && swift build -c release --static-swift-stdlib --product
# boxbench-runtime). NEW_BIN_DIR defaults to this tree's release build (built here). Env: ROUNDS (default 10),
# PER (runs per command per round, default 10), INPROC (in-harness runs per round, default 30), OUT (default
# launch-ab.json).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n 2,12p "$0" >&2; exit 2; }
OLD=$(cd "$1" && pwd)
if [[ $# -ge 2 ]]; then
    NEW=$(cd "$2" && pwd)
else
    swift build -c release --static-swift-stdlib --product boxbench 2>&1 | grep -E "error:" || true
    swift build -c release --static-swift-stdlib --product boxbench-runtime 2>&1 | grep -E "error:" || true
    NEW=$(swift build -c release --show-bin-path)
fi
for side in "$OLD" "$NEW"; do
    for b in boxbench boxbench-runtime; do
        [[ -x $side/$b ]] || { echo "launch-ab-bench: $side/$b missing" >&2; exit 2; }
    done
done
ROUNDS=${ROUNDS:-10}
PER=${PER:-10}
INPROC=${INPROC:-30}
OUT=${OUT:-launch-ab.json}

work=$(mktemp -d /tmp/boxbench-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
"$NEW/boxbench" container spec /bin/true >"$work/config.json"
cat >"$work/cycle.sh" <<'EOS'
#!/bin/sh
# $1 = runtime, $2 = bundle, $3 = id
$1 create --bundle "$2" "$3" && $1 start "$3" && $1 delete --force "$3"
EOS
chmod +x "$work/cycle.sh"

source Benchmarks/interleaved.sh  # the scripts run from the repository root
inproc() { # name bin
    "$2/boxbench" container bench --bundle "$work" --runs "$INPROC" --overlay |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])' >>"$work/$1.times"
}
echo "== $ROUNDS interleaved rounds (old: $OLD, new: $NEW)"
for round in $(seq "$ROUNDS"); do
    # Alternate which side goes first in each pair.
    if ((round % 2)); then first=old second=new; else first=new second=old; fi
    for side in $first $second; do
        bin=$OLD
        [[ $side == new ]] && bin=$NEW
        inproc "a-$side" "$bin"
        bench "b-$side" "$bin/boxbench container run --bundle $work"
        bench "r-$side" "$bin/boxbench-runtime --root $work/rt-$side run --bundle $work ab-$side"
        bench "c-$side" "$work/cycle.sh $bin/boxbench-runtime $work cyc-$side"
    done
    printf '.'
done
echo
python3 - "$work" "$OLD" "$NEW" "$ROUNDS" "$PER" "$INPROC" "results/$OUT" <<'EOP'
import json, sys, os, platform, random, statistics, datetime
work, old, new, rounds, per, inproc, out = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7]), sys.argv[7]
def load(n):
    p = f"{work}/{n}.times"
    return [float(x) for x in open(p).read().split()] if os.path.exists(p) else []
names = {"a": "in-harness launch→exit (median per round)", "b": "boxbench container run",
         "r": "boxbench-runtime run", "c": "create + start + delete"}
rng = random.Random(20261201)
res = {"benchmark": "launch-ab", "date": datetime.datetime.utcnow().isoformat() + "Z", "old": old, "new": new,
       "host": {"kernel": platform.release(), "cpus": os.cpu_count(),
                "cpu": next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')},
       "rounds": rounds, "runs_per_round": per, "inproc_runs_per_round": inproc, "figures": {}}
worst = 0.0
for k, title in names.items():
    a, b = load(f"{k}-old"), load(f"{k}-new")
    if not a or not b:
        sys.exit(f"launch-ab-bench: no successful runs of {title}")
    mo, mn = statistics.median(a), statistics.median(b)
    boot = sorted(statistics.median(rng.choices(b, k=len(b))) / statistics.median(rng.choices(a, k=len(a)))
                  for _ in range(2000))
    ci = [round(boot[50], 3), round(boot[1949], 3)]
    worst = max(worst, mn / mo)
    res["figures"][k] = {"what": title, "old_median_ms": mo, "new_median_ms": mn, "ratio_new_vs_old": mn / mo,
                         "ratio_ci95": ci, "n_old": len(a), "n_new": len(b)}
    print(f"{title}: old {mo:.2f} ms, new {mn:.2f} ms, new/old {mn/mo:.3f}x {ci}")
res["target"] = "new/old <= 1.10 on every figure"
res["pass"] = worst <= 1.10
print(f"worst new/old {worst:.3f}x  [{'PASS' if res['pass'] else 'MISS'}: <= 1.10]")
json.dump(res, open(out, "w"), indent=2)
print(f"wrote {out}")
EOP
