#!/usr/bin/env bash
# podman and QEMU without libvirt, as the harness measures them against hyperfine -N of the same commands, in
# interleaved rounds: each round one `boxbench run` of the hello workload (PER runs per arm) and one hyperfine of
# PER runs per command. Target (issue 21): the harness within 10 % of hyperfine (median of per-round ratios).
#   podman      harness startup_exit_ms (launch → podman exits)   vs  hyperfine of the same `podman run --rm …`
#   qemu pc     harness phase qemu-exit (launch → QEMU exits)     vs  hyperfine of the same qemu-system-x86_64 line
#   qemu microvm  the same
# The QEMU line differs only in the console: the harness's FIFO pair, a file here (nothing reads it).
#   Benchmarks/peer-launch-bench.sh [ROUNDS]      env: BOXBENCH=path PER=5 ACCEL=tcg|kvm
set -euo pipefail
ROUNDS=${1:-${ROUNDS:-5}}
PER=${PER:-5}
ACCEL=${ACCEL:-tcg}
BOXBENCH=${BOXBENCH:-}
if [[ -z "$BOXBENCH" ]]; then
    for c in .build/release/boxbench .build/debug/boxbench; do [[ -x $c ]] && BOXBENCH=$PWD/$c && break; done
fi
[[ -x "${BOXBENCH:-}" ]] || { echo "build boxbench first (swift build -c release) or set BOXBENCH=" >&2; exit 2; }
for p in podman skopeo qemu-system-x86_64 hyperfine; do
    command -v $p >/dev/null || { echo "$p missing (scripts/setup)" >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
cache=${BOXBENCH_CACHE:-/var/cache/boxbench}
state=${BOXBENCH_STATE:-/var/lib/boxbench}
run_root=${BOXBENCH_RUN:-/run/boxbench}
work=$(mktemp -d /tmp/peer-launch-bench.XXXXXX)
# podman by hand gets a cgroup parent as the harness's does (`podman-<pid>`, a name the Janitor knows), removed here.
parent=boxbench/podman-$$
cleanup() {
    rm -rf "$work"
    for d in /sys/fs/cgroup/*/"$parent"; do [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
    true
}
trap cleanup EXIT
# A cache of its own for guest artifacts (so the one hello guest is found), sharing the kernel and the kit.
mkdir -p "$work/cache"
ln -s "$cache/kernel" "$work/cache/kernel"
export BOXBENCH_CACHE=$work/cache BOXBENCH_KIT=${BOXBENCH_KIT:-$cache/kit}
source "$here/interleaved.sh"

cat >"$work/suite.yaml" <<SUITE
name: peer-launch
repetitions: $PER
warmups: 1
timeout: 120
arms:
  - kind: container
    engine: podman
  - name: qemu-pc
    kind: vm
    launcher: qemu
    accel: $ACCEL
  - name: qemu-microvm
    kind: vm
    launcher: qemu
    accel: $ACCEL
    machine: microvm
workloads:
  - name: hello
    dockerfile: $here/workloads/hello/Dockerfile
SUITE

harness() { # round: appends this round's medians to $work/harness-<arm>.medians
    "$BOXBENCH" run "$work/suite.yaml" --output "$work/run-$1" --no-history --quiet --force >/dev/null 2>"$work/run.err" \
        || { tail -5 "$work/run.err" >&2; exit 1; }
    python3 - "$work/run-$1/results.json" "$work" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
for arm in ("container-podman", "qemu-pc", "qemu-microvm"):
    vals = []
    for s in d["samples"]:
        if s["arm"] != arm or s["status"] != "ok":
            continue
        m = s["measurements"]
        if arm.startswith("qemu"):
            vals += [ms for n, ms in zip(m.get("phaseNames", []), m.get("phaseMs", [])) if n == "qemu-exit"]
        else:
            vals.append(m.get("exitMs"))
    vals = [v for v in vals if v is not None]
    if vals:
        open(f"{sys.argv[2]}/harness-{arm}.medians", "a").write(f"{statistics.median(vals)}\n")
PY
}

# The commands by hand: podman's exactly as the engine builds it, QEMU's with the guest the harness booted.
harness 0
image=$(podman --root "$state/podman/storage" --runroot "$run_root/podman" images --format '{{.Repository}}:{{.Tag}}' \
    | grep 'workload-hello:' | head -1)
runtime=/usr/bin/crun
# Hybrid cgroups (v1 tmpfs at /sys/fs/cgroup plus a cgroup2 mount): runc, as the podman arm does.
grep -q ' cgroup2 ' /proc/self/mounts && grep -q '^tmpfs /sys/fs/cgroup ' /proc/self/mounts && runtime=/usr/sbin/runc
PODMAN=(podman --root "$state/podman/storage" --runroot "$run_root/podman" --storage-driver overlay
        --cgroup-manager cgroupfs --events-backend none --runtime "$runtime"
        run --rm --cgroup-parent "/$parent" --hostname boxbench --network none --log-driver none
        --attach stdout --attach stderr
        --ulimit nofile=1024:1024 --ulimit nproc=32768:32768 "$image")
guest=$(dirname "$(ls "$work"/cache/guests/*/initrd.img | head -1)")
khz=$(awk -F: '/cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)
qemu_line() { # machine
    local extra=""
    [[ $1 == microvm && $ACCEL == tcg ]] && extra=" tsc_early_khz=$khz"
    echo qemu-system-x86_64 -name bench -machine "$1,accel=$ACCEL" -m 256 -smp 1 -nodefaults -no-user-config \
        -display none -no-reboot -kernel "$cache/kernel/current/vmlinuz" \
        -append "'console=ttyS0 quiet loglevel=0 panic=-1$extra'" -serial "file:$work/console.log" \
        -initrd "$guest/initrd.img"
}
rm -f "$work"/harness-*.medians
for ((round = 1; round <= ROUNDS; round++)); do
    harness "$round"
    bench podman "${PODMAN[*]}"
    bench qemu-pc "$(qemu_line pc)"
    bench qemu-microvm "$(qemu_line microvm)"
    # Per-round medians of hyperfine's runs, for the per-round ratio.
    for n in podman qemu-pc qemu-microvm; do
        python3 -c 'import statistics,sys; v=[float(x) for x in open(sys.argv[1]).read().split()[-int(sys.argv[2]):]]; print(statistics.median(v))' \
            "$work/$n.times" "$PER" >>"$work/hand-$n.medians"
    done
    echo "round $round/$ROUNDS done" >&2
done

python3 - "$work" "$ROUNDS" "$PER" "$ACCEL" "$image" <<'PY'
import statistics, sys
work, rounds, per, accel, image = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"peer launch: harness vs hyperfine -N, {rounds} interleaved rounds of {per} runs each, accel={accel}, image {image}")
for arm, hand in (("container-podman", "podman"), ("qemu-pc", "qemu-pc"), ("qemu-microvm", "qemu-microvm")):
    h = [float(x) for x in open(f"{work}/harness-{arm}.medians").read().split()]
    b = [float(x) for x in open(f"{work}/hand-{hand}.medians").read().split()]
    ratios = sorted(x / y for x, y in zip(h, b))
    r = statistics.median(ratios)
    print(f"  {arm:17s} harness median {statistics.median(h):9.1f} ms, hyperfine {statistics.median(b):9.1f} ms; "
          f"per-round ratio median {r:.3f} (range {ratios[0]:.3f}–{ratios[-1]:.3f}): "
          f"{'within 10 %' if abs(r - 1) <= 0.10 else 'NOT within 10 %'}")
PY
