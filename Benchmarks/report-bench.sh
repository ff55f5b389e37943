#!/usr/bin/env bash
# Times report generation for a 100 000-sample results file (target: < 1 s per format, release build).
# Builds only Results, Stats and Reports (copied into a throwaway package with a small driver), so it
# does not depend on the rest of boxbench compiling. Usage: Benchmarks/report-bench.sh [SAMPLES]
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
samples="${1:-100000}"
work="$(mktemp -d /tmp/boxbench-report-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/Sources/ReportBench"
cp -R "$repo/Sources/Results" "$repo/Sources/Stats" "$repo/Sources/Reports" "$work/Sources/"
cat > "$work/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "ReportBench",
    targets: [
        .target(name: "Results"),
        .target(name: "Stats"),
        .target(name: "Reports", dependencies: ["Results", "Stats"]),
        .executableTarget(name: "ReportBench", dependencies: ["Results", "Stats", "Reports"]),
    ],
    swiftLanguageModes: [.v6]
)
SWIFT
cat > "$work/Sources/ReportBench/main.swift" <<'SWIFT'
import Foundation
import Reports
import Results
import Stats

let count = Int(CommandLine.arguments[1])!
let path = CommandLine.arguments[2]

/// A synthetic but realistic run: 7 workloads × 5 arms, ~1% failures, VM phases, log-normal noise.
func makeDocument(samples: Int) -> ResultsDocument {
    let workloads = ["hello", "idle", "cpu", "memory", "syscall", "fileio", "probe"]
    let arms = ["native", "container", "container-crun", "container-runc", "vm"]
    let startup: [String: Double] = ["native": 0.6, "container": 3, "container-crun": 12, "container-runc": 25, "vm": 2300]
    let host = HostInfo(
        hostname: "bench", kernel: "6.1.0", cpuModel: "bench-cpu", cpus: 2, memTotalBytes: 1 << 34,
        cgroupMode: "hybrid", bootID: "b")
    var doc = ResultsDocument(
        suite: "bench", startedAt: "2026-11-29T00:00:00Z", seed: 1, host: host,
        tool: ToolInfo(version: "bench", commit: "0"),
        plan: PlanSummary(arms: arms, workloads: workloads, repetitions: samples / 35, warmups: 0, timeoutSeconds: 30, cacheMode: "warm"))
    var generator = SplitMix64(seed: 12345)
    // Log-normal noise (σ = 0.1) by Box–Muller.
    func noise() -> Double {
        let normal = (-2 * log(generator.nextOpenUnit())).squareRoot() * cos(2 * Double.pi * generator.nextOpenUnit())
        return exp(0.1 * normal)
    }
    doc.samples.reserveCapacity(samples)
    for index in 0..<samples {
        let workload = workloads[index % workloads.count]
        let arm = arms[(index / workloads.count) % arms.count]
        let provenance = Provenance(
            arm: arm.hasPrefix("container") ? "container" : arm, engine: arm, accel: arm == "vm" ? "tcg" : nil,
            machineType: nil, cgroupMode: "hybrid", kernel: "6.1.0", cpuModel: "bench-cpu", boxbenchVersion: "bench",
            commit: "0", cacheMode: "warm", seed: 1, repetition: index / 35, startedAt: "t", finishedAt: "t")
        if generator.nextIndex(below: 100) == 0 {
            doc.samples.append(Sample(armKey: arm, workload: workload, repetition: index / 35, status: .timeout, failure: "timeout", provenance: provenance))
            continue
        }
        let first = startup[arm]! * noise()
        var metrics: [String: Double] = [
            "startup_first_output_ms": first, "startup_exit_ms": first * 1.05, "cpu_ns": first * 7e5 * noise(),
            "memory_peak_bytes": (arm == "vm" ? 2.1e8 : 1.6e6) * noise(),
        ]
        if arm == "vm" { metrics["pss_peak_bytes"] = 2.1e8 * noise() }
        if workload == "cpu" { metrics["work_ops_per_s"] = (arm == "vm" ? 1.2e5 : 1e6) * noise() }
        if workload == "syscall" { metrics["work_getpid_ns"] = (arm == "vm" ? 900 : 62) * noise() }
        let phases = arm == "vm" ? [Phase(name: "libvirt-create", ms: 420 * noise()), Phase(name: "kernel-init", ms: 1900 * noise())] : []
        doc.samples.append(Sample(
            armKey: arm, workload: workload, repetition: index / 35, status: .ok, exitCode: 0, metrics: metrics,
            phases: phases, outputDigest: "sha256:\(workload)", provenance: provenance))
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
var worst = 0.0
for format in ReportFormat.allCases {
    var length = 0
    let time = seconds { length = renderReport(document, format: format).utf8.count }
    worst = max(worst, time)
    line("report --format \(format.rawValue)", time, "  (\(length / 1000) KB)")
}
let githubTime = seconds { _ = githubActionBenchmarkJSON(document) }
line("github-action-benchmark JSON", githubTime)
let compareTime = try seconds { _ = try compareResults(baseline: document, new: document) }
line("compare (same file twice)", compareTime)
print(worst < 1 ? "OK: every format rendered in < 1 s" : "SLOW: a format took \(worst) s (target < 1 s)")
exit(worst < 1 ? 0 : 1)
SWIFT

echo "building (release) …" >&2
swift build -c release --package-path "$work" --scratch-path "$repo/.build-report-bench" >&2
"$repo/.build-report-bench/release/ReportBench" "$samples" "$work/results.json"
