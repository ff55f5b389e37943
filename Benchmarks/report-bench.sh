#!/usr/bin/env bash
# Times report generation for a 100 000-sample results file (target: load + render < 1 s per format, release
# build). Builds only CSimdJSON, Results, Stats and Reports (copied into a throwaway package with a small driver), so it
# does not depend on the rest of boxbench compiling. Usage: Benchmarks/report-bench.sh [SAMPLES]
# Each format is timed from a fresh read of the file (what `boxbench report FILE --format F` does in-process).
# The file is written as `boxbench run` writes it (schema v3), read as `boxbench report` reads it (simdjson with
# the types' Codable conformances) and, for comparison, by Foundation's JSONDecoder alone; the analysis
# is timed once for all formats as `boxbench run` computes it.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
samples="${1:-100000}"
work="$(mktemp -d /tmp/boxbench-report-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/Sources/ReportBench"
cp -R "$repo/Sources/CSimdJSON" "$repo/Sources/Results" "$repo/Sources/Stats" "$repo/Sources/Reports" "$work/Sources/"
cat > "$work/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "ReportBench",
    targets: [
        .target(
            name: "CSimdJSON", cxxSettings: [.define("SIMDJSON_THREADS_ENABLED", to: "1")],
            linkerSettings: [.linkedLibrary("simdjson")]),
        .target(name: "Results", dependencies: ["CSimdJSON"]),
        .target(name: "Stats"),
        .target(name: "Reports", dependencies: ["Results", "Stats"]),
        .executableTarget(name: "ReportBench", dependencies: ["Results", "Stats", "Reports"]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
SWIFT
cat > "$work/Sources/ReportBench/main.swift" <<'SWIFT'
import Foundation
import Reports
import Results
import Stats

let count = Int(CommandLine.arguments[1])!
let path = CommandLine.arguments[2]

/// A synthetic but realistic run: 7 workloads × 5 arms, ~1% failures, log-normal noise, and per sample
/// what the runner records (results/baselines/): the metric set of its arm and workload (6–17 metrics), the
/// VM's 9 and a container's 4 phases, ISO timestamps, a SHA-256 output digest, the arms recorded once, and one
/// plan-order entry per run.
func makeDocument(samples: Int) -> ResultsDocument {
    let workloads = ["hello", "idle", "cpu", "memory", "syscall", "fileio", "probe"]
    let arms = ["native", "container", "container-crun", "container-runc", "vm"]
    let startup: [String: Double] = ["native": 0.6, "container": 3, "container-crun": 12, "container-runc": 25, "vm": 2300]
    let workMetrics: [String: [String]] = [
        "idle": ["work_idle_ns"], "cpu": ["work_elapsed_ns", "work_hash_bytes_per_s", "work_hashed_bytes"],
        "memory": ["work_elapsed_ns", "work_maxrss_bytes", "work_page_size_bytes", "work_touch_bytes_per_s", "work_touched_bytes"],
        "syscall": ["work_elapsed_ns", "work_getppid_ns", "work_open_close_ns"],
        "fileio": ["work_elapsed_ns", "work_write_bytes_per_s"], "probe": ["work_elapsed_ns"],
    ]
    let vmPhases = ["create-returned", "qemu-alive", "resume-returned", "guest-init", "workload-start", "first-output", "workload-exit", "poweroff", "domain-gone"]
    let containerPhases = ["created", "started", "first-output", "exited"]
    let host = HostInfo(
        hostname: "bench", kernel: "6.18.44-fc-v595", cpuModel: "Intel(R) Xeon(R) Processor", cpus: 2,
        memTotalBytes: 25_276_514_304, cgroupMode: "hybrid", bootID: "cd8b3296-ad72-4d38-876a-5e736fd0001b")
    let tool = ToolInfo(version: "0.1.0", commit: "80c805891dcb")
    let seed: UInt64 = 6_063_333_517_647_271_708
    var doc = ResultsDocument(
        suite: "bench", startedAt: "2026-11-29T00:00:00.000Z", seed: seed, host: host, tool: tool,
        plan: PlanSummary(arms: arms, workloads: workloads, repetitions: samples / 35, warmups: 0, timeoutSeconds: 30, cacheMode: "warm"),
        arms: arms.map { arm in
            arm == "vm"
                ? ArmRecord(key: arm, kind: .vm, engine: "libvirt", engineVersion: "libvirt 9.0.0, QEMU emulator version 7.2.19", accel: "auto", machine: "pc", rootfs: "initramfs", memoryMiB: 256, vcpus: 1, memoryFigure: "machine cgroup")
                : ArmRecord(key: arm, kind: arm == "native" ? .native : .container, engine: arm == "native" ? "native" : (arm == "container" ? "boxbench" : String(arm.dropFirst(10))), memoryFigure: "cgroup", seccomp: arm == "native" ? nil : "boxbench-default v2, 306 syscalls allowed")
        })
    var generator = SplitMix64(seed: 12345)
    // Log-normal noise (σ = 0.1) by Box–Muller.
    func noise() -> Double {
        let normal = (-2 * log(generator.nextOpenUnit())).squareRoot() * cos(2 * Double.pi * generator.nextOpenUnit())
        return exp(0.1 * normal)
    }
    let digests = Dictionary(uniqueKeysWithValues: workloads.enumerated().map { index, workload in
        (workload, "sha256:" + String(repeating: String(format: "%08x", 0x9e37_79b9 &* UInt32(index + 1)), count: 8))
    })
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    var clock = Date(timeIntervalSince1970: 1_795_000_000)
    doc.samples.reserveCapacity(samples)
    doc.plan.order.reserveCapacity(samples)
    for index in 0..<samples {
        let workload = workloads[index % workloads.count]
        let arm = arms[(index / workloads.count) % arms.count]
        let isVM = arm == "vm"
        let first = startup[arm]! * noise()
        let startedAt = formatter.string(from: clock)
        clock.addTimeInterval(first * 1.2 / 1000 + 0.004)
        let finishedAt = formatter.string(from: clock)
        doc.plan.order.append("\(arm)/\(workload)#\(index / 35)")
        if generator.nextIndex(below: 100) == 0 {
            doc.samples.append(Sample(arm: arm, workload: workload, repetition: index / 35, status: .timeout, failure: "timeout after 30 s", startedAt: startedAt, finishedAt: finishedAt, measurements: Measurements(vm: VMMeasurements(accel: isVM ? "tcg" : nil, machineType: isVM ? "pc" : nil))))
            continue
        }
        var metrics: [String: Double] = [
            "startup_first_output_ms": first, "startup_exit_ms": first * 1.05, "cpu_ns": (first * 7e5 * noise()).rounded(),
            "memory_peak_bytes": ((isVM ? 2.1e8 : 1.6e6) * noise()).rounded(),
        ]
        if isVM {
            for name in ["pss_peak_bytes", "rss_peak_bytes", "memory_current_bytes"] { metrics[name] = (2.1e8 * noise()).rounded() }
            metrics["guest_memtotal_bytes"] = 113_872_896
            metrics["guest_memavailable_bytes"] = (9.1e7 * noise()).rounded()
        } else {
            metrics["memory_anon_bytes"] = (2.6e5 * noise()).rounded()
            metrics["memory_file_bytes"] = 0
        }
        if arm != "native" {
            metrics["create_ms"] = first * 0.4
            metrics["start_ms"] = first * 0.6
        }
        for name in workMetrics[workload] ?? [] { metrics[name] = (1e6 * noise()).rounded() }
        let names = isVM ? vmPhases : (arm == "native" ? [] : containerPhases)
        var at = 0.0
        let phases = names.map { name -> Phase in
            at += first / Double(names.count) * noise()
            return Phase(name: name, ms: at)
        }
        doc.samples.append(Sample(
            arm: arm, workload: workload, repetition: index / 35, status: .ok, exitCode: 0, startedAt: startedAt,
            finishedAt: finishedAt,
            measurements: Measurements(byName: metrics, phases: phases, accel: isVM ? "tcg" : nil, machineType: isVM ? "pc" : nil),
            outputDigest: digests[workload]))
    }
    doc.complete = true
    return doc
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

try ResultsStore.write(makeDocument(samples: count), to: path)
let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
var document: ResultsDocument!
let readTime = try seconds { document = try ResultsStore.read(path) }
print("results file: \(document.samples.count) samples, \(size / 1_000_000) MB")
/// "label ........ 0.123 s" with the label padded so the figures line up.
func line(_ label: String, _ time: Double, _ extra: String = "") {
    print(label.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%8.3f s", time) + extra)
}
line("read + decode JSON (ResultsStore)", readTime)
let foundationTime = try seconds {
    _ = try ResultsStore.readWithFoundation(path)
}
line("the same by JSONDecoder alone", foundationTime, "  (not the target: why simdjson stays)")
var worst = 0.0
for format in ReportFormat.allCases {
    var length = 0
    var loaded: ResultsDocument!
    let load = try seconds { loaded = try ResultsStore.read(path) }
    let render = seconds { length = renderReport(loaded, format: format).utf8.count }
    worst = max(worst, load + render)
    line("load + report --format \(format.rawValue)", load + render, String(format: "  (load %.3f + render %.3f; %d KB)", load, render, length / 1000))
}
// What `boxbench run` does after the last run: one analysis, every format rendered from it.
var runAnalysis: ReportAnalysis!
let analysisTime = seconds { runAnalysis = ReportAnalysis(document) }
let allFormats = seconds { for format in ReportFormat.allCases { _ = renderReport(runAnalysis, format: format) } }
line("analysis once (boxbench run)", analysisTime)
line("then every format from it", allFormats)
let githubTime = seconds { _ = githubActionBenchmarkJSON(document) }
line("github-action-benchmark JSON", githubTime)
let compareTime = try seconds { _ = try compareResults(baseline: document, new: document) }
line("compare (same file twice)", compareTime)
print(worst < 1 ? "OK: every format loaded and rendered in < 1 s" : "SLOW: load + render took \(worst) s (target < 1 s)")
exit(worst < 1 ? 0 : 1)
SWIFT

echo "building (release) …" >&2
swift build -c release --package-path "$work" --scratch-path "$repo/.build-report-bench" >&2
"$repo/.build-report-bench/release/ReportBench" "$samples" "$work/results.json"
