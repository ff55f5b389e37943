#!/usr/bin/env bash
# netrr across the bench network in every arm of Benchmarks/network.yaml (native, boxbench, crun, runc, VM), one
# interleaved run; prints C8's ratios with their 95% intervals: each container ÷ native, the container engines
# against boxbench's (the target: boxbench within 10 % of crun and runc), and the VM ÷ each container.
# Usage: Benchmarks/network-bench.sh [REPETITIONS=10]   (BOXBENCH=path to use another binary)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bin="${BOXBENCH:-$repo/.build/release/boxbench}"
[[ -x "$bin" ]] || bin="$repo/.build/debug/boxbench"
out="$(mktemp -d /tmp/boxbench-network-bench.XXXXXX)"
trap 'rm -rf "$out"' EXIT
"$bin" run Benchmarks/network.yaml --workloads netrr --repetitions "${1:-10}" -o "$out" --force --quiet --no-history >/dev/null
"$bin" report "$out" --format terminal | awk '/^  C8 A container/{p=1} p&&/^$/{exit} p'
