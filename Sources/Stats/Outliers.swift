/// Outliers by the modified z-score of Iglewicz & Hoaglin: Mᵢ = 0.6745·(xᵢ − median)/MAD,
/// flagged when |Mᵢ| > 3.5. Flags are reported, never used to drop values.
public enum Outliers {
    public static let threshold = 3.5

    /// Modified z-scores in input order. When MAD is 0 (over half the values equal) the score uses
    /// the mean absolute deviation around the median instead: Mᵢ = (xᵢ − median)/(1.253314·MeanAD),
    /// the usual fallback; if that is 0 too, every value equals the median and all scores are 0.
    public static func modifiedZScores(_ values: [Double], median center: Double, mad: Double) -> [Double] {
        if mad > 0 {
            return values.map { 0.6745 * ($0 - center) / mad }
        }
        let meanAbsoluteDeviation = values.reduce(0) { $0 + abs($1 - center) } / Double(Swift.max(values.count, 1))
        guard meanAbsoluteDeviation > 0 else { return values.map { _ in 0 } }
        return values.map { ($0 - center) / (1.253314 * meanAbsoluteDeviation) }
    }

    /// Indices (input order) of values whose |modified z-score| exceeds 3.5.
    public static func indices(in values: [Double], median center: Double, mad: Double) -> [Int] {
        modifiedZScores(values, median: center, mad: mad).enumerated()
            .filter { abs($0.element) > threshold }.map(\.offset)
    }

    /// Convenience that computes median and MAD itself.
    public static func indices(in values: [Double]) -> [Int] {
        guard let summary = Summary(values) else { return [] }
        return indices(in: values, median: summary.median, mad: summary.medianAbsoluteDeviation)
    }
}
