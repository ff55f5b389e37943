#!/usr/bin/env bash
# Where one `boxbench-runtime run` and one create + start + delete spend their instructions (issue 22, item 1):
# callgrind instruction counts (stable on this noisy host, unlike wall time) of the release build with a static
# Swift standard library — the build container-launch-bench.sh times — on a busybox bundle running /bin/true, grouped
# into the phases of a launch by the functions they run in; plus crun's and `/bin/true`'s totals for scale, and
# one strace timeline (wall clock, per syscall) of a run. Writes nothing but stdout: results/runtime-breakdown.txt
# is this script's output.
#   Benchmarks/runtime-breakdown.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for p in valgrind callgrind_annotate strace crun; do command -v $p >/dev/null || { echo "$p missing" >&2; exit 2; }; done
swift build -c release --static-swift-stdlib --product boxbench-runtime 2>&1 | grep -E "error:" || true
swift build -c release --static-swift-stdlib --product boxbench 2>&1 | grep -E "error:" || true
BIN=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/boxbench-breakdown.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Valgrind 3.19 cannot read this toolchain's DWARF ("possibly corrupted debuginfo"): the same binary without its
# debug sections (symbols kept, so functions are still named; the code is byte-identical).
objcopy --strip-debug "$BIN/boxbench-runtime" "$work/boxbench-runtime"
RT=$work/boxbench-runtime
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
"$BIN/boxbench" container spec /bin/true >"$work/config.json"

# callgrind: the runtime's own process (children are the container: not followed).
cg() { # name, then the command
    local name=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" --trace-children=no "$@" >/dev/null 2>"$work/$name.vg" \
        || echo "$name under callgrind: $(grep -v '^==\|^--' "$work/$name.vg" | tail -1)" >>"$work/failures"
}
"$RT" --root "$work/rt" run --bundle "$work" warm >/dev/null  # page cache, layout detection
cg run "$RT" --root "$work/rt" run --bundle "$work" bd-run
cg create "$RT" --root "$work/rt" create --bundle "$work" bd-cyc
cg start "$RT" --root "$work/rt" start bd-cyc
sleep 0.2
cg delete "$RT" --root "$work/rt" delete --force bd-cyc
cg version "$RT" --version
cg true /bin/true

echo "boxbench-runtime start-up breakdown — $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(uname -r), $(nproc) CPUs"
echo "release build, --static-swift-stdlib; $(stat -c %s "$RT") bytes; relocations: $(readelf -r "$RT" 2>/dev/null | grep -c R_X86_64_RELATIVE) R_X86_64_RELATIVE, $(readelf -r "$RT" 2>/dev/null | grep -c 'R_X86_64_\(GLOB_DAT\|JUMP_SLOT\|64\)') symbolic"
echo "command: Benchmarks/runtime-breakdown.sh (callgrind instruction counts of the runtime's own process; the"
echo "container's /bin/true is a child and not counted). This VM has no hardware counters (perf: instructions <not"
echo "supported>), so callgrind it is — and valgrind 3.19 does not implement openat2 (syscall 437), which the"
echo "container's child uses to resolve its mounts inside the root: under callgrind the child fails there (below), the"
echo "runtime takes its error exit, and the counts cover everything up to clone plus that exit. The error exit's frames"
echo "(ArgumentParser's exit(withError:) and its help generator) are named below and are not part of a real run."
[[ -f $work/failures ]] && sed 's/^/  /' "$work/failures"
echo
python3 - "$work" <<'PY'
import re, subprocess, sys
work = sys.argv[1]
# Phases by the functions an instruction runs under (inclusive cost of the first matching frame from the top).
groups = [
    ("dynamic loader + relocations", r"^_dl_start|^_dl_relocate|^dl_main"),
    ("argument reading (LeanArguments)", r"LeanArguments"),
    ("spec decoding: RuntimeSpec.load (config.json via JSONDecoder)", r"RuntimeSpecV4load"),
    ("protocol-conformance lookups (all callers: decoding, error exit)", r"^swift_conformsToProtocolWithExecutionContext$"),
    ("type metadata by mangled name (all callers)", r"^swift_getTypeByMangledName$"),
    ("cgroup set-up", r"CgroupManager|makeCgroupManager|Cgroup.*create"),
    ("seccomp compile (libseccomp)", r"seccomp_export_bpf|seccomp_load|SeccompProfile"),
    ("clone → exec (CShim)", r"^cshim_"),
    ("ERROR EXIT under valgrind (not in a real run)", r"exit9withError"),
]
def total(name):
    try:
        out = subprocess.run(["callgrind_annotate", f"{work}/{name}.cg"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return None, ""
    m = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", out) or re.search(r"([\d,]+)\s+PROGRAM TOTALS", out)
    return (int(m.group(1).replace(",", "")) if m else None), out
def inclusive(name):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", f"{work}/{name}.cg"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(?:\S+:)?(.+?)(?: \[.*\])?$", line)
        if m: rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows
print(f"{'command':28s} {'instructions':>14s}")
totals = {}
for name, label in [("true", "/bin/true"), ("version", "boxbench-runtime --version"), ("run", "boxbench-runtime run"),
                    ("create", "create"), ("start", "start"), ("delete", "delete --force")]:
    t, _ = total(name)
    totals[name] = t
    print(f"{label:28s} {t if t is not None else 'n/a':>14,}" if t is not None else f"{label:28s} n/a")
if all(totals.get(k) for k in ("create", "start", "delete")):
    print(f"{'create+start+delete':28s} {totals['create'] + totals['start'] + totals['delete']:>14,}")
for name in ("run", "create"):
    rows = inclusive(name)
    t = totals.get(name) or 1
    print(f"\n{name}: inclusive instructions of the largest frame matching each phase (phases can contain one")
    print("another — the conformance lookups run inside the spec decoding — so they do not add up to the total)")
    for label, pattern in groups:
        best = max((c for c, f in rows if re.search(pattern, f)), default=0)
        print(f"  {label:52s} {best:>13,}  {100 * best / t:5.1f}%")
    print(f"  top 25 frames (inclusive):")
    for c, f in rows[:25]:
        print(f"    {c:>13,}  {100 * c / t:5.1f}%  {f[:110]}")
PY
echo
echo "strace -f -tt of one run (wall clock; strace slows every syscall, so read the order and the gaps):"
strace -f -tt -e trace=execve,openat,mount,umount2,pivot_root,clone,clone3,wait4,mkdir,rmdir,exit_group -o "$work/strace.txt" \
    "$RT" --root "$work/rt" run --bundle "$work" bd-strace >/dev/null 2>&1 || true
grep -vE 'ENOENT|/proc/self|locale|\.so' "$work/strace.txt" | head -60
