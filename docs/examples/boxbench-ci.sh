#!/usr/bin/env bash
# boxbench in a CI job: run a suite, append it to the history, gate on the history, and leave reports and a
# github-action-benchmark file in $OUT. Called by the GitHub Actions and GitLab examples beside this file;
# HistoryTests.CIRecipeTests runs it as written (with a small suite).
# Exit status: the gate's (0 pass, 1 confirmed regression, 2 bad input); a failed run stops earlier.
set -euo pipefail

BOXBENCH="${BOXBENCH:-.build/release/boxbench}"
SUITE="${SUITE:-Benchmarks/default.yaml}"
# A SQLite file the CI system keeps between jobs (cache or artifact), or postgres://… shared by a fleet.
export BOXBENCH_HISTORY="${BOXBENCH_HISTORY:-results/history.sqlite}"
LABEL="${LABEL:-$(git rev-parse --short HEAD 2>/dev/null || echo unlabelled)}"
OUT="${OUT:-results/ci/$LABEL}"
THRESHOLD="${THRESHOLD:-10}"

mkdir -p "$(dirname "$OUT")"
"$BOXBENCH" doctor --format json > "$(dirname "$OUT")/doctor-$LABEL.json"
# Measures, writes $OUT/results.json and the reports, and appends the run to the history with its label.
"$BOXBENCH" run "$SUITE" -o "$OUT" --force --quiet --label "$LABEL"
# For github-action-benchmark (tool: customSmallerIsBetter) or any dashboard that reads it.
"$BOXBENCH" report "$OUT" --format github-benchmark -o "$OUT/github-benchmark.json"
"$BOXBENCH" history report -o "$OUT/history.html"
"$BOXBENCH" history trend startup_first_output_ms -o "$OUT/trend.csv"
status=0
"$BOXBENCH" history check --threshold "$THRESHOLD" --format json > "$OUT/gate.json" || status=$?
"$BOXBENCH" history check --threshold "$THRESHOLD" || true
exit "$status"
