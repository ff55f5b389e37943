#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One detected change: the series shifts at `index` (the first point of the new segment).
public struct ChangePoint: Sendable, Equatable, Codable {
    public var index: Int
    /// Mean of the segment before and of the segment from `index` on (between the neighbouring change points).
    public var meanBefore: Double
    public var meanAfter: Double
    /// Welch's two-sided p-value of the two segments.
    public var pValue: Double
    public var relativeChange: Double { meanBefore == 0 ? 0 : (meanAfter - meanBefore) / abs(meanBefore) }

}

public struct ChangePointOptions: Sendable, Equatable {
    /// A split is kept only when Welch's test of its two sides gives p below this (Hunter's default 0.001).
    public var maxPValue: Double
    /// Fewest points a segment may have.
    public var minSegment: Int
    /// A change smaller than this fraction of the earlier mean is not reported (noise-sized steps are not news).
    public var minRelativeEffect: Double

    public init(maxPValue: Double = 0.001, minSegment: Int = 3, minRelativeEffect: Double = 0.05) {
        self.maxPValue = maxPValue
        self.minSegment = minSegment
        self.minRelativeEffect = minRelativeEffect
    }
}

/// E-Divisive means (Matteson & James, "A Nonparametric Approach for Multiple Change Point Analysis of Multivariate
/// Data", JASA 2014) with the significance test of Hunter (Fleming et al., "Hunter: Using Change Point Detection to
/// Hunt for Performance Regressions", ICPE 2023): bisect at the split maximising the energy statistic, keep it when
/// Welch's t-test of the two sides is significant, recurse on both sides. Deterministic (no permutations), O(n²) per
/// level.
public enum EDivisive {
    public static func detect(_ series: [Double], options: ChangePointOptions = ChangePointOptions()) -> [ChangePoint] {
        var splits: [Int] = []
        var pending = [(0, series.count)]
        while let (start, end) = pending.popLast() {
            guard let tau = bestSplit(series, start, end, minSegment: options.minSegment) else { continue }
            let left = Array(series[start..<tau])
            let right = Array(series[tau..<end])
            guard let p = Welch.pValue(left, right), p < options.maxPValue else { continue }
            splits.append(tau)
            pending.append((start, tau))
            pending.append((tau, end))
        }
        splits.sort()
        // Report each split against its neighbouring segments, dropping those below the minimum effect.
        var out: [ChangePoint] = []
        var kept = splits
        var changed = true
        while changed {
            changed = false
            out = []
            for (i, tau) in kept.enumerated() {
                let lo = i == 0 ? 0 : kept[i - 1]
                let hi = i + 1 < kept.count ? kept[i + 1] : series.count
                let before = Array(series[lo..<tau])
                let after = Array(series[tau..<hi])
                let cp = ChangePoint(
                    index: tau, meanBefore: mean(before), meanAfter: mean(after),
                    pValue: Welch.pValue(before, after) ?? 1)
                out.append(cp)
            }
            if let weakest = out.enumerated().filter({ abs($0.element.relativeChange) < options.minRelativeEffect })
                .min(by: { abs($0.element.relativeChange) < abs($1.element.relativeChange) })
            {
                kept.remove(at: weakest.offset)
                changed = true
            }
        }
        return out
    }

    /// The split in `start..<end` maximising Q̂ (α = 1), each side at least `minSegment` long; nil if none fits.
    static func bestSplit(_ x: [Double], _ start: Int, _ end: Int, minSegment: Int) -> Int? {
        let n = end - start
        guard n >= 2 * minSegment, minSegment >= 2 else { return nil }
        // rowLeft[t] = Σ_{i<t} |x_t − x_i|, rowRight[t] = Σ_{j>t} |x_t − x_j| (within the segment).
        var rowLeft = [Double](repeating: 0, count: n)
        var rowRight = [Double](repeating: 0, count: n)
        var total = 0.0
        for a in 0..<n {
            for b in (a + 1)..<n {
                let d = abs(x[start + a] - x[start + b])
                rowRight[a] += d
                rowLeft[b] += d
                total += d
            }
        }
        var within = 0.0  // Σ over pairs both left of t
        var withinRight = total  // Σ over pairs both at or right of t
        var best: (Int, Double)?
        for t in 1..<n {
            within += rowLeft[t - 1]
            withinRight -= rowRight[t - 1]
            let m = Double(t)
            let k = Double(n - t)
            guard t >= minSegment, n - t >= minSegment else { continue }
            let between = total - within - withinRight
            let e = 2 * between / (m * k) - 2 * within / (m * (m - 1)) - 2 * withinRight / (k * (k - 1))
            let q = m * k / (m + k) * e
            if best == nil || q > best!.1 { best = (t, q) }
        }
        return best.map { start + $0.0 }
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
}

/// Welch's unequal-variances t-test.
public enum Welch {
    /// Two-sided p-value; nil when a side has fewer than two points. Both sides constant: 0 if their means differ.
    public static func pValue(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let (ma, va) = meanVariance(a)
        let (mb, vb) = meanVariance(b)
        let na = Double(a.count)
        let nb = Double(b.count)
        let se2 = va / na + vb / nb
        if se2 == 0 { return ma == mb ? 1 : 0 }
        let t = (ma - mb) / se2.squareRoot()
        let df = se2 * se2 / ((va / na) * (va / na) / (na - 1) + (vb / nb) * (vb / nb) / (nb - 1))
        return StudentT.twoSidedP(t: t, df: df)
    }

    static func meanVariance(_ v: [Double]) -> (Double, Double) {
        let m = v.reduce(0, +) / Double(v.count)
        let ss = v.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (m, ss / Double(v.count - 1))
    }
}

/// Student's t distribution through the regularized incomplete beta function (Numerical Recipes' continued fraction).
public enum StudentT {
    public static func twoSidedP(t: Double, df: Double) -> Double {
        guard t.isFinite, df > 0 else { return t.isFinite ? 1 : 0 }
        return min(1, max(0, incompleteBeta(a: df / 2, b: 0.5, x: df / (df + t * t))))
    }

    /// I_x(a, b).
    public static func incompleteBeta(a: Double, b: Double, x: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(a: a, b: b, x: x) / a }
        return 1 - front * continuedFraction(a: b, b: a, x: 1 - x) / b
    }

    static func continuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            var aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-14 { break }
        }
        return h
    }
}

/// Two-sample permutation test of the difference of medians (Firecracker's A/B test uses a permutation test).
public enum PermutationTest {
    /// Two-sided p-value with `permutations` random relabellings (seeded: the same inputs give the same p).
    public static func medianDifference(_ a: [Double], _ b: [Double], permutations: Int = 10_000, seed: UInt64)
        -> Double?
    {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        func med(_ v: ArraySlice<Double>) -> Double { median(sorted: v.sorted()) }
        var pooled = a + b
        let observed = abs(med(pooled[..<a.count]) - med(pooled[a.count...]))
        var generator = SplitMix64(seed: seed)
        var extreme = 0
        for _ in 0..<permutations {
            // Partial Fisher–Yates: only the first a.count positions need drawing.
            for i in 0..<a.count {
                let j = i + generator.nextIndex(below: pooled.count - i)
                pooled.swapAt(i, j)
            }
            if abs(med(pooled[..<a.count]) - med(pooled[a.count...])) >= observed - 1e-12 * abs(observed) {
                extreme += 1
            }
        }
        return Double(extreme + 1) / Double(permutations + 1)
    }
}
