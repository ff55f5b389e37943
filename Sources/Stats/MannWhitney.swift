#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Two-sided Mann–Whitney U test, normal approximation with tie correction and continuity
/// correction — the same as `scipy.stats.mannwhitneyu(x, y, alternative="two-sided",
/// method="asymptotic", use_continuity=True)`. Chosen over the exact test because it handles ties
/// and large n uniformly; for very small samples (n ≤ 8 each) it is approximate, as in scipy.
public struct MannWhitneyResult: Sendable, Equatable {
    /// U of the first sample (scipy's `statistic`).
    public let u: Double
    /// z of max(U₁, U₂) after the continuity correction; 0 when every value is tied.
    public let z: Double
    public let pValue: Double
}

public enum MannWhitney {
    /// nil when either sample is empty.
    public static func test(_ x: [Double], _ y: [Double]) -> MannWhitneyResult? {
        test(sortedX: x.sorted(), sortedY: y.sorted())
    }

    /// Same test on already ascending-sorted samples: ranks come from one merge, O(n₁ + n₂).
    public static func test(sortedX x: [Double], sortedY y: [Double]) -> MannWhitneyResult? {
        let n1 = x.count
        let n2 = y.count
        guard n1 > 0, n2 > 0 else { return nil }
        var i = 0
        var j = 0
        var rank = 0.0  // ranks assigned so far
        var rankSumX = 0.0
        var tieTerm = 0.0  // Σ(t³ − t) over tie groups
        while i < n1 || j < n2 {
            let value: Double
            if j >= n2 || (i < n1 && x[i] <= y[j]) { value = x[i] } else { value = y[j] }
            var inX = 0
            var inY = 0
            while i < n1 && x[i] == value {
                i += 1
                inX += 1
            }
            while j < n2 && y[j] == value {
                j += 1
                inY += 1
            }
            let tied = Double(inX + inY)
            // The tie group occupies ranks rank+1 … rank+tied; each member gets their mean.
            let averageRank = rank + (tied + 1) / 2
            rankSumX += averageRank * Double(inX)
            tieTerm += tied * tied * tied - tied
            rank += tied
        }
        let a = Double(n1)
        let b = Double(n2)
        let n = a + b
        let u1 = rankSumX - a * (a + 1) / 2
        let mean = a * b / 2
        let variance = a * b / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return MannWhitneyResult(u: u1, z: 0, pValue: 1) }
        let u = Swift.max(u1, a * b - u1)
        let z = (u - mean - 0.5) / variance.squareRoot()
        // 2·P(Z > z) = erfc(z/√2), clipped like scipy.
        let p = Swift.min(1, erfc(z / 2.0.squareRoot()))
        return MannWhitneyResult(u: u1, z: z, pValue: p)
    }
}
