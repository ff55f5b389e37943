import Foundation
import Results
import Stats

/// Every sample as one CSV row (RFC 4180 quoting), failed ones included with their status.
enum CSVExport {
    static func render(_ doc: ResultsDocument) -> String {
        var metricNames = Set<String>()
        var phaseNames: [String] = []
        var seenPhases = Set<String>()
        for sample in doc.samples {
            metricNames.formUnion(sample.metrics.keys)
            for phase in sample.phases where seenPhases.insert(phase.name).inserted { phaseNames.append(phase.name) }
        }
        let metrics = ReportAnalysis.orderedMetricNames(metricNames)
        let fixed = [
            "workload", "arm_key", "repetition", "status", "exit_code", "failure", "arm", "engine", "accel",
            "machine_type", "cgroup_mode", "cache_mode", "started_at", "output_digest",
        ]
        var out = ""
        out.reserveCapacity(doc.samples.count * 160)
        out += (fixed + metrics + phaseNames.map { "phase_\($0)_ms" }).map(quote).joined(separator: ",") + "\n"
        for sample in doc.samples {
            let p = sample.provenance
            // Cells appended in place (no per-row arrays): 100 000 rows must stay fast.
            appendCell(sample.workload, to: &out, first: true)
            appendCell(sample.armKey, to: &out)
            out += ","
            out += String(sample.repetition)
            appendCell(sample.status.rawValue, to: &out)
            out += ","
            if let code = sample.exitCode { out += String(code) }
            appendCell(sample.failure ?? "", to: &out)
            appendCell(p.arm, to: &out)
            appendCell(p.engine, to: &out)
            appendCell(p.accel ?? "", to: &out)
            appendCell(p.machineType ?? "", to: &out)
            appendCell(p.cgroupMode, to: &out)
            appendCell(p.cacheMode, to: &out)
            appendCell(p.startedAt, to: &out)
            appendCell(sample.outputDigest ?? "", to: &out)
            // Numbers never need quoting.
            for name in metrics {
                out += ","
                if let value = sample.metrics[name] { out += number(value) }
            }
            for name in phaseNames {
                out += ","
                if let phase = sample.phases.first(where: { $0.name == name }) { out += number(phase.ms) }
            }
            out += "\n"
        }
        return out
    }

    /// Appends "," (unless first) and the cell, quoted when it needs to be.
    static func appendCell(_ cell: String, to out: inout String, first: Bool = false) {
        if !first { out += "," }
        if needsQuoting(cell) { out += quote(cell) } else { out += cell }
    }

    static func needsQuoting(_ cell: String) -> Bool {
        cell.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
    }

    /// Shortest round-trip form, so a CSV value reads back as the same Double.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func quote(_ cell: String) -> String {
        guard needsQuoting(cell) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Machine-readable summary: statistics, ratios, claims and caveats (not the raw samples).
struct JSONSummary: Encodable {
    static let schema = "boxbench.summary/v1"

    struct Interval: Encodable {
        let lower: Double
        let upper: Double
        let level: Double
    }

    struct Group: Encodable {
        let workload: String
        let armKey: String
        let metric: String
        let unit: String
        let lowerIsBetter: Bool
        let count: Int
        let nonFinite: Int
        let min: Double
        let median: Double
        let mean: Double
        let p90: Double
        let p99: Double
        let max: Double
        let stddev: Double
        let mad: Double
        let outliers: Int
        let medianCI: Interval?
    }

    struct Ratio: Encodable {
        let workload: String
        let metric: String
        let numerator: String
        let denominator: String
        let value: Double
        let ci: Interval?
    }

    struct Claim: Encodable {
        let id: String
        let claim: String
        let verdict: String
        let notMeasured: Bool
        let reason: String
        let metric: String
        let measured: String
        let ratio: Double?
        let ci: Interval?
        let rule: String
        let caveats: [String]
        let evidence: [String]
        let context: [String]
    }

    struct Outcome: Encodable {
        let workload: String
        let armKey: String
        let ok: Int
        let failed: Int
        let failuresByStatus: [String: Int]
        let firstFailure: String?
    }

    let schema: String
    let suite: String
    let startedAt: String
    let complete: Bool
    let hostClass: String
    let host: HostInfo
    let tool: ToolInfo
    let seed: UInt64
    let accel: [String: String]
    let caveats: [String]
    let claims: [Claim]
    let groups: [Group]
    let ratios: [Ratio]
    let outcomes: [Outcome]

    init(_ analysis: ReportAnalysis) {
        let doc = analysis.document
        func interval(_ ci: ConfidenceInterval?) -> Interval? {
            ci.map { Interval(lower: $0.lower, upper: $0.upper, level: $0.level) }
        }
        schema = Self.schema
        suite = doc.suite
        startedAt = doc.startedAt
        complete = doc.complete
        hostClass = doc.host.hostClass
        host = doc.host
        tool = doc.tool
        seed = doc.seed
        accel = analysis.accelByArm
        caveats = analysis.setupCaveats.map(\.text)
        claims = analysis.claims.map {
            Claim(
                id: $0.id, claim: $0.claim, verdict: $0.verdict.rawValue, notMeasured: $0.notMeasured,
                reason: $0.reason,
                metric: $0.metric, measured: $0.measured, ratio: $0.ratio, ci: interval($0.interval), rule: $0.rule,
                caveats: $0.caveats, evidence: $0.evidence, context: $0.references)
        }
        groups = analysis.rows.flatMap { row in
            row.arms.map { arm in
                let s = arm.summary
                return Group(
                    workload: row.workload, armKey: arm.armKey, metric: row.metric.name, unit: row.metric.unit,
                    lowerIsBetter: row.metric.lowerIsBetter, count: s.count, nonFinite: arm.nonFiniteCount, min: s.min,
                    median: s.median, mean: s.mean, p90: s.p90, p99: s.p99, max: s.max, stddev: s.standardDeviation,
                    mad: s.medianAbsoluteDeviation, outliers: arm.outlierCount, medianCI: interval(arm.medianInterval))
            }
        }
        ratios = analysis.rows.flatMap { row in
            row.ratios.map {
                Ratio(
                    workload: row.workload, metric: row.metric.name, numerator: $0.numeratorArm,
                    denominator: $0.denominatorArm, value: $0.value, ci: interval($0.interval))
            }
        }
        outcomes = analysis.outcomes.map {
            Outcome(
                workload: $0.workload, armKey: $0.armKey, ok: $0.succeeded, failed: $0.failed,
                failuresByStatus: $0.failuresByStatus, firstFailure: $0.firstFailure)
        }
    }

    func render() -> String {
        // NaN (e.g. stddev of one value) is written as the string "nan", as in results files.
        guard let data = try? ResultsStore.encoder().encode(self) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
