import Foundation
import Results
import Stats

/// Every sample as one CSV row (RFC 4180 quoting), failed ones included with their status.
enum CSVExport {
    static func render(_ doc: ResultsDocument) -> String {
        // One pass collects every metric value with a provisional column (names numbered as they are first
        // seen): one hash per value, and rows written afterwards without hashing again.
        var provisional: [String: Int] = [:]
        var provisionalNames: [String] = []
        var metricCells: [(column: Int, value: Double)] = []
        var rowEnds: [Int] = []
        metricCells.reserveCapacity(doc.samples.count * 12)
        rowEnds.reserveCapacity(doc.samples.count)
        var phaseNames: [String] = []
        var seenPhases = Set<String>()
        // Typed fields map to a column by their index; workload values by their key.
        var typedColumns = [Int?](repeating: nil, count: Measurements.typedMetricNames.count)
        func column(_ name: String) -> Int {
            if let known = provisional[name] { return known }
            provisional[name] = provisionalNames.count
            provisionalNames.append(name)
            return provisionalNames.count - 1
        }
        doc.forEachSample { sample in
            sample.pointee.measurements.forEachValue(
                typed: { field, value in
                    let c = typedColumns[field] ?? column(Measurements.typedMetricNames[field])
                    typedColumns[field] = c
                    metricCells.append((c, value))
                },
                workload: { key, value in metricCells.append((column("work_" + key), value)) })
            rowEnds.append(metricCells.count)
            for phase in sample.pointee.phases where seenPhases.insert(phase.name).inserted {
                phaseNames.append(phase.name)
            }
        }
        let metrics = ReportAnalysis.orderedMetricNames(Set(provisionalNames))
        let finalColumn = Dictionary(uniqueKeysWithValues: metrics.enumerated().map { ($1, $0) })
        let metricColumn = provisionalNames.map { finalColumn[$0]! }
        let fixed = [
            "workload", "arm_key", "repetition", "status", "exit_code", "failure", "arm", "engine", "accel",
            "machine_type", "cgroup_mode", "cache_mode", "started_at", "output_digest",
        ]
        // Column of each phase name, so a row costs one lookup per phase it has, not one per column.
        let phaseColumn = Dictionary(uniqueKeysWithValues: phaseNames.enumerated().map { ($1, $0) })
        var out = ByteWriter(capacity: doc.samples.count * 400)
        out.append((fixed + metrics + phaseNames.map { "phase_\($0)_ms" }).map(quote).joined(separator: ","))
        out.byte(0x0A)
        // Values of the row being written, and which columns have one.
        var metricValues = [Double](repeating: 0, count: metrics.count)
        var metricPresent = [Bool](repeating: false, count: metrics.count)
        var phaseValues = [Double](repeating: 0, count: phaseNames.count)
        var phasePresent = [Bool](repeating: false, count: phaseNames.count)
        var row = 0
        var cell = 0
        let armsByKey = doc.armsByKey
        doc.forEachSample { sample in
            out.cell(sample.pointee.workload, first: true)
            out.cell(sample.pointee.arm)
            out.byte(0x2C)
            out.integer(Int64(sample.pointee.repetition))
            out.cell(sample.pointee.status.rawValue)
            out.byte(0x2C)
            if let code = sample.pointee.exitCode { out.integer(Int64(code)) }
            out.cell(sample.pointee.failure ?? "")
            let arm = armsByKey[sample.pointee.arm]
            out.cell(arm?.kind.rawValue ?? "")
            out.cell(arm?.engine ?? "")
            out.cell(sample.pointee.measurements.vm.accel ?? "")
            out.cell(sample.pointee.measurements.vm.machineType ?? "")
            out.cell(doc.host.cgroupMode)
            out.cell(doc.plan.cacheMode)
            out.cell(sample.pointee.startedAt)
            out.cell(sample.pointee.outputDigest ?? "")
            while cell < rowEnds[row] {
                let column = metricColumn[metricCells[cell].column]
                metricValues[column] = metricCells[cell].value
                metricPresent[column] = true
                cell += 1
            }
            row += 1
            // The first phase of a name, as a lookup by name would find.
            for phase in sample.pointee.phases {
                let column = phaseColumn[phase.name]!
                if !phasePresent[column] {
                    phaseValues[column] = phase.ms
                    phasePresent[column] = true
                }
            }
            // Numbers never need quoting.
            for column in 0..<metricValues.count {
                out.byte(0x2C)
                if metricPresent[column] {
                    out.number(metricValues[column])
                    metricPresent[column] = false
                }
            }
            for column in 0..<phaseValues.count {
                out.byte(0x2C)
                if phasePresent[column] {
                    out.number(phaseValues[column])
                    phasePresent[column] = false
                }
            }
            out.byte(0x0A)
        }
        return out.string()
    }

    static func needsQuoting(_ cell: String) -> Bool {
        cell.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
    }

    /// Shortest round-trip form, so a CSV value reads back as the same Double.
    static func number(_ value: Double) -> String {
        var out = ByteWriter(capacity: 32)
        out.number(value)
        return out.string()
    }

    static func quote(_ cell: String) -> String {
        guard needsQuoting(cell) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Text built as UTF-8 bytes (appending to a `String` costs more per piece than the bytes themselves).
struct ByteWriter {
    private var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// "," (unless first) and the cell, quoted when it needs to be.
    mutating func cell(_ text: String, first: Bool = false) {
        if !first { bytes.append(0x2C) }
        var text = text
        text.withUTF8 { utf8 in
            if !utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(contentsOf: utf8)
                return
            }
            bytes.append(0x22)
            for byte in utf8 {
                if byte == 0x22 { bytes.append(0x22) }
                bytes.append(byte)
            }
            bytes.append(0x22)
        }
    }

    mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(0x2D) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(truncatingIfNeeded: 0x30 &+ magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// Shortest round-trip form (Swift's `description`); integral values below 1e15 without ".0".
    mutating func number(_ value: Double) {
        if value.isNaN {
            append("nan")
        } else if value.isInfinite {
            append(value > 0 ? "inf" : "-inf")
        } else if value == value.rounded(), abs(value) < 1e15 {
            integer(Int64(value))
        } else {
            append(value.description)
        }
    }

    func string() -> String { String(decoding: bytes, as: UTF8.self) }
}

/// Machine-readable summary: statistics, ratios, claims and caveats (not the raw samples).
struct JSONSummary: Encodable {
    static let schema = "boxbench.summary/v1"

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
        let medianCI: ConfidenceInterval?
    }

    struct Ratio: Encodable {
        let workload: String
        let metric: String
        let numerator: String
        let denominator: String
        let value: Double
        let ci: ConfidenceInterval?
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
        let ci: ConfidenceInterval?
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
                metric: $0.metric, measured: $0.measured, ratio: $0.ratio, ci: $0.interval, rule: $0.rule,
                caveats: $0.caveats, evidence: $0.evidence, context: $0.references)
        }
        groups = analysis.rows.flatMap { row in
            row.arms.map { arm in
                let s = arm.summary
                return Group(
                    workload: row.workload, armKey: arm.armKey, metric: row.metric.name, unit: row.metric.unit,
                    lowerIsBetter: row.metric.lowerIsBetter, count: s.count, nonFinite: arm.nonFiniteCount, min: s.min,
                    median: s.median, mean: s.mean, p90: s.p90, p99: s.p99, max: s.max, stddev: s.standardDeviation,
                    mad: s.medianAbsoluteDeviation, outliers: arm.outlierCount, medianCI: arm.medianInterval)
            }
        }
        ratios = analysis.rows.flatMap { row in
            row.ratios.map {
                Ratio(
                    workload: row.workload, metric: row.metric.name, numerator: $0.numeratorArm,
                    denominator: $0.denominatorArm, value: $0.value, ci: $0.interval)
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
