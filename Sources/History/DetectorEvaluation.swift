import Foundation
import Stats

func pct(_ r: ClosedRange<Double>) -> String {
    "\(String(format: "%g", r.lowerBound * 100))–\(String(format: "%g", r.upperBound * 100))"
}

/// The change-point detector measured on synthetic series with known steps: precision (reported changes that are
/// real) and recall (real changes that are reported), a detection counting when within `tolerance` points.
public struct DetectorEvaluation: Sendable, Equatable, Codable {
    public var series: Int
    public var trueSteps: Int
    public var reported: Int
    public var truePositives: Int
    public var precision: Double
    public var recall: Double
    public var tolerance: Int
    public var description: String

    /// `series` series of 40–120 points, each with 0–3 steps (a fraction of the level drawn from `steps`), noise with a
    /// coefficient of variation drawn from `noise` (Gaussian, 3× in 5 % of points), steps at least 8 points apart.
    public static func run(
        series count: Int = 300, seed: UInt64 = 20_261_202, tolerance: Int = 2,
        steps: ClosedRange<Double> = 0.08...0.40,
        noise: ClosedRange<Double> = 0.01...0.04, options: ChangePointOptions = ChangePointOptions()
    ) -> DetectorEvaluation {
        var g = SplitMix64(seed: seed)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * g.nextOpenUnit() }
        func gaussian() -> Double {
            (-2 * log(g.nextOpenUnit())).squareRoot() * cos(2 * Double.pi * g.nextOpenUnit())
        }
        var trueSteps = 0
        var reported = 0
        var hits = 0
        for _ in 0..<count {
            let n = 40 + g.nextIndex(below: 81)
            let stepCount = g.nextIndex(below: 4)
            var stepIndices: [Int] = []
            var attempts = 0
            while stepIndices.count < stepCount && attempts < 100 {
                attempts += 1
                let s = 8 + g.nextIndex(below: n - 16)
                if stepIndices.allSatisfy({ abs($0 - s) >= 8 }) { stepIndices.append(s) }
            }
            stepIndices.sort()
            var level = uniform(10, 1000)
            let cv = uniform(noise.lowerBound, noise.upperBound)
            var values: [Double] = []
            for i in 0..<n {
                if stepIndices.contains(i) {
                    level *= 1 + (g.nextIndex(below: 2) == 0 ? -1 : 1) * uniform(steps.lowerBound, steps.upperBound)
                }
                var noise = gaussian() * cv
                if g.nextOpenUnit() < 0.05 { noise *= 3 }
                values.append(level * (1 + noise))
            }
            let found = EDivisive.detect(values, options: options).map(\.index)
            trueSteps += stepIndices.count
            reported += found.count
            var unmatched = stepIndices
            for f in found {
                if let j = unmatched.firstIndex(where: { abs($0 - f) <= tolerance }) {
                    unmatched.remove(at: j)
                    hits += 1
                }
            }
        }
        let precision = reported == 0 ? 1 : Double(hits) / Double(reported)
        let recall = trueSteps == 0 ? 1 : Double(hits) / Double(trueSteps)
        return DetectorEvaluation(
            series: count, trueSteps: trueSteps, reported: reported, truePositives: hits, precision: precision,
            recall: recall, tolerance: tolerance,
            description:
                "\(count) synthetic series (40–120 points, 0–3 steps of \(pct(steps)) %, noise CV \(pct(noise)) % with 5 % "
                + "outliers at 3×), detection within ±\(tolerance) points, seed \(seed); detector: E-Divisive means, "
                + "Welch p < \(options.maxPValue), minimum effect \(Int(options.minRelativeEffect * 100)) %, "
                + "segments ≥ \(options.minSegment)")
    }
}
