#!/usr/bin/env bash
# Where one `boxbench-runtime run` and one create + start + delete spend their instructions (issue 22):
# callgrind instruction counts (stable on this noisy host, unlike wall time) of the release build with a static
# Swift standard library — the build container-launch-bench.sh times — on a busybox bundle running /bin/true, grouped
# into the phases of a launch by the functions they run in; plus `/bin/true`'s total for scale, and one strace
# timeline of a run; then CPU time and page faults per command (perf stat's software counters), which is where a
# process's start-up cost beyond its instructions shows (mapping, faulting in and tearing down its libraries).
# With BEFORE=<an older boxbench-runtime binary> both are counted in the same way, side by side.
# Writes nothing but stdout: results/runtime-breakdown.txt is this script's output.
#   [BEFORE=/path/to/old/boxbench-runtime] Benchmarks/runtime-breakdown.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for p in valgrind callgrind_annotate strace perf; do command -v $p >/dev/null || { echo "$p missing" >&2; exit 2; }; done
swift build -c release --static-swift-stdlib --product boxbench-runtime 2>&1 | grep -E "error:" || true
swift build -c release --static-swift-stdlib --product boxbench 2>&1 | grep -E "error:" || true
BIN=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/boxbench-breakdown.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Valgrind 3.19 cannot read this toolchain's DWARF ("possibly corrupted debuginfo"): the same binaries without their
# debug sections (symbols kept, so functions are still named; the code is byte-identical).
objcopy --strip-debug "$BIN/boxbench-runtime" "$work/after"
versions=(after)
if [[ -n ${BEFORE:-} ]]; then objcopy --strip-debug "$BEFORE" "$work/before"; versions=(before after); fi
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
for v in "${versions[@]}"; do
    RT=$work/$v
    "$RT" --root "$work/rt" run --bundle "$work" warm-$v >/dev/null  # page cache, layout detection, seccomp store
    cg $v-run "$RT" --root "$work/rt" run --bundle "$work" bd-run-$v
    cg $v-create "$RT" --root "$work/rt" create --bundle "$work" bd-cyc-$v
    "$RT" --root "$work/rt" delete --force bd-cyc-$v >/dev/null 2>&1 || true
    # start and delete of a container created outside valgrind (whose child would fail at openat2, below).
    "$RT" --root "$work/rt" create --bundle "$work" bd-cyc-$v
    cg $v-start "$RT" --root "$work/rt" start bd-cyc-$v
    sleep 0.2
    cg $v-delete "$RT" --root "$work/rt" delete --force bd-cyc-$v
    cg $v-version "$RT" --version
done
# CPU and page faults: 5 rounds, each version in turn, 10 runs each (a load change on this shared host hits both alike).
# perf stat follows children: a run's figures include the container's /bin/true, alike for both versions.
for round in 1 2 3 4 5; do
    for v in "${versions[@]}"; do
        RT=$work/$v
        for c in run version; do
            if [[ $c == run ]]; then cmd=("$RT" --root "$work/rt" run --bundle "$work" pf-$v); else cmd=("$RT" --version); fi
            perf stat -r 10 -x, -e task-clock,page-faults -o "$work/perf.out" "${cmd[@]}" >/dev/null 2>&1 \
                || { echo "$v $c under perf stat failed" >>"$work/failures"; continue; }
            awk -F, '$3=="task-clock" {cpu=$1} $3=="page-faults" {pf=$1} END {print cpu, pf}' "$work/perf.out" \
                >>"$work/$v-$c.perf"
        done
    done
done
cg true /bin/true

echo "boxbench-runtime start-up breakdown — $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(uname -r), $(nproc) CPUs"
for v in "${versions[@]}"; do
    echo "$v: release build; $(stat -c %s "$work/$v") bytes ($(readelf -h "$work/$v" | awk '/Type:/ {print $2}')); relocations: $(readelf -r "$work/$v" 2>/dev/null | grep -c R_X86_64_RELATIVE) R_X86_64_RELATIVE, $(readelf -r "$work/$v" 2>/dev/null | grep -c 'R_X86_64_\(GLOB_DAT\|JUMP_SLOT\|64\)') symbolic"
done
echo "command: ${BEFORE:+BEFORE=$BEFORE }Benchmarks/runtime-breakdown.sh (callgrind instruction counts of the runtime's own"
echo "process; the container's /bin/true is a child and not counted). This VM has no hardware counters (perf:"
echo "instructions <not supported>), so callgrind it is — and valgrind 3.19 does not implement openat2 (syscall 437),"
echo "which the container's child uses to resolve its mounts inside the root: under callgrind the child of run and"
echo "create fails there (below), and those counts cover everything up to clone, the teardown and the error exit;"
echo "start and delete act on a container created outside valgrind, so theirs are whole. The before column's run and"
echo "create include ArgumentParser's exit(withError:) (the last phase row): a real before-run paid it too — its"
echo "success left through an ExitCode, which that function turns into a help-text build — a real create did not."
[[ -f $work/failures ]] && sed 's/^/  /' "$work/failures"
echo
python3 - "$work" "${versions[@]}" <<'PY'
import re, subprocess, sys
work, versions = sys.argv[1], sys.argv[2:]
# Phases by the functions an instruction runs under (inclusive cost of the largest matching frame).
groups = [
    # A static executable has no loader: glibc's own start-up (TLS, IRELATIVE relocations, CPU features) instead.
    ("dynamic loader + relocations / static start-up", r"^_dl_start$|^_dl_relocate|^dl_main|^__libc_setup_tls|^_dl_non_dynamic_init|^apply_irel|^__libc_init_secure|^init_cpu_features"),
    ("argument reading (LeanArguments + command set-up)", r"leanCommand"),
    ("config.json: RuntimeSpec.load", r"RuntimeSpecV4load"),
    ("protocol-conformance lookups (all callers)", r"^swift_conformsToProtocolWithExecutionContext$"),
    ("type metadata by mangled name (all callers)", r"^swift_getTypeByMangledName$"),
    ("cgroup layout + set-up", r"CgroupLayoutV6detect|CgroupManager.*create|Cgroup.*create"),
    ("seccomp: compile (before) / store (after)", r"FilterCacheC6filter"),
    ("  of which libseccomp export to BPF", r"^cshim_seccomp_export"),
    ("clone3 and the wait for the child (CShim, parent side)", r"^cshim_container_spawn"),
    ("ExitCode through ArgumentParser exit(withError:)", r"exit9withError"),
]
def annotate(name, inclusive):
    args = ["callgrind_annotate"] + (["--inclusive=yes", "--threshold=100"] if inclusive else []) + [f"{work}/{name}.cg"]
    try:
        return subprocess.run(args, capture_output=True, text=True).stdout
    except FileNotFoundError:
        return ""
def total(name):
    m = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", annotate(name, False))
    return int(m.group(1).replace(",", "")) if m else None
def frames(name):
    rows = []
    for line in annotate(name, True).splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(?:\S+:)?(.+?)(?: \[.*\])?$", line)
        if m: rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows
commands = [("run", "run"), ("create", "create"), ("start", "start"), ("delete", "delete --force"), ("version", "--version")]
print(f"{'instructions':28s}" + "".join(f"{v:>14s}" for v in versions) + ("   after/before" if len(versions) == 2 else ""))
print(f"{'/bin/true':28s}{total('true'):>14,}")
totals = {v: {c: total(f"{v}-{c}") for c, _ in commands} for v in versions}
for c, label in commands:
    cells = [totals[v][c] for v in versions]
    line = f"{'boxbench-runtime ' + label:28s}" + "".join(f"{x:>14,}" if x else f"{'n/a':>14s}" for x in cells)
    if len(cells) == 2 and all(cells): line += f"   {cells[1] / cells[0]:.2f}"
    print(line)
cycle = [sum(totals[v][c] or 0 for c in ("create", "start", "delete")) for v in versions]
print(f"{'create+start+delete':28s}" + "".join(f"{x:>14,}" for x in cycle) + (f"   {cycle[1] / cycle[0]:.2f}" if len(cycle) == 2 else ""))
for c in ("run", "create", "start", "delete"):
    print(f"\n{c}: inclusive instructions of the largest frame matching each phase (phases can contain one another —")
    print("conformance lookups run inside decoding and set-up — so they do not add up to the total)")
    print(f"  {'':52s}" + "".join(f"{v:>14s}" for v in versions))
    rows = {v: frames(f"{v}-{c}") for v in versions}
    for label, pattern in groups:
        cells = [max((n for n, f in rows[v] if re.search(pattern, f)), default=0) for v in versions]
        print(f"  {label:52s}" + "".join(f"{x:>14,}" for x in cells))
    v = versions[-1]
    print(f"  top 15 frames ({v}, inclusive):")
    for n, f in rows[v][:15]:
        print(f"    {n:>13,}  {f[:110]}")
PY
echo
echo "strace -f -tt of one run (after) (wall clock; strace slows every syscall, so read the order and the gaps):"
strace -f -tt -e trace=execve,openat,mount,umount2,pivot_root,clone,clone3,wait4,mkdir,rmdir,exit_group -o "$work/strace.txt" \
    "$work/after" --root "$work/rt" run --bundle "$work" bd-strace >/dev/null 2>&1 || true
grep -vE 'ENOENT|/proc/self|locale|\.so' "$work/strace.txt" | head -60
echo
echo "perf stat, 5 interleaved rounds of 10 runs (software counters): CPU ms and page faults per command, each round's mean"
for c in run version; do
    for v in "${versions[@]}"; do
        [[ -f $work/$v-$c.perf ]] || continue
        awk -v label="$v ${c/version/--version}" '{cpu = cpu sprintf(" %6.2f", $1); pf = $2; n++; sum += $1}
            END {printf "  %-20s CPU ms%s   (mean %.2f)   page faults %d\n", label, cpu, sum / n, pf}' "$work/$v-$c.perf"
    done
done
