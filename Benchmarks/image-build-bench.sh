#!/usr/bin/env bash
# Debian slim base and the nginx workload image, cold and warm, beside mmdebstrap alone (issue: real images).
# Usage: Benchmarks/image-build-bench.sh [BOXBENCH]   (default: .build/release/boxbench, else .build/debug/boxbench)
# Needs root, mmdebstrap and the Debian mirror the host's apt uses (packages are downloaded, as apt does).
# Each figure is one run (downloads dominate and vary with the mirror): read them as orders of magnitude.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bb="${1:-}"
if [[ -z "$bb" ]]; then
  if [[ -x "$repo/.build/release/boxbench" ]]; then bb="$repo/.build/release/boxbench"; else bb="$repo/.build/debug/boxbench"; fi
fi
work="$(mktemp -d /tmp/boxbench-image-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v n="$1" 'BEGIN { printf "%.1f MiB", n / 1048576 }'; }

echo "# Benchmarks/image-build-bench.sh ($bb; $(date -u +%Y-%m-%dT%H:%MZ); commit $(git -C "$repo" rev-parse --short HEAD); load $(cut -d' ' -f1-3 /proc/loadavg))"

# 1. mmdebstrap alone, with the options boxbench passes (minbase, merged-usr hook, the slim dpkg filters, the apt
#    settings hook; the host's Debian sources, which boxbench first writes through its own parser).
t0=$(now)
SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=minbase --mode=root --format=tar --skip=output/dev \
  --aptopt='Acquire::Retries "3"' \
  --customize-hook='printf "%s\n" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" "APT::Keep-Downloaded-Packages \"false\";" > "$1/etc/apt/apt.conf.d/docker-clean" && rm -f "$1"/var/cache/apt/*.bin' \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/linda/*' \
  bookworm "$work/alone.tar" /etc/apt/sources.list.d/*.sources >/dev/null 2>&1
t1=$(now)
echo "mmdebstrap alone (bookworm, slim filters)     $(secs "$t0" "$t1") s   tar $(mib "$(stat -c %s "$work/alone.tar")")"

# 2. boxbench image bootstrap into an empty store (mmdebstrap + the layer written into the store).
t0=$(now)
"$bb" image bootstrap --store "$work/store" debian:bookworm-slim 2>"$work/bootstrap.log" >"$work/digest1"
t1=$(now)
echo "boxbench image bootstrap debian:bookworm-slim $(secs "$t0" "$t1") s   $(tail -1 "$work/bootstrap.log" | sed 's/.*: //')"
t0=$(now)
"$bb" image bootstrap --store "$work/store2" debian:bookworm-slim 2>/dev/null >"$work/digest2"
t1=$(now)
echo "  again, another empty store                  $(secs "$t0" "$t1") s   $(cat "$work/digest1") vs $(cat "$work/digest2"): $(cmp -s "$work/digest1" "$work/digest2" && echo same digest || echo DIFFERENT)"

# 3. The nginx workload image on that base: cold (no build cache), then warm (every step a cache hit).
t0=$(now)
"$bb" image build --store "$work/store" -t nginx-bench "$repo/Benchmarks/workloads/nginx" 2>"$work/cold.log" >/dev/null
t1=$(now)
echo "boxbench image build nginx, cold             $(secs "$t0" "$t1") s   $(grep -c 'layer ' "$work/cold.log") new layers: $(grep 'layer ' "$work/cold.log" | sed 's/.*: //' | paste -sd';' -)"
t0=$(now)
"$bb" image build --store "$work/store" -t nginx-bench "$repo/Benchmarks/workloads/nginx" 2>"$work/warm.log" >/dev/null
t1=$(now)
echo "boxbench image build nginx, warm             $(secs "$t0" "$t1") s   $(grep -c 'cache hit' "$work/warm.log") of 2 layer steps were cache hits"
"$bb" image du --store "$work/store" nginx-bench --given debian:bookworm-slim 2>/dev/null | sed 's/^/  /' || true
