import Foundation
import Results
import Stats

/// The sections terminal and Markdown reports share; each renderer only decides the markup.
extension ReportAnalysis {
    var headerLines: [String] {
        let doc = document
        let host = doc.host
        var lines = [
            "suite \(doc.suite), started \(doc.startedAt)" + (doc.finishedAt.map { ", finished \($0)" } ?? "")
                + (doc.complete ? "" : " (INCOMPLETE)"),
            "host \(host.hostname): \(host.cpuModel) x\(host.cpus), \(NumberText.bytes(host.memTotalBytes)) RAM, kernel \(host.kernel), cgroups \(host.cgroupMode)",
            "boxbench \(doc.tool.version) (\(doc.tool.commit)), seed \(doc.seed), \(doc.plan.repetitions) repetitions after \(doc.plan.warmups) warmups, \(doc.plan.cacheMode) cache",
            "arms: " + arms.map(armLabel).joined(separator: ", ")
                + "; samples: \(doc.samples.count), failed: \(failedSampleCount)",
            "intervals: \(Int((options.level * 100).rounded()))% percentile bootstrap of the median (\(options.resamples) resamples, seeded); failed samples excluded; outliers (|modified z| > 3.5) counted, never dropped",
        ]
        if let calibration = doc.calibration {
            lines.append("calibration: " + calibrationText(calibration))
        }
        // Memory is compared across arms: each says what its figure counts.
        let figures = doc.arms.compactMap { r in r.memoryFigure.map { "\(r.key): \($0)" } }
        if !figures.isEmpty { lines.append("memory_peak_bytes: " + figures.joined(separator: "; ")) }
        // One profile per engine in a run: the first arm of each engine tells it.
        var profiles: [String: String] = [:]
        for arm in doc.arms {
            if let seccomp = arm.seccomp, profiles[arm.engine] == nil { profiles[arm.engine] = seccomp }
        }
        let versions = doc.arms.compactMap { r in r.engineVersion.map { "\(r.key): \($0)" } }
        if !versions.isEmpty { lines.append("engines: " + versions.joined(separator: "; ")) }
        if !profiles.isEmpty {
            lines.append(
                "seccomp: "
                    + profiles.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; "))
        }
        return lines
    }

    func workloadRunsLine(_ workload: String) -> String {
        let parts = arms.compactMap { arm -> String? in
            guard let outcome = outcome(workload: workload, armKey: arm) else { return nil }
            return "\(armLabel(arm)) \(outcome.succeeded) ok"
                + (outcome.failed > 0 ? " / \(outcome.failed) failed" : "")
        }
        return "runs: " + parts.joined(separator: ", ")
    }

    func statsTable(_ workload: String) -> TextTable {
        var table = TextTable(
            ["metric", "arm", "n", "median [95% CI]", "p90", "MAD", "outliers"], numericColumns: [2, 4, 5, 6])
        for row in rows where row.workload == workload {
            for (index, arm) in row.arms.enumerated() {
                let unit = row.metric.unit
                let n = "\(arm.summary.count)" + (arm.nonFiniteCount > 0 ? " (+\(arm.nonFiniteCount) NaN)" : "")
                table.append([
                    index == 0 ? row.metric.name : "", armLabel(arm.armKey), n,
                    NumberText.quantity(arm.summary.median, interval: arm.medianInterval, unit: unit),
                    NumberText.quantity(arm.summary.p90, unit: unit),
                    NumberText.quantity(arm.summary.medianAbsoluteDeviation, unit: unit), "\(arm.outlierCount)",
                ])
            }
        }
        return table
    }

    func ratioTable(_ workload: String) -> TextTable? {
        // Every arm of one kind over every arm of the other (ReportAnalysis.standardRatioKinds), in row order.
        var labels: [String] = []
        for row in rows where row.workload == workload {
            for ratio in row.ratios where !labels.contains(ratio.label) { labels.append(ratio.label) }
        }
        guard !labels.isEmpty else { return nil }
        var table = TextTable(["metric"] + labels, numericColumns: Set(1...labels.count))
        for row in rows where row.workload == workload && !row.ratios.isEmpty {
            table.append(
                [row.metric.name]
                    + labels.map { label in
                        row.ratios.first { $0.label == label }.map { NumberText.ratio($0.value, interval: $0.interval) }
                            ?? "—"
                    })
        }
        return table.rows.isEmpty ? nil : table
    }

    var claimsSummaryTable: TextTable {
        var table = TextTable(["claim", "verdict", "measured (95% CI)", "metric"])
        for claim in claims {
            // The reason a claim was not measured follows the table (`notMeasuredLines`), keeping the table narrow.
            table.append([
                claim.id, claim.notMeasured ? "inconclusive (not measured)" : claim.verdict.rawValue, claim.measured,
                claim.metric,
            ])
            // One row per pair of arms when more than one pair was measured; the first decided the verdict.
            if claim.pairs.count > 1 {
                for pair in claim.pairs {
                    table.append(["", pair.verdict.rawValue, pair.measured, "  \(pair.numerator)÷\(pair.denominator)"])
                }
            }
        }
        return table
    }

    /// "C1 not measured: no vm arm in this run", one line per claim that was not measured.
    var notMeasuredLines: [String] {
        claims.filter(\.notMeasured).map { "\($0.id) not measured: \($0.reason)" }
    }

    var failuresTable: TextTable? {
        var table = TextTable(
            ["workload", "arm", "ok", "failed", "by status", "first failure"], numericColumns: [2, 3])
        for outcome in outcomes where outcome.failed > 0 {
            table.append([
                outcome.workload, armLabel(outcome.armKey), "\(outcome.succeeded)", "\(outcome.failed)",
                outcome.failuresByStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                    separator: ", "),
                outcome.firstFailure ?? "",
            ])
        }
        return table.rows.isEmpty ? nil : table
    }

    var phaseTable: TextTable? {
        var table = TextTable(
            ["workload", "arm", "phase", "median ms from launch", "Δ from previous"], numericColumns: [3, 4])
        for workload in workloads {
            for vm in arms(ofKind: "vm") {
                var previous = 0.0
                for (index, phase) in phaseMedians(workload: workload, armKey: vm).enumerated() {
                    table.append([
                        index == 0 ? workload : "", index == 0 ? armLabel(vm) : "", phase.name,
                        NumberText.number(phase.ms), NumberText.number(phase.ms - previous),
                    ])
                    previous = phase.ms
                }
            }
        }
        return table.rows.isEmpty ? nil : table
    }

    var imageTable: TextTable? {
        var table = TextTable(
            [
                "image", "container compressed", "container uncompressed", "VM arm (guest)", "VM artifacts",
                "of which OS layer", "VM ÷ container uncompressed",
            ],
            numericColumns: [1, 2, 4, 5, 6])
        for image in imageBytes {
            let container = [
                image.image, image.containerCompressed.map(NumberText.bytes) ?? "—",
                image.containerUncompressed.map(NumberText.bytes) ?? "—",
            ]
            guard !image.vms.isEmpty else {
                table.append(container + ["—", "—", "—", "—"])
                continue
            }
            for (index, vm) in image.vms.enumerated() {
                table.append(
                    (index == 0 ? container : ["", "", ""]) + [
                        "\(vm.armKey) (\(vm.guest))", NumberText.bytes(vm.total),
                        vm.osLayerUncompressed.map(NumberText.bytes) ?? "—",
                        image.ratio(of: vm).map { "×" + NumberText.number($0) } ?? "—",
                    ])
            }
        }
        return table.rows.isEmpty ? nil : table
    }

    /// The ladder as a table (the HTML report draws it): every arm of the ladder workload sorted by launch → first
    /// output, with its interval, engine and host memory per instance.
    var ladderTable: TextTable? {
        guard let workload = ladderWorkload else { return nil }
        let rungs = ladder(workload: workload, metrics: [.startupFirstOutputMs])
        guard rungs.count >= 2 else { return nil }
        var table = TextTable(
            ["arm", "engine", "launch → first output (median)", "95% CI", "host memory per instance"],
            numericColumns: [2, 4])
        for rung in rungs {
            let memory = [Metric.memoryPeakBytes, .pssPeakBytes].lazy.compactMap {
                self.stats(workload: workload, armKey: rung.arm, metric: $0.name)
            }.first
            table.append([
                armLabel(rung.arm), engineLabel(rung.arm), NumberText.quantity(rung.stats.summary.median, unit: "ms"),
                rung.stats.medianInterval.map {
                    "[\(NumberText.quantity($0.lower, unit: "ms")), \(NumberText.quantity($0.upper, unit: "ms"))]"
                } ?? "n < \(Bootstrap.minimumSampleCount)",
                memory.map { NumberText.quantity($0.summary.median, unit: "B") } ?? "",
            ])
        }
        return table
    }

    var densityTable: TextTable? {
        var table = TextTable(["arm", "instances", "memory per instance", "start median"], numericColumns: [1, 2, 3])
        for point in document.density.sorted(by: { ($0.armKey, $0.instances) < ($1.armKey, $1.instances) }) {
            table.append([
                point.accel.map { "\(point.armKey) (\($0))" } ?? point.armKey, "\(point.instances)",
                NumberText.quantity(point.memoryPerInstanceBytes, unit: "B"),
                NumberText.quantity(point.startMsMedian, unit: "ms"),
            ])
        }
        return table.rows.isEmpty ? nil : table
    }
}

enum TerminalReport {
    static func render(_ analysis: ReportAnalysis) -> String {
        var out = "boxbench report\n"
        out += analysis.headerLines.map { "  " + $0 }.joined(separator: "\n") + "\n"
        let caveats = analysis.setupCaveats
        if !caveats.isEmpty {
            out += "\nSetup caveats\n" + caveats.map { "  ! \($0.text)" }.joined(separator: "\n") + "\n"
        }
        out += "\n" + claimsText(analysis)
        for workload in analysis.workloads {
            out += "\n== \(workload) ==  \(analysis.workloadRunsLine(workload))\n"
            out += analysis.statsTable(workload).plain(indent: "  ")
            if let ratios = analysis.ratioTable(workload) {
                out += "\n  ratios of medians [95% CI]\n" + ratios.plain(indent: "  ")
            }
        }
        if let phases = analysis.phaseTable { out += "\nVM boot phases\n" + phases.plain(indent: "  ") }
        if let images = analysis.imageTable { out += "\nImage sizes\n" + images.plain(indent: "  ") }
        if let density = analysis.densityTable { out += "\nDensity\n" + density.plain(indent: "  ") }
        if let failures = analysis.failuresTable {
            out += "\nFailures (excluded from statistics)\n" + failures.plain(indent: "  ")
        }
        if !analysis.document.notes.isEmpty {
            out += "\nNotes\n" + analysis.document.notes.map { "  - \($0)" }.joined(separator: "\n") + "\n"
        }
        return out
    }

    static func claimsText(_ analysis: ReportAnalysis) -> String {
        var out = "Claims (verdicts by the stated rules; references are published context, not measured here)\n"
        out += analysis.claimsSummaryTable.plain(indent: "  ")
        for line in analysis.notMeasuredLines { out += "  \(line)\n" }
        for claim in analysis.claims {
            out += "\n  \(claim.id) \(claim.claim)\n"
            out += "     verdict: \(claim.verdictText)" + (claim.notMeasured ? "" : " — \(claim.reason)") + "\n"
            out += "     rule: \(claim.rule)\n"
            for caveat in claim.caveats { out += "     caveat: \(caveat)\n" }
            for line in claim.evidence { out += "     · \(line)\n" }
            for reference in claim.references { out += "     context (published, not measured here): \(reference)\n" }
        }
        return out
    }
}

enum MarkdownReport {
    static func render(_ analysis: ReportAnalysis) -> String {
        var out = "# boxbench report: \(analysis.document.suite)\n\n"
        out += analysis.headerLines.map { "- \($0)" }.joined(separator: "\n") + "\n"
        let caveats = analysis.setupCaveats
        if !caveats.isEmpty {
            out += "\n## Setup caveats\n\n" + caveats.map { "- ⚠️ \($0.text)" }.joined(separator: "\n") + "\n"
        }
        out +=
            "\n## Claims\n\nVerdicts follow the rule stated with each claim. Reference figures are published context, not measured here.\n\n"
        out += analysis.claimsSummaryTable.markdown()
        if !analysis.notMeasuredLines.isEmpty {
            out += "\n" + analysis.notMeasuredLines.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        for claim in analysis.claims {
            out += "\n### \(claim.id): \(claim.claim)\n\n"
            out += "- **Verdict: \(claim.verdictText)**" + (claim.notMeasured ? "" : " — \(claim.reason)") + "\n"
            out += "- Measured: \(claim.measured) — \(claim.metric)\n"
            out += "- Rule: \(claim.rule)\n"
            for caveat in claim.caveats { out += "- Caveat: \(caveat)\n" }
            for line in claim.evidence { out += "- \(line)\n" }
            for reference in claim.references { out += "- *Context (published, not measured here):* \(reference)\n" }
        }
        out += "\n## Results per workload\n"
        for workload in analysis.workloads {
            out += "\n### \(workload)\n\n\(analysis.workloadRunsLine(workload))\n\n"
            out += analysis.statsTable(workload).markdown()
            if let ratios = analysis.ratioTable(workload) {
                out += "\nRatios of medians [95% CI]\n\n" + ratios.markdown()
            }
        }
        if let ladder = analysis.ladderTable, let workload = analysis.ladderWorkload {
            out += "\n## Ladder (\(workload)): every arm, from a bare process to a full VM\n\n" + ladder.markdown()
        }
        if let phases = analysis.phaseTable { out += "\n## VM boot phases\n\n" + phases.markdown() }
        if let images = analysis.imageTable { out += "\n## Image sizes\n\n" + images.markdown() }
        if let density = analysis.densityTable { out += "\n## Density\n\n" + density.markdown() }
        if let failures = analysis.failuresTable {
            out += "\n## Failures (excluded from statistics)\n\n" + failures.markdown()
        }
        if !analysis.document.notes.isEmpty {
            out += "\n## Notes\n\n" + analysis.document.notes.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// Both medians, the ratio, the verdict against the tolerance and how they were sampled.
func calibrationText(_ c: Calibration) -> String {
    let tolerance = Int(((c.tolerance ?? 0.10) * 100).rounded())
    let verdict = "\(c.withinTolerance ? "within" : "OUTSIDE") ±\(tolerance) %"
    let medians =
        "harness native hello \(NumberText.number(c.harnessMedianMs)) ms vs hyperfine -N "
        + "\(NumberText.number(c.hyperfineMedianMs)) ms (medians)"
    guard let rounds = c.rounds, let runs = c.runsPerSide, let r = c.roundRatios?.sorted(), let low = r.first,
        let high = r.last
    else { return medians + ": ×\(NumberText.number(c.ratio)), \(verdict)" }
    return medians
        + ": ×\(NumberText.number(c.ratio)) median of \(rounds) interleaved rounds' ratios (range "
        + "\(NumberText.number(low))–\(NumberText.number(high)); ×\(NumberText.number(c.pooledRatio ?? .nan)) "
        + "of the two medians), \(verdict); \(runs) runs each"
}
