/// Quantile of ascending-sorted values by linear interpolation between closest ranks, the same
/// rule as numpy's default (`np.quantile(x, q, method="linear")`): with h = (n−1)·q,
/// result = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). `q` is in 0...1; empty input gives NaN.
public func quantile(sorted values: [Double], _ q: Double) -> Double {
    precondition((0...1).contains(q), "quantile \(q) outside 0...1")
    guard !values.isEmpty else { return .nan }
    let position = Double(values.count - 1) * q
    let lowerIndex = Int(position.rounded(.down))
    let fraction = position - Double(lowerIndex)
    let lower = values[lowerIndex]
    guard fraction > 0, lowerIndex + 1 < values.count else { return lower }
    let upper = values[lowerIndex + 1]
    // Equal neighbours (including infinities) interpolate to themselves, never to NaN.
    if lower == upper { return lower }
    return lower + fraction * (upper - lower)
}

/// Percentile (0...100) of ascending-sorted values; see `quantile(sorted:_:)` for the rule.
public func percentile(sorted values: [Double], _ p: Double) -> Double {
    quantile(sorted: values, p / 100)
}

/// Median of ascending-sorted values (mean of the two middle values for even counts).
public func median(sorted values: [Double]) -> Double {
    quantile(sorted: values, 0.5)
}

/// Median absolute deviation around the median, unscaled
/// (`scipy.stats.median_abs_deviation(x, scale=1.0)`).
public func medianAbsoluteDeviation(sorted values: [Double], median center: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    var deviations = values.map { abs($0 - center) }
    deviations.sort()
    return median(sorted: deviations)
}

/// Descriptive statistics of one sample. Values must be finite; the caller filters NaN/inf
/// and says how many it removed.
public struct Summary: Sendable, Equatable {
    public let count: Int
    public let min: Double
    public let median: Double
    public let mean: Double
    public let p90: Double
    public let p99: Double
    public let max: Double
    /// Sample standard deviation (divisor n − 1, like `np.std(x, ddof=1)`); NaN when n < 2.
    public let standardDeviation: Double
    /// Unscaled median absolute deviation.
    public let medianAbsoluteDeviation: Double

    /// Sorts once and derives everything from the sorted copy; nil for an empty sample.
    public init?(_ values: [Double]) {
        self.init(sorted: values.sorted())
    }

    public init?(sorted values: [Double]) {
        guard let first = values.first, let last = values.last else { return nil }
        count = values.count
        min = first
        max = last
        median = Stats.median(sorted: values)
        p90 = quantile(sorted: values, 0.90)
        p99 = quantile(sorted: values, 0.99)
        let mean = values.reduce(0, +) / Double(values.count)
        self.mean = mean
        if values.count > 1 {
            // Two-pass variance: subtracting the mean first avoids catastrophic cancellation.
            let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            standardDeviation = (squares / Double(values.count - 1)).squareRoot()
        } else {
            standardDeviation = .nan
        }
        medianAbsoluteDeviation = Stats.medianAbsoluteDeviation(sorted: values, median: median)
    }
}
