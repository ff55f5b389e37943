import Foundation
import Testing

@testable import Stats

@Suite("Descriptive statistics")
struct DescriptiveTests {
    // numpy 2.x: [np.percentile(x, p) for p in (0, 10, 25, 50, 90, 99, 100)], np.quantile(x, 0.375)
    // with x = [1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.5, 12.0]
    @Test func percentilesMatchNumpyLinear() {
        let x = [1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.5, 12.0]
        let expected: [(Double, Double)] = [
            (0, 1.1), (10, 2.2), (25, 3.85), (50, 6.6), (90, 10.5), (99, 11.850000000000001), (100, 12.0),
        ]
        for (p, value) in expected {
            #expect(abs(percentile(sorted: x, p) - value) < 1e-12, "p\(p)")
        }
        #expect(abs(quantile(sorted: x, 0.375) - 5.225) < 1e-12)
    }

    // numpy/scipy on d = [3.1, 2.7, 9.8, 4.4, 4.4, 1.0, 5.6, 2.2]:
    // np.median(d) 3.75, np.mean(d) 4.15, np.std(d, ddof=1) 2.7013224274682313,
    // scipy.stats.median_abs_deviation(d) 1.2999999999999998, np.percentile(d, 90) 6.859999999999999,
    // np.percentile(d, 99) 9.506
    @Test func summaryMatchesNumpy() throws {
        let d = [3.1, 2.7, 9.8, 4.4, 4.4, 1.0, 5.6, 2.2]
        let s = try #require(Summary(d))
        #expect(s.count == 8)
        #expect(s.min == 1.0)
        #expect(s.max == 9.8)
        #expect(abs(s.median - 3.75) < 1e-12)
        #expect(abs(s.mean - 4.15) < 1e-12)
        #expect(abs(s.standardDeviation - 2.7013224274682313) < 1e-12)
        #expect(abs(s.medianAbsoluteDeviation - 1.2999999999999998) < 1e-12)
        #expect(abs(s.p90 - 6.859999999999999) < 1e-12)
        #expect(abs(s.p99 - 9.506) < 1e-12)
    }

    @Test func edgeCases() throws {
        #expect(Summary([]) == nil)
        let one = try #require(Summary([42]))
        #expect(one.median == 42 && one.p99 == 42 && one.medianAbsoluteDeviation == 0)
        #expect(one.standardDeviation.isNaN)
        #expect(quantile(sorted: [], 0.5).isNaN)
        #expect(quantile(sorted: [1, .infinity, .infinity], 0.9) == .infinity)
    }
}

@Suite("SplitMix64")
struct SplitMixTests {
    // Reference outputs of Vigna's splitmix64.c for seed 1234567 (also reproduced in Python).
    @Test func matchesReferenceStream() {
        var g = SplitMix64(seed: 1_234_567)
        let expected: [UInt64] = [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ]
        #expect((0..<5).map { _ in g.next() } == expected)
    }

    @Test func boundedIndexIsInRangeAndRoughlyUniform() {
        var g = SplitMix64(seed: 9)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[g.nextIndex(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        for _ in 0..<1000 {
            let u = g.nextOpenUnit()
            #expect(u > 0 && u < 1)
        }
    }
}

@Suite("Bootstrap")
struct BootstrapTests {
    /// P(k-th smallest of n iid uniform indices ≤ j) = P(Binomial(n, (j+1)/n) ≥ k), computed directly.
    func exactOrderStatisticCDF(n: Int, k: Int, j: Int) -> Double {
        let p = Double(j + 1) / Double(n)
        var total = 0.0
        for successes in k...n {
            var coefficient = 1.0
            for i in 0..<successes { coefficient = coefficient * Double(n - i) / Double(i + 1) }
            total += coefficient * pow(p, Double(successes)) * pow(1 - p, Double(n - successes))
        }
        return total
    }

    @Test func oddCountMedianDistributionMatchesExactOrderStatistics() {
        let n = 11
        let values = (0..<n).map { Double($0) }
        let draws = 40_000
        let medians = Bootstrap.medianDistribution(sorted: values, resamples: draws, seed: 7)
        var counts = [Int](repeating: 0, count: n)
        for m in medians { counts[Int(m)] += 1 }
        var cumulative = 0
        for j in 0..<n {
            cumulative += counts[j]
            let expected = exactOrderStatisticCDF(n: n, k: 6, j: j)
            // 4 standard errors of an empirical CDF with 40 000 draws is at most 0.01.
            #expect(abs(Double(cumulative) / Double(draws) - expected) < 0.01, "j=\(j)")
        }
    }

    /// Number of values ≤ point in an ascending array, by binary search.
    func countAtMost(_ sorted: [Double], _ point: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] <= point { low = mid + 1 } else { high = mid }
        }
        return low
    }

    @Test func evenCountMedianDistributionMatchesNaiveResampling() {
        // Powers of two so every midpoint of two values is distinct.
        let values = (0..<10).map { pow(2.0, Double($0)) }
        let draws = 40_000
        let fast = Bootstrap.medianDistribution(sorted: values, resamples: draws, seed: 11).sorted()
        var generator = SplitMix64(seed: 99)
        var naive: [Double] = []
        for _ in 0..<draws {
            let resample = (0..<values.count).map { _ in values[generator.nextIndex(below: values.count)] }.sorted()
            naive.append(median(sorted: resample))
        }
        naive.sort()
        // Two-sample Kolmogorov–Smirnov distance; the 0.001 critical value here is ≈ 0.0138.
        var distance = 0.0
        for point in Set(fast + naive) {
            let f = Double(countAtMost(fast, point)) / Double(draws)
            let g = Double(countAtMost(naive, point)) / Double(draws)
            distance = Swift.max(distance, abs(f - g))
        }
        #expect(distance < 0.0138, "KS distance \(distance)")
    }

    @Test func medianIntervalWidthMatchesAsymptoticStandardError() throws {
        // Standard normal sample: SE(median) ≈ √(π/2)/√n, so the 95% width ≈ 2·1.96·1.2533/√n.
        var generator = SplitMix64(seed: 3)
        let n = 10_001
        let sample = (0..<n).map { _ in Bootstrap.standardNormal(&generator) }.sorted()
        let interval = try #require(Bootstrap.medianInterval(sorted: sample, options: .init(seed: 5)))
        let expectedWidth = 2 * 1.96 * 1.2533 / Double(n).squareRoot()
        #expect(abs((interval.upper - interval.lower) / expectedWidth - 1) < 0.15)
        #expect(interval.contains(median(sorted: sample)))
        #expect(interval.contains(0))
    }

    @Test func seededAndReproducible() {
        let values = (1...50).map { Double($0 * $0 % 37) }.sorted()
        let a = Bootstrap.medianInterval(sorted: values, options: .init(seed: 42))
        let b = Bootstrap.medianInterval(sorted: values, options: .init(seed: 42))
        #expect(a == b)
        let first = Bootstrap.medianDistribution(sorted: values, resamples: 200, seed: 42)
        let other = Bootstrap.medianDistribution(sorted: values, resamples: 200, seed: 43)
        #expect(first != other)
    }

    @Test func ratioIntervalBracketsTheTrueRatio() throws {
        var generator = SplitMix64(seed: 8)
        let denominator = (0..<400).map { _ in 10 + Bootstrap.standardNormal(&generator) }.sorted()
        let numerator = (0..<400).map { _ in 30 + 3 * Bootstrap.standardNormal(&generator) }.sorted()
        let interval = try #require(
            Bootstrap.ratioOfMediansInterval(
                numeratorSorted: numerator, denominatorSorted: denominator, options: .init(seed: 1)))
        #expect(interval.contains(3.0))
        #expect(interval.lower > 2.7 && interval.upper < 3.3)
    }

    @Test func tooFewValuesOrZeroDenominatorGiveNoInterval() {
        #expect(Bootstrap.medianInterval(sorted: [1, 2, 3, 4], options: .init(seed: 1)) == nil)
        #expect(
            Bootstrap.ratioOfMediansInterval(
                numeratorSorted: [1, 2, 3, 4, 5], denominatorSorted: [0, 0, 0, 0, 0], options: .init(seed: 1)) == nil)
    }
}

@Suite("Outliers")
struct OutlierTests {
    @Test func flagsByModifiedZScoreAndKeepsOrder() {
        // median 10, MAD 1 ⇒ M = 0.6745·(x − 10); 16 gives 4.05 > 3.5, 15 gives 3.37 (kept unflagged).
        let values = [10, 9, 11, 16, 10, 15, 9, 11, 10, 4.0]
        #expect(Outliers.indices(in: values) == [3, 9])
        let scores = Outliers.modifiedZScores(values, median: 10, mad: 1)
        #expect(abs(scores[3] - 4.047) < 1e-9)
    }

    @Test func zeroMADFallsBackToMeanAbsoluteDeviation() {
        let values = [5, 5, 5, 5, 5, 5, 500.0]
        #expect(Outliers.indices(in: values) == [6])
        #expect(Outliers.indices(in: [3, 3, 3]).isEmpty)
    }
}

@Suite("Mann–Whitney U")
struct MannWhitneyTests {
    // Each literal from scipy 1.17.1:
    // scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    @Test(
        arguments: [
            // a vs b (no ties) → statistic 6.0, pvalue 0.0006371948724634316
            (
                [12.1, 14.3, 11.8, 15.2, 13.3, 12.9, 14.8, 13.9, 12.5, 16.1],
                [15.5, 16.2, 14.9, 17.8, 16.6, 18.1, 15.9, 17.2, 16.8, 15.1, 19.0], 6.0, 0.0006371948724634316
            ),
            // b vs a → statistic 104.0, same p
            (
                [15.5, 16.2, 14.9, 17.8, 16.6, 18.1, 15.9, 17.2, 16.8, 15.1, 19.0],
                [12.1, 14.3, 11.8, 15.2, 13.3, 12.9, 14.8, 13.9, 12.5, 16.1], 104.0, 0.0006371948724634316
            ),
            // heavy ties: [1,2,2,3,3,3,4,5] vs [3,3,4,4,5,6,6,7,8] → 10.5, 0.01442744938140461
            ([1, 2, 2, 3, 3, 3, 4, 5], [3, 3, 4, 4, 5, 6, 6, 7, 8], 10.5, 0.01442744938140461),
            // tiny: [1,2,3] vs [4,5,6] → 0.0, 0.08085559837005224
            ([1, 2, 3], [4, 5, 6], 0.0, 0.08085559837005224),
            // all tied: [2,2,2] vs [2,2,2] → 4.5, 1.0
            ([2, 2, 2], [2, 2, 2], 4.5, 1.0),
        ] as [([Double], [Double], Double, Double)])
    func matchesScipy(x: [Double], y: [Double], u: Double, p: Double) throws {
        let result = try #require(MannWhitney.test(x, y))
        #expect(result.u == u)
        #expect(abs(result.pValue - p) <= 1e-12 * max(1, p))
    }

    @Test func emptySampleHasNoResult() {
        #expect(MannWhitney.test([], [1]) == nil)
    }
}
