import Foundation
import Results
import Stats

public struct CompareOptions: Sendable {
    /// Relative change of the median that counts, as a fraction (0.10 = 10%).
    public var threshold: Double
    /// Metric names to compare; nil compares every metric both documents share.
    public var metrics: [String]?
    public var seed: UInt64
    public var resamples: Int
    /// The test's p below this makes a change significant.
    public var significance: Double
    public var test: SignificanceTest

    /// Mann–Whitney U for two results files; a permutation test of the medians for two arms of one run (A/B).
    public enum SignificanceTest: String, Sendable {
        case mannWhitney = "Mann–Whitney"
        case permutation = "permutation test"
    }

    public init(
        threshold: Double = 0.10, metrics: [String]? = nil, seed: UInt64 = 0xB0B_BE4C, resamples: Int = 2000,
        significance: Double = 0.05, test: SignificanceTest = .mannWhitney
    ) {
        self.test = test
        self.threshold = threshold
        self.metrics = metrics
        self.seed = seed
        self.resamples = resamples
        self.significance = significance
    }
}

/// Inputs that cannot be compared; the CLI exits 2 with `description`.
public enum CompareError: Error, CustomStringConvertible, Equatable {
    case differentSchema(baseline: String, new: String)
    case differentHostClass(baseline: String, new: String)
    case unknownMetrics([String], valid: [String])
    case nothingInCommon
    case unknownArm(String, valid: [String])

    public var description: String {
        switch self {
        case .unknownArm(let arm, let valid):
            "cannot compare: the run has no arm \(arm) (arms: \(valid.joined(separator: ", ")))"
        case .differentSchema(let baseline, let new):
            "cannot compare: the baseline uses results schema \"\(baseline)\" and the new run \"\(new)\""
        case .differentHostClass(let baseline, let new):
            "cannot compare: the baseline was measured on \"\(baseline)\" and the new run on \"\(new)\"; timings from different machine classes are not comparable — record a baseline on this machine class"
        case .unknownMetrics(let names, let valid):
            "cannot compare: no samples in either file have metric \(names.map { "\"\($0)\"" }.joined(separator: ", ")); the files have \(valid.joined(separator: ", "))"
        case .nothingInCommon:
            "cannot compare: the two files share no workload × arm × metric with successful samples"
        }
    }
}

public enum ChangeClass: String, Sendable {
    case regression
    case improvement
    case unchanged = "no significant change"
}

/// One workload × arm × metric in both documents.
public struct MetricChange: Sendable {
    public let workload: String
    public let armKey: String
    public let metric: Metric
    public let baselineCount: Int
    public let newCount: Int
    public let baselineMedian: Double
    public let newMedian: Double
    /// new ÷ baseline − 1.
    public let change: Double
    public let changeInterval: ConfidenceInterval?
    public let pValue: Double
    public let classification: ChangeClass
}

public struct CompareOutcome: Sendable {
    /// 1 when any change is a regression (beyond threshold, p < significance, worse direction); else 0.
    public let exitCode: Int32
    public let changes: [MetricChange]
    /// Keys present in only one document, listed so nothing disappears silently.
    public let onlyInBaseline: [String]
    public let onlyInNew: [String]
    public let markdown: String
    public let terminal: String
    /// Comparisons whose sample counts can never give p < significance (e.g. 1 new sample against 5: the smallest
    /// two-sided Mann–Whitney p is 0.33): such a gate cannot fail, so it is said, and `--strict` refuses it.
    public let underpowered: [MetricChange]
    public let json: String
}

/// The smallest two-sided p an exact Mann–Whitney test can give with these sample counts (no ties): 2 ÷ C(n+m, n).
public func smallestMannWhitneyP(_ n: Int, _ m: Int) -> Double {
    guard n > 0, m > 0 else { return 1 }
    var combinations = 1.0
    for i in 0..<min(n, m) { combinations = combinations * Double(n + m - i) / Double(i + 1) }
    return min(1, 2 / combinations)
}

public func compareResults(baseline: ResultsDocument, new: ResultsDocument, options: CompareOptions = CompareOptions())
    throws -> CompareOutcome
{
    guard baseline.schema == new.schema else {
        throw CompareError.differentSchema(baseline: baseline.schema, new: new.schema)
    }
    guard baseline.host.hostClass == new.host.hostClass else {
        throw CompareError.differentHostClass(baseline: baseline.host.hostClass, new: new.host.hostClass)
    }
    let wanted = options.metrics.map(Set.init)
    let baselineGroups = MetricGroups(baseline, metrics: wanted)
    let newGroups = MetricGroups(new, metrics: wanted)
    if let wanted {
        let seen = baselineGroups.metricNames.union(newGroups.metricNames)
        let unknown = wanted.subtracting(seen).sorted()
        if !unknown.isEmpty { throw CompareError.unknownMetrics(unknown, valid: seen.sorted()) }
    }
    let commonKeys = Set(baselineGroups.values.keys).intersection(newGroups.values.keys)
    guard !commonKeys.isEmpty else { throw CompareError.nothingInCommon }

    var changes: [MetricChange] = []
    for key in commonKeys.sorted() {
        let before = baselineGroups.values[key]!.sorted()
        let after = newGroups.values[key]!.sorted()
        let metric = Metric.named(key.metric)
        let baselineMedian = median(sorted: before)
        let newMedian = median(sorted: after)
        let change = baselineMedian != 0 ? newMedian / baselineMedian - 1 : (newMedian == 0 ? 0 : .infinity)
        let seed = options.seed ^ stableHash("\(key.workload)\u{1F}\(key.armKey)\u{1F}\(key.metric)")
        let ratio = Bootstrap.ratioOfMediansInterval(
            numeratorSorted: after, denominatorSorted: before,
            options: BootstrapOptions(resamples: options.resamples, seed: seed))
        let interval = ratio.map { ConfidenceInterval(lower: $0.lower - 1, upper: $0.upper - 1, level: $0.level) }
        let p: Double
        switch options.test {
        case .mannWhitney: p = MannWhitney.test(sortedX: before, sortedY: after)?.pValue ?? 1
        case .permutation:
            // Below the threshold the verdict is "unchanged" whatever p is: spare the 10 000 relabellings.
            p =
                abs(change) > options.threshold
                ? PermutationTest.medianDifference(before, after, permutations: 10_000, seed: seed) ?? 1 : 1
        }
        let worse = metric.lowerIsBetter ? change > 0 : change < 0
        let classification: ChangeClass
        if abs(change) > options.threshold && p < options.significance {
            classification = worse ? .regression : .improvement
        } else {
            classification = .unchanged
        }
        changes.append(
            MetricChange(
                workload: key.workload, armKey: key.armKey, metric: metric, baselineCount: before.count,
                newCount: after.count, baselineMedian: baselineMedian, newMedian: newMedian, change: change,
                changeInterval: interval, pValue: p, classification: classification))
    }
    let onlyInBaseline = Set(baselineGroups.values.keys).subtracting(commonKeys).sorted().map(\.description)
    let onlyInNew = Set(newGroups.values.keys).subtracting(commonKeys).sorted().map(\.description)
    let exitCode: Int32 = changes.contains { $0.classification == .regression } ? 1 : 0
    let report = CompareReport(
        baseline: baseline, new: new, options: options, changes: changes, onlyInBaseline: onlyInBaseline,
        onlyInNew: onlyInNew, failed: (baselineGroups.failed, newGroups.failed))
    return CompareOutcome(
        exitCode: exitCode, changes: changes, onlyInBaseline: onlyInBaseline, onlyInNew: onlyInNew,
        markdown: report.markdown(), terminal: report.terminal(), underpowered: report.underpowered,
        json: report.json())
}

/// Successful sample values per workload × arm × metric.
struct MetricGroups {
    struct Key: Hashable, Comparable, CustomStringConvertible {
        let workload: String
        let armKey: String
        let metric: String
        static func < (a: Key, b: Key) -> Bool {
            (a.workload, a.armKey, a.metric) < (b.workload, b.armKey, b.metric)
        }
        var description: String { "\(workload)/\(armKey)/\(metric)" }
    }

    var values: [Key: [Double]] = [:]
    var metricNames = Set<String>()
    var failed = 0

    init(_ doc: ResultsDocument, metrics: Set<String>?) {
        doc.forEachSample { sample in
            guard sample.pointee.status == .ok else {
                failed += 1
                return
            }
            let workload = sample.pointee.workload
            let armKey = sample.pointee.arm
            func add(_ name: String, _ value: Double) {
                guard value.isFinite else { return }
                metricNames.insert(name)
                if let metrics, !metrics.contains(name) { return }
                values[Key(workload: workload, armKey: armKey, metric: name), default: []].append(value)
            }
            sample.pointee.measurements.forEachValue(
                typed: { add(Measurements.typedMetricNames[$0], $1) }, workload: { add("work_" + $0, $1) })
        }
    }
}

struct CompareReport {
    let baseline: ResultsDocument
    let new: ResultsDocument
    let options: CompareOptions
    let changes: [MetricChange]
    let onlyInBaseline: [String]
    let onlyInNew: [String]
    let failed: (baseline: Int, new: Int)

    var regressions: [MetricChange] { changes.filter { $0.classification == .regression } }
    var underpowered: [MetricChange] {
        changes.filter { smallestMannWhitneyP($0.baselineCount, $0.newCount) >= options.significance }
    }

    /// The warning for comparisons that can never be significant, or nil.
    var underpoweredLine: String? {
        guard let first = underpowered.first else { return nil }
        let p = smallestMannWhitneyP(first.baselineCount, first.newCount)
        return
            "warning: \(underpowered.count) of \(changes.count) comparisons can never reach p < \(NumberText.number(options.significance)) with their sample counts (e.g. \(first.workload)/\(first.armKey)/\(first.metric.name): \(first.baselineCount) baseline vs \(first.newCount) new samples, smallest possible p \(String(format: "%.2f", p))): run more repetitions"
    }

    /// "hello: container/startup_exit_ms, vm/…" — one line per workload instead of one long list.
    static func grouped(_ keys: [String]) -> [String] {
        var order: [String] = []
        var byWorkload: [String: [String]] = [:]
        for key in keys {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            let workload = parts[0]
            if byWorkload[workload] == nil { order.append(workload) }
            byWorkload[workload, default: []].append(parts.count > 1 ? parts[1] : "")
        }
        return order.map { "\($0): " + byWorkload[$0]!.joined(separator: ", ") }
    }

    func json() -> String {
        struct Change: Encodable {
            var workload, arm, metric, classification: String
            var baselineMedian, newMedian, change: Double
            var changeLower, changeUpper: Double?
            var p: Double
            var baselineCount, newCount: Int
            var smallestPossibleP: Double
        }
        struct Document: Encodable {
            var exitCode: Int32
            var verdict: String
            var threshold, significance: Double
            var changes: [Change]
            var onlyInBaseline, onlyInNew: [String]
            var underpowered: Int
        }
        let doc = Document(
            exitCode: regressions.isEmpty ? 0 : 1, verdict: verdictLine, threshold: options.threshold,
            significance: options.significance,
            changes: changes.map { c in
                Change(
                    workload: c.workload, arm: c.armKey, metric: c.metric.name,
                    classification: c.classification.rawValue,
                    baselineMedian: c.baselineMedian, newMedian: c.newMedian, change: c.change,
                    changeLower: c.changeInterval?.lower, changeUpper: c.changeInterval?.upper, p: c.pValue,
                    baselineCount: c.baselineCount, newCount: c.newCount,
                    smallestPossibleP: smallestMannWhitneyP(c.baselineCount, c.newCount))
            }, onlyInBaseline: onlyInBaseline, onlyInNew: onlyInNew, underpowered: underpowered.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Non-finite values (a 0 median) have no JSON form: written as strings.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? encoder.encode(doc)) ?? Data(), as: UTF8.self) + "\n"
    }
    var improvements: [MetricChange] { changes.filter { $0.classification == .improvement } }

    var verdictLine: String {
        let rule =
            "regression = worse by more than \(NumberText.number(options.threshold * 100))% with \(options.test.rawValue) p < \(NumberText.number(options.significance))"
        if regressions.isEmpty {
            return
                "No regressions in \(NumberText.count(changes.count, "comparison")) (\(NumberText.count(improvements.count, "improvement"))); \(rule)."
        }
        return
            "\(NumberText.count(regressions.count, "regression")) in \(NumberText.count(changes.count, "comparison")); \(rule)."
    }

    var provenanceLines: [String] {
        [
            "baseline: \(baseline.suite) \(baseline.startedAt), boxbench \(baseline.tool.version) (\(baseline.tool.commit)), \(baseline.samples.count) samples, \(failed.baseline) failed",
            "new: \(new.suite) \(new.startedAt), boxbench \(new.tool.version) (\(new.tool.commit)), \(new.samples.count) samples, \(failed.new) failed",
            "host class: \(new.host.hostClass); change = new ÷ baseline median − 1 with \(options.resamples)-resample bootstrap 95% CI",
        ]
    }

    var table: TextTable {
        var table = TextTable(
            [
                "result", "workload", "arm", "metric", "baseline median", "new median", "change [95% CI]", "p",
                "n (base/new)",
            ],
            numericColumns: [4, 5, 6, 7])
        // Regressions first, then improvements, then the rest: the CI summary shows what matters on top.
        let order: [ChangeClass: Int] = [.regression: 0, .improvement: 1, .unchanged: 2]
        for change in changes.sorted(by: { order[$0.classification]! < order[$1.classification]! }) {
            var changeText = NumberText.percent(change.change)
            if let interval = change.changeInterval {
                changeText += " [\(NumberText.percent(interval.lower)), \(NumberText.percent(interval.upper))]"
            }
            table.append([
                change.classification.rawValue, change.workload, change.armKey, change.metric.name,
                NumberText.quantity(change.baselineMedian, unit: change.metric.unit),
                NumberText.quantity(change.newMedian, unit: change.metric.unit), changeText,
                change.pValue < 0.0001 ? "<0.0001" : String(format: "%.4f", change.pValue),
                "\(change.baselineCount)/\(change.newCount)",
            ])
        }
        return table
    }

    func markdown() -> String {
        var out = "## boxbench compare\n\n"
        out += (regressions.isEmpty ? "✅ " : "❌ ") + verdictLine + "\n\n"
        if let warning = underpoweredLine { out += "⚠️ " + warning + "\n\n" }
        out += provenanceLines.map { "- \($0)" }.joined(separator: "\n") + "\n\n"
        out += table.markdown()
        return out + notCompared(heading: { "\n\($0.capitalizingFirst) (not compared):\n\n" }, item: { "- \($0)" })
    }

    /// What only one side has, one line per workload under a heading per side.
    func notCompared(heading: (String) -> String, item: (String) -> String) -> String {
        var out = ""
        for (title, keys) in [("only in baseline", onlyInBaseline), ("only in new run", onlyInNew)] where !keys.isEmpty
        {
            out += heading(title) + Self.grouped(keys).map(item).joined(separator: "\n") + "\n"
        }
        return out
    }

    func terminal() -> String {
        var out = "boxbench compare\n  " + verdictLine + "\n"
        if let warning = underpoweredLine { out += "  " + warning + "\n" }
        out += provenanceLines.map { "  \($0)" }.joined(separator: "\n") + "\n\n"
        out += table.plain(indent: "  ")
        return out + notCompared(heading: { "\n  \($0) (not compared):\n" }, item: { "    \($0)" })
    }
}

extension String {
    fileprivate var capitalizingFirst: String { prefix(1).uppercased() + dropFirst() }
}

/// github-action-benchmark `customSmallerIsBetter` entries: one per workload × arm × metric median.
/// Metrics where larger is better (throughput, `*_per_s`) are exported as their reciprocal with
/// "1/" in name and unit, so every entry really is smaller-is-better.
public func githubActionBenchmarkJSON(_ doc: ResultsDocument) -> String {
    githubActionBenchmarkJSON(ReportAnalysis(doc))
}

public func githubActionBenchmarkJSON(_ analysis: ReportAnalysis) -> String {
    struct Entry: Encodable {
        let name: String
        let unit: String
        let value: Double
        let range: String?
        let extra: String?
    }
    var entries: [Entry] = []
    for row in analysis.rows {
        for arm in row.arms {
            let accel = analysis.accelByArm[arm.armKey].map { ", accel \($0)" } ?? ""
            let outcome = analysis.outcome(workload: row.workload, armKey: arm.armKey)
            let extra =
                "n=\(arm.summary.count), failed runs=\(outcome?.failed ?? 0), p90=\(CSVExport.number(arm.summary.p90))\(accel)"
            var value = arm.summary.median
            var interval = arm.medianInterval
            var name = "\(row.workload)/\(arm.armKey)/\(row.metric.name)"
            var unit = row.metric.unit
            if !row.metric.lowerIsBetter {
                guard value != 0 else { continue }
                value = 1 / value
                interval = interval.flatMap {
                    $0.lower > 0 ? ConfidenceInterval(lower: 1 / $0.upper, upper: 1 / $0.lower, level: $0.level) : nil
                }
                name = "\(row.workload)/\(arm.armKey)/1/\(row.metric.name)"
                unit = "1/(\(unit))"
            }
            let range = interval.map { "± \(CSVExport.number(max($0.upper - value, value - $0.lower)))" }
            entries.append(Entry(name: name, unit: unit, value: value, range: range, extra: extra))
        }
    }
    let encoder = ResultsStore.encoder()
    guard let data = try? encoder.encode(entries) else { return "[]\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
}

/// A/B within one run: two arms of the same suite run interleaved on the same host (two builds of one runtime or
/// of QEMU, named by `path:`). `baseline` is A, `candidate` B; B's samples are tested against A's with a
/// permutation test of the medians (Firecracker's A/B method) at `options.significance`.
public func compareArms(
    _ doc: ResultsDocument, baseline a: String, candidate b: String, options: CompareOptions
) throws -> CompareOutcome {
    let arms = Array(Set(doc.samples.map(\.arm))).sorted()
    for arm in [a, b] where !arms.contains(arm) { throw CompareError.unknownArm(arm, valid: arms) }
    let label = "\(b) vs \(a)"
    func only(_ arm: String) -> ResultsDocument {
        var d = doc
        d.samples = doc.samples.filter { $0.arm == arm }.map {
            var s = $0
            s.arm = label
            return s
        }
        d.arms = doc.arms.filter { $0.key == arm }.map {
            var r = $0
            r.key = label
            return r
        }
        return d
    }
    return try compareResults(baseline: only(a), new: only(b), options: options)
}
