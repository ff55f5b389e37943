#!/usr/bin/env bash
# Start → first workload output of the same kernel + initramfs, launched by raw qemu-system-x86_64 and by
# `boxbench vm run` (libvirt C API, embedded driver), N runs each, interleaved, same accel/machine/memory/devices.
# Target: boxbench within raw QEMU + 150 ms. The verdict uses a seeded bootstrap 95 % interval of the difference of
# medians: "met" if its upper end is <= +150 ms, "NOT met" if its lower end is above, "inconclusive" otherwise.
#
#   Benchmarks/vm-launch-bench.sh [N]        env: BOXBENCH=path/to/boxbench ACCEL=tcg|kvm MACHINE=pc|q35 MEMORY=256
set -euo pipefail

N=${1:-${N:-15}}
ACCEL=${ACCEL:-tcg}
MACHINE=${MACHINE:-pc}
MEMORY=${MEMORY:-256}
BOXBENCH=${BOXBENCH:-}
if [[ -z "$BOXBENCH" ]]; then
    for c in .build/release/boxbench .build/debug/boxbench; do [[ -x $c ]] && BOXBENCH=$c && break; done
fi
[[ -x "${BOXBENCH:-}" ]] || { echo "build boxbench first (swift build -c release) or set BOXBENCH=" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 missing" >&2; exit 2; }
[[ -x /bin/busybox ]] || { echo "busybox-static missing" >&2; exit 2; }

work=$(mktemp -d /tmp/vm-launch-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
MARK=BENCH-FIRST-OUTPUT
WORKLOAD=(/bin/sh -c "echo $MARK")

# Warm-up: builds (or finds) the cached artifacts and the embedded root's capability cache; gives the paths.
"$BOXBENCH" vm run --rootfs-dir "$work/rootfs" --accel "$ACCEL" --machine "$MACHINE" --memory "$MEMORY" \
    --json -- "${WORKLOAD[@]}" >"$work/warm.json" 2>"$work/warm.err" || { cat "$work/warm.err" >&2; exit 1; }
read -r KERNEL INITRD < <(python3 -c '
import json,sys
t=open(sys.argv[1]).read(); d=json.loads(t[t.index("{"):])
print(d["sizes"]["kernelPath"], d["sizes"]["initrdPath"])' "$work/warm.json")

BALLOON=()
[[ "$MACHINE" != microvm ]] && BALLOON=(-device virtio-balloon-pci)
RAW=(qemu-system-x86_64 -accel "$ACCEL" -M "$MACHINE" -m "$MEMORY" -smp 1 -nodefaults -no-user-config
     -nographic -serial stdio -no-reboot "${BALLOON[@]}" -kernel "$KERNEL" -initrd "$INITRD"
     -append "console=ttyS0 quiet loglevel=0 panic=-1")
BOX=("$BOXBENCH" vm run --rootfs-dir "$work/rootfs" --accel "$ACCEL" --machine "$MACHINE" --memory "$MEMORY"
     -- "${WORKLOAD[@]}")

python3 - "$N" "$MARK" "$ACCEL" "$MACHINE" "$MEMORY" "${#RAW[@]}" "${RAW[@]}" "${BOX[@]}" <<'PY'
import os, select, signal, statistics, subprocess, sys, time
n, mark, accel, machine, memory, nraw = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
raw, box = sys.argv[7:7 + nraw], sys.argv[7 + nraw:]

def first_output_ms(cmd, timeout=60.0):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf, seen = b"", None
    while time.monotonic() - t0 < timeout:
        r, _, _ = select.select([p.stdout], [], [], 0.05)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if seen is None and mark in buf:
                seen = (time.monotonic() - t0) * 1000
        elif p.poll() is not None:
            break
    try:
        p.wait(timeout=max(1.0, timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT); p.wait(timeout=20)
    if seen is None:
        print("   stderr: " + p.stderr.read().decode(errors="replace")[-600:], file=sys.stderr)
    return seen, (time.monotonic() - t0) * 1000

res = {"raw qemu": [], "boxbench": []}
for i in range(n):
    for name, cmd in (("raw qemu", raw), ("boxbench", box)):
        ms, total = first_output_ms(cmd)
        print(f"run {i + 1}/{n} {name:9s}: first output {'%.0f' % ms if ms else 'NONE'} ms, exit after {total:.0f} ms", flush=True)
        if ms is not None:
            res[name].append(ms)
if not res["raw qemu"] or not res["boxbench"]:
    print("no first output seen", file=sys.stderr); sys.exit(1)
import random
rng = random.Random(20261129)
mr, mb = statistics.median(res["raw qemu"]), statistics.median(res["boxbench"])
diffs = sorted(
    statistics.median(rng.choices(res["boxbench"], k=len(res["boxbench"])))
    - statistics.median(rng.choices(res["raw qemu"], k=len(res["raw qemu"])))
    for _ in range(4000))
lo, hi = diffs[int(0.025 * len(diffs))], diffs[int(0.975 * len(diffs)) - 1]
verdict = "met" if hi <= 150 else ("NOT met" if lo > 150 else "inconclusive")
print(f"\naccel={accel} machine={machine} memory={memory}MiB N={n} (start -> first workload output, host monotonic)")
print(f"  raw qemu-system-x86_64 median {mr:8.1f} ms  (min {min(res['raw qemu']):.0f}, max {max(res['raw qemu']):.0f})")
print(f"  boxbench vm run        median {mb:8.1f} ms  (min {min(res['boxbench']):.0f}, max {max(res['boxbench']):.0f})")
print(f"  difference {mb - mr:+.1f} ms [95% bootstrap {lo:+.1f}, {hi:+.1f}], ratio {mb / mr:.3f}")
print(f"  target: difference <= +150 ms: {verdict}")
PY

# Where libvirt's share goes: one more boxbench run with libvirt's QEMU-driver debug log, summarised.
log="$work/libvirt-debug.log"
LIBVIRT_LOG_FILTERS="1:qemu.qemu_process 1:qemu.qemu_monitor 3:*" LIBVIRT_LOG_OUTPUTS="1:file:$log" \
    "${BOX[@]}" >/dev/null 2>&1 || true
python3 - "$log" <<'PY'
import datetime, re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
def ts(l):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})", l)
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") if m else None
def at(text):
    return next((ts(l) for l in lines if text in l and ts(l)), None)
start, verify, after = at("Beginning VM startup process"), at("Verifying and updating provided guest CPU"), at("Detecting IOThread PIDs")
qmp = [m.group(1) for l in lines if "QEMU_MONITOR_SEND_MSG" in l for m in [re.search(r'"execute":"([a-z-]+)"', l)] if m]
if start and verify and after:
    print(f"libvirt start-up breakdown (one run, debug log): {(after - start).total_seconds() * 1000:.0f} ms from "
          f"'Beginning VM startup' to vCPU tuning, of which {(after - verify).total_seconds() * 1000:.0f} ms verify the guest CPU "
          f"({qmp.count('qom-get')} qom-get of {len(qmp)} QMP commands in the run)")
else:
    print("libvirt start-up breakdown: not found in the debug log")
PY
