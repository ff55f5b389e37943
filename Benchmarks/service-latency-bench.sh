#!/usr/bin/env bash
# Does the harness report a service's latency as wrk run by hand would? nginx (services.yaml's image and load) in
# the native arm, against the same server started by hand the way the native arm starts it: chrooted into an
# overlay of the image's own layers (the store's unpacked layers, a fresh upper; serving from overlayfs costs
# ~50 µs a request here, so a flattened copy would not be the same server), in a memory cgroup, pinned to CPU 0,
# on the same kind of path — a Linux bridge in a namespace of its own with the server on the bridge's address, wrk
# pinned to CPU 1 in a second namespace on a veth, both made here with iproute2 so the host's own namespace gets
# nothing. Interleaved rounds: in each, RUNS harness runs
# (one `boxbench run`) and RUNS hand runs of wrk with the same arguments; the ratio of the round's p50 medians.
# Prints every round and the median of the per-round ratios (target: within 10 %).
# Usage: Benchmarks/service-latency-bench.sh [ROUNDS=5] [RUNS=3]   (BOXBENCH=path to use another binary)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bin="${BOXBENCH:-$repo/.build/release/boxbench}"
[[ -x "$bin" ]] || bin="$repo/.build/debug/boxbench"
rounds="${1:-5}"
runs="${2:-3}"
kit="${BOXBENCH_CACHE:-/var/cache/boxbench}/kit"
load=(-t1 -c8 -d3s --latency)

work="$(mktemp -d /tmp/boxbench-svcbench.XXXXXX)"
bench="bbsvc-bench-$$"
client="bbsvc-client-$$"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && { ip netns exec "$client" "$kit/bbwork" stop 10.233.0.1 7199 3000 >/dev/null 2>&1 || true; }
  [[ -n "$server_pid" ]] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  ip netns del "$client" 2>/dev/null || true
  ip netns del "$bench" 2>/dev/null || true
  umount -R "$work/root" 2>/dev/null || true
  [[ -n "${group:-}" ]] && rmdir "$group" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The same image the suite builds (its layers are cache hits), flattened for the hand-started server.
mkdir -p "$work/ctx"
cp -r Benchmarks/workloads/nginx/. "$work/ctx/"
cp "$kit/bbwork" "$work/ctx/bbwork"
"$bin" image build -q -t bench/nginx-by-hand:1 -f "$work/ctx/Dockerfile.service" "$work/ctx" >/dev/null
# The image's layers as the native arm mounts them: top-most first, a fresh upper, /dev and /proc inside.
layers="${BOXBENCH_STATE:-/var/lib/boxbench}/layers"
lower=$("$bin" image inspect bench/nginx-by-hand:1 | python3 -c '
import json, sys
ids = json.load(sys.stdin)["config"]["rootfs"]["diff_ids"]
print(":".join(sys.argv[1] + "/" + d.split(":")[1] for d in reversed(ids)))' "$layers")
root="$work/root"
mkdir -p "$root" "$work/upper" "$work/work"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
# The native arm's accounting group: memory only (cgroup v1 here; the unified root on a v2 host).
group=/sys/fs/cgroup/memory/bbsvc-bench-$$
[[ -d /sys/fs/cgroup/memory ]] || group=/sys/fs/cgroup/bbsvc-bench-$$
mkdir -p "$group"

# The hand-made path: bridge 10.233.0.1/24 in the bench namespace, the client's veth 10.233.0.2 on it.
ip netns add "$bench"
ip netns add "$client"
ip -n "$bench" link set lo up
ip -n "$client" link set lo up
ip -n "$bench" link add br0 type bridge
ip -n "$bench" addr add 10.233.0.1/24 dev br0
ip -n "$bench" link set br0 up
ip -n "$bench" link add veth-c type veth peer name eth0 netns "$client"
ip -n "$bench" link set veth-c master br0 up
ip -n "$client" addr add 10.233.0.2/24 dev eth0
ip -n "$client" link set eth0 up

# The suite: nginx in the native arm only, the load of services.yaml.
cat >"$work/suite.yaml" <<EOF
name: svcbench
repetitions: $runs
warmups: 0
timeout: 120
arms:
  - kind: native
workloads:
  - name: nginx
    dockerfile: $repo/Benchmarks/workloads/nginx/Dockerfile.service
    service:
      port: 80
      ready: http
      load: ["wrk", "${load[0]}", "${load[1]}", "${load[2]}", "${load[3]}", "http://{address}:80/"]
EOF

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000}}'; }

hand_round() {
  local p50s=()
  for ((i = 0; i < runs; i++)); do
    # Into the group first: `ip netns exec` mounts a sysfs of its own, without the cgroup hierarchies.
    sh -c "echo \$\$ >$group/cgroup.procs && exec ip netns exec $bench taskset -c 0 chroot $root /usr/bin/bbwork \
      serve 7199 nginx -g 'daemon off;'" >>"$work/server.log" 2>&1 &
    server_pid=$!
    ip netns exec "$client" "$kit/bbwork" ready http 10.233.0.1 80 / 20000 >/dev/null || { tail -5 "$work/server.log" >&2; exit 1; }
    p50s+=("$(ip netns exec "$client" taskset -c 1 wrk "${load[@]}" http://10.233.0.1:80/ | awk '$1 == "50%" {print $2}' | to_ms)")
    ip netns exec "$client" "$kit/bbwork" stop 10.233.0.1 7199 10000
    wait "$server_pid" || true
    server_pid=""
  done
  printf '%s\n' "${p50s[@]}" | median
}

harness_round() {
  "$bin" run "$work/suite.yaml" -o "$work/run" --force --quiet --no-history >/dev/null
  python3 - "$work/run/results.json" <<'PY'
import json, statistics, sys
doc = json.load(open(sys.argv[1]))
print(round(statistics.median(s["measurements"]["workload"]["service_p50_ms"] for s in doc["samples"] if s["status"] == "ok"), 4))
PY
}

ratios=()
printf '%-6s %-12s %-12s %s\n' round harness_ms by_hand_ms harness/by_hand
for ((r = 1; r <= rounds; r++)); do
  # Alternate which goes first, so drift between the halves cancels over rounds.
  if ((r % 2)); then h=$(harness_round); w=$(hand_round); else w=$(hand_round); h=$(harness_round); fi
  ratio=$(awk -v a="$h" -v b="$w" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  printf '%-6s %-12s %-12s %s\n' "$r" "$h" "$w" "$ratio"
done
m=$(printf '%s\n' "${ratios[@]}" | median)
printf 'median of per-round ratios: %s (%s rounds × %s runs each side; wrk %s)\n' "$m" "$rounds" "$runs" "${load[*]}"
awk -v m="$m" 'BEGIN { d = m - 1; if (d < 0) d = -d; print (d <= 0.10 ? "within 10 %: yes" : "within 10 %: NO") }'
