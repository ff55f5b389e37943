#!/usr/bin/env bash
# Times the history store (release build, hyperfine -N): appending one 10 000-sample run to a database
# (`history import`: read the results file + one transaction), `history trend` of one series over 1 000 stored runs,
# and `history check` of the newest of those runs. The runs are copies of the committed baseline (schema v2)
# with their values scaled by noise and a 15 % step at run 700, so the trend has a change point to find.
# Targets: each well under 1 s. Usage: Benchmarks/history-bench.sh   (BOXBENCH=path to use another binary)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bin="${BOXBENCH:-$repo/.build/release/boxbench}"
if [[ ! -x "$bin" ]]; then swift build -c release --product boxbench >/dev/null; fi
work="$(mktemp -d /tmp/boxbench-history-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

python3 - "$repo/results/baselines/default-xeon-2cpu-tcg-hybrid.json" "$work" <<'PY'
import copy, json, random, sys
base = json.load(open(sys.argv[1]))
out = sys.argv[2]
rng = random.Random(7)

def scaled(doc, factor):
    for s in doc["samples"]:
        s["metrics"] = [v * factor * (1 + rng.gauss(0, 0.02)) if isinstance(v, (int, float)) else v
                        for v in s["metrics"]]

big = copy.deepcopy(base)
big["startedAt"] = "2026-11-01T00:00:00.000Z"
template = base["samples"]
big["samples"] = []
for i in range(10_000):
    s = copy.deepcopy(template[i % len(template)])
    s["repetition"] = i
    big["samples"].append(s)
scaled(big, 1.0)
json.dump(big, open(f"{out}/big.json", "w"))

import os
os.mkdir(f"{out}/runs")
for r in range(1000):
    doc = copy.deepcopy(base)
    doc["startedAt"] = "2026-%02d-%02dT%02d:%02d:00.000Z" % (1 + r // 600, 1 + (r // 24) % 25, r % 24, r % 60)
    doc["seed"] = r
    scaled(doc, 1.15 if r >= 700 else 1.0)
    json.dump(doc, open(f"{out}/runs/r{r:04d}.json", "w"))
PY

echo "== import of 1 000 runs of $(python3 -c "import json;print(len(json.load(open('$work/runs/r0000.json'))['samples']))") samples each (setup, one process)"
/usr/bin/time -f "%e s" "$bin" history import --history "$work/h.sqlite" "$work"/runs/*.json >/dev/null
"$bin" history list --history "$work/h.sqlite" | wc -l | sed 's/^/stored runs: /'

echo "== append one 10 000-sample run (read + one transaction), fresh database each time"
hyperfine -N --warmup 1 --runs 10 --style basic \
  --prepare "rm -f $work/big.sqlite $work/big.sqlite-wal $work/big.sqlite-shm" \
  "$bin history import --history $work/big.sqlite $work/big.json"

echo "== trend of one series over 1 000 runs (with change points)"
hyperfine -N --warmup 1 --runs 10 --style basic \
  "$bin history trend startup_first_output_ms --arm container --workload hello --history $work/h.sqlite --format json"
"$bin" history trend startup_first_output_ms --arm container --workload hello --history "$work/h.sqlite" \
  | grep -c "change" | sed 's/^/change points marked: /'

echo "== check of the newest run against its baseline, every series"
hyperfine -N --warmup 1 --runs 5 --style basic -i "$bin history check --history $work/h.sqlite"
