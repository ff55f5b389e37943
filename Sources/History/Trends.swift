import Foundation
import Stats

/// Which way is worse for a metric: throughputs (`_per_s`) drop, everything else (times, bytes) grows.
public enum Direction: String, Sendable, Codable {
    case lowerIsBetter, higherIsBetter

    public init(metric: String) {
        self = metric.hasSuffix("_per_s") ? .higherIsBetter : .lowerIsBetter
    }
}

/// One run's figure in a trend: the median of its samples with a bootstrap interval.
public struct TrendPoint: Sendable, Equatable, Codable {
    public var runID: Int64
    public var startedAt: String
    public var label: String?
    public var n: Int
    public var median: Double
    /// 95% percentile-bootstrap interval of the median (nil below five samples).
    public var lower: Double?
    public var upper: Double?
}

/// A series over time with its change points.
public struct Trend: Sendable, Equatable, Codable {
    public var key: SeriesKey
    public var points: [TrendPoint]
    public var changePoints: [ChangePoint]
    public var direction: Direction

    /// Medians per run, intervals from a seed derived from the series so the same history gives the same figures.
    public init(key: SeriesKey, points raw: [SeriesPoint], options: ChangePointOptions = ChangePointOptions()) {
        self.key = key
        self.direction = Direction(metric: key.metric)
        let seed = stableHash(key.label)
        self.points = raw.map { p in
            let sorted = p.values.sorted()
            let ci = Bootstrap.medianInterval(sorted: sorted, options: BootstrapOptions(resamples: 1000, seed: seed))
            return TrendPoint(
                runID: p.runID, startedAt: p.startedAt, label: p.label, n: sorted.count,
                median: median(sorted: sorted), lower: ci?.lower, upper: ci?.upper)
        }
        self.changePoints = EDivisive.detect(points.map(\.median), options: options)
    }

    /// True when the change at `cp` makes the metric worse.
    public func isRegression(_ cp: ChangePoint) -> Bool {
        direction == .lowerIsBetter ? cp.meanAfter > cp.meanBefore : cp.meanAfter < cp.meanBefore
    }
}

public struct GateOptions: Sendable, Equatable {
    /// Smallest relative change of the median that counts (0.10 = 10 %).
    public var threshold: Double
    /// Permutation-test p-value below which a difference is real.
    public var alpha: Double
    /// The newest runs that must each show the change (1: the newest alone).
    public var confirm: Int
    /// Most earlier runs pooled as the baseline (those since the last change point, at most this many).
    public var baselineRuns: Int
    public var permutations: Int

    public init(
        threshold: Double = 0.10, alpha: Double = 0.01, confirm: Int = 1, baselineRuns: Int = 10,
        permutations: Int = 10_000
    ) {
        self.threshold = threshold
        self.alpha = alpha
        self.confirm = confirm
        self.baselineRuns = baselineRuns
        self.permutations = permutations
    }
}

/// The gate's finding for one series.
public struct GateFinding: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case regression, improvement, unchanged, noBaseline }
    public var key: SeriesKey
    public var verdict: Verdict
    public var baselineRuns: [Int64]
    public var candidateRuns: [Int64]
    public var baselineMedian: Double?
    /// The candidate runs' medians relative to the baseline's (−0.2 = 20 % lower), and the largest p-value of those
    /// beyond the threshold (nil: none was, so none was tested).
    public var relativeChanges: [Double]
    public var pValue: Double?
    /// True when the sample counts cannot give p below alpha whatever the data (too few samples to gate on).
    public var underpowered: Bool = false
}

/// Newest runs against the stable stretch before them: a regression is a change beyond the threshold, in the
/// worse direction, that a permutation test of the raw samples confirms in each of the `confirm` newest runs.
public enum Gate {
    public static func evaluate(_ key: SeriesKey, raw: [SeriesPoint], newestRunIDs: Set<Int64>, options: GateOptions)
        -> GateFinding?
    {
        let direction = Direction(metric: key.metric)
        let candidates = raw.suffix(options.confirm)
        // Only series the newest run took part in are judged.
        guard candidates.count == options.confirm, candidates.allSatisfy({ newestRunIDs.contains($0.runID) }) else {
            return nil
        }
        let earlier = Array(raw.dropLast(options.confirm))
        var finding = GateFinding(
            key: key, verdict: .noBaseline, baselineRuns: [], candidateRuns: candidates.map(\.runID),
            baselineMedian: nil, relativeChanges: [], pValue: nil)
        guard !earlier.isEmpty else { return finding }
        // The baseline starts after the last change point among the recent earlier runs (a window ten times the
        // baseline's size: older shifts cannot move it).
        let recent = Array(earlier.suffix(options.baselineRuns * 10))
        let lastChange = EDivisive.detect(recent.map { median(sorted: $0.values.sorted()) }).last?.index ?? 0
        let baseline = Array(recent[lastChange...].suffix(options.baselineRuns))
        let pooled = baseline.flatMap(\.values)
        let baseMedian = median(sorted: pooled.sorted())
        finding.baselineRuns = baseline.map(\.runID)
        // The most extreme of C(n+m, n) relabellings, counted on both sides, is p = 2 / C(n+m, n) at best.
        finding.underpowered = candidates.contains { c in
            2 / binomial(c.values.count + pooled.count, c.values.count) >= options.alpha
        }
        finding.baselineMedian = baseMedian
        var worst: Double?
        var directions: Set<Bool> = []
        var allBeyond = true
        for (i, c) in candidates.enumerated() {
            let m = median(sorted: c.values.sorted())
            let change = baseMedian == 0 ? 0 : (m - baseMedian) / abs(baseMedian)
            finding.relativeChanges.append(change)
            // A change below the threshold passes whatever its p-value: no need to test it.
            var p = 1.0
            if abs(change) >= options.threshold {
                p =
                    PermutationTest.medianDifference(
                        c.values, pooled, permutations: options.permutations,
                        seed: stableHash(key.label) &+ UInt64(i)) ?? 1
                worst = max(worst ?? 0, p)
            }
            let worse = direction == .lowerIsBetter ? change > 0 : change < 0
            directions.insert(worse)
            if abs(change) < options.threshold || p >= options.alpha { allBeyond = false }
        }
        finding.pValue = worst
        if allBeyond && directions.count == 1 {
            finding.verdict = directions.first! ? .regression : .improvement
        } else {
            finding.verdict = .unchanged
        }
        return finding
    }
}

/// C(n, k) as a Double (exact for the small values that matter here, +inf-safe for large ones).
func binomial(_ n: Int, _ k: Int) -> Double {
    guard k >= 0, k <= n else { return 0 }
    var result = 1.0
    for i in 0..<min(k, n - k) { result = result * Double(n - i) / Double(i + 1) }
    return result
}
