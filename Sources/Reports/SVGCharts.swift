import Foundation
import Results
import Stats

/// Maps data values to 0...1 on a linear or log10 axis, with readable ticks.
struct AxisScale {
    let lower: Double
    let upper: Double
    let logarithmic: Bool

    /// Log scale when the data spans more than `logRatio` (ranges differing by orders of magnitude).
    init(values: [Double], logRatio: Double = 30, forceZero: Bool = false) {
        let finite = values.filter(\.isFinite)
        let smallest = finite.min() ?? 0
        let largest = finite.max() ?? 1
        if !forceZero, smallest > 0, largest / smallest > logRatio {
            logarithmic = true
            lower = pow(10, floor(log10(smallest)))
            upper = pow(10, ceil(log10(largest)))
        } else {
            logarithmic = false
            lower = forceZero ? 0 : min(0, smallest)
            let top = largest > lower ? largest : lower + 1
            upper = AxisScale.niceCeiling(top)
        }
    }

    func position(_ value: Double) -> Double {
        if logarithmic {
            let clamped = max(value, lower)
            return (log10(clamped) - log10(lower)) / (log10(upper) - log10(lower))
        }
        return (value - lower) / (upper - lower)
    }

    var ticks: [Double] {
        if logarithmic {
            var ticks: [Double] = []
            var tick = lower
            while tick <= upper * 1.0001 {
                ticks.append(tick)
                tick *= 10
            }
            return ticks
        }
        let step = AxisScale.niceCeiling((upper - lower) / 5)
        return stride(from: lower, through: upper + step / 1000, by: step).map { $0 }
    }

    /// The next value ≥ x of the form {1, 2, 2.5, 5} × 10ᵏ.
    static func niceCeiling(_ x: Double) -> Double {
        guard x > 0 else { return 1 }
        let exponent = floor(log10(x))
        let base = pow(10, exponent)
        for factor in [1, 2, 2.5, 5, 10] where factor * base >= x * 0.9999 {
            return factor * base
        }
        return 10 * base
    }
}

/// Builds small self-contained SVG charts (no scripts, no external fonts).
enum SVGChart {
    static let palette: [String: String] = [
        "native": "#6b7280", "container": "#2563eb", "container-crun": "#0d9488", "container-runc": "#7c3aed",
        "vm": "#ea580c",
    ]
    static let fallbackColors = ["#be185d", "#65a30d", "#0891b2", "#a16207"]

    static func color(_ armKey: String, index: Int) -> String {
        palette[armKey] ?? fallbackColors[index % fallbackColors.count]
    }

    static func text(
        _ x: Double, _ y: Double, _ content: String, anchor: String = "start", size: Int = 12, weight: String = "normal"
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\" font-weight=\"\(weight)\">\(HTMLText.escape(content))</text>"
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Horizontal axis with ticks and grid lines across `height`.
    static func horizontalAxis(
        _ scale: AxisScale, x0: Double, width: Double, y: Double, height: Double, unit: String
    ) -> String {
        var svg = "<g class=\"axis\" stroke=\"#d1d5db\">"
        for tick in scale.ticks {
            let x = x0 + scale.position(tick) * width
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(y - height))\" x2=\"\(f(x))\" y2=\"\(f(y))\"/>"
        }
        svg += "</g>"
        for tick in scale.ticks {
            let x = x0 + scale.position(tick) * width
            svg += text(x, y + 14, NumberText.quantity(tick, unit: unit), anchor: "middle", size: 10)
        }
        if scale.logarithmic { svg += text(x0 + width, y + 28, "log scale", anchor: "end", size: 10) }
        return svg
    }

    /// Box (p25–p75, median line), whiskers (min–max) and, when few enough, every point as a strip.
    static func distributions(title: String, unit: String, groups: [(label: String, armKey: String, values: [Double])])
        -> String
    {
        let maxPoints = 400
        let width = 1000.0
        let labelWidth = 150.0
        let plotWidth = width - labelWidth - 40
        let rowHeight = 44.0
        let height = 50 + rowHeight * Double(groups.count) + 40
        let scale = AxisScale(values: groups.flatMap { [$0.values.first ?? .nan, $0.values.last ?? .nan] })
        var svg = svgOpen(width: width, height: height, title: title)
        svg += text(10, 20, title, size: 14, weight: "bold")
        let axisY = 40 + rowHeight * Double(groups.count)
        svg += horizontalAxis(scale, x0: labelWidth, width: plotWidth, y: axisY, height: axisY - 30, unit: unit)
        var omitted: [String] = []
        for (index, group) in groups.enumerated() {
            let sorted = group.values
            guard !sorted.isEmpty else { continue }
            let centerY = 40 + rowHeight * Double(index) + rowHeight / 2
            let x = { (value: Double) in labelWidth + scale.position(value) * plotWidth }
            let colour = color(group.armKey, index: index)
            svg += text(labelWidth - 8, centerY + 4, "\(group.label) (n=\(sorted.count))", anchor: "end")
            svg +=
                "<line x1=\"\(f(x(sorted.first!)))\" y1=\"\(f(centerY))\" x2=\"\(f(x(sorted.last!)))\" y2=\"\(f(centerY))\" stroke=\"\(colour)\"/>"
            let q1 = quantile(sorted: sorted, 0.25)
            let q3 = quantile(sorted: sorted, 0.75)
            let mid = median(sorted: sorted)
            svg +=
                "<rect x=\"\(f(x(q1)))\" y=\"\(f(centerY - 10))\" width=\"\(f(max(1, x(q3) - x(q1))))\" height=\"20\" fill=\"\(colour)\" fill-opacity=\"0.25\" stroke=\"\(colour)\"/>"
            svg +=
                "<line x1=\"\(f(x(mid)))\" y1=\"\(f(centerY - 12))\" x2=\"\(f(x(mid)))\" y2=\"\(f(centerY + 12))\" stroke=\"\(colour)\" stroke-width=\"3\"><title>median \(HTMLText.escape(NumberText.quantity(mid, unit: unit)))</title></line>"
            if sorted.count <= maxPoints {
                // Deterministic jitter so the same results always draw the same picture.
                var generator = SplitMix64(seed: stableHash(group.label))
                for value in sorted {
                    let jitter = (generator.nextOpenUnit() - 0.5) * 16
                    svg +=
                        "<circle cx=\"\(f(x(value)))\" cy=\"\(f(centerY + jitter))\" r=\"2\" fill=\"\(colour)\" fill-opacity=\"0.6\"/>"
                }
            } else {
                omitted.append("\(group.label) (\(sorted.count))")
            }
        }
        if !omitted.isEmpty {
            svg += text(
                10, height - 6,
                "points not drawn above \(maxPoints) per arm (box and whiskers use all): \(omitted.joined(separator: ", "))",
                size: 10)
        }
        return svg + "</svg>"
    }

    /// Horizontal bars with optional interval whiskers; `segments` stack within one bar.
    static func bars(
        title: String, unit: String,
        bars: [(
            label: String, segments: [(name: String, value: Double, colour: String)], interval: ConfidenceInterval?
        )]
    ) -> String {
        let width = 1000.0
        let labelWidth = 230.0
        let plotWidth = width - labelWidth - 120
        let rowHeight = 34.0
        let legendNames = Array(
            Set(bars.flatMap { $0.segments.map(\.name) }).subtracting([""])
        ).sorted()
        let height = 50 + rowHeight * Double(bars.count) + 40 + (legendNames.count > 1 ? 20 : 0)
        let totals = bars.map { bar in max(bar.segments.reduce(0) { $0 + $1.value }, bar.interval?.upper ?? 0) }
        let scale = AxisScale(values: totals + [0], forceZero: true)
        var svg = svgOpen(width: width, height: height, title: title)
        svg += text(10, 20, title, size: 14, weight: "bold")
        let axisY = 40 + rowHeight * Double(bars.count)
        svg += horizontalAxis(scale, x0: labelWidth, width: plotWidth, y: axisY, height: axisY - 30, unit: unit)
        for (index, bar) in bars.enumerated() {
            let top = 40 + rowHeight * Double(index) + 6
            svg += text(labelWidth - 8, top + 15, bar.label, anchor: "end")
            var start = 0.0
            for segment in bar.segments {
                let x0 = labelWidth + scale.position(start) * plotWidth
                let x1 = labelWidth + scale.position(start + segment.value) * plotWidth
                svg +=
                    "<rect x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(max(0.5, x1 - x0)))\" height=\"20\" fill=\"\(segment.colour)\"><title>\(HTMLText.escape("\(segment.name) \(NumberText.quantity(segment.value, unit: unit))"))</title></rect>"
                start += segment.value
            }
            if let interval = bar.interval {
                let x0 = labelWidth + scale.position(interval.lower) * plotWidth
                let x1 = labelWidth + scale.position(interval.upper) * plotWidth
                svg +=
                    "<line x1=\"\(f(x0))\" y1=\"\(f(top + 10))\" x2=\"\(f(x1))\" y2=\"\(f(top + 10))\" stroke=\"#111827\" stroke-width=\"1.5\"/>"
            }
            svg += text(
                labelWidth + scale.position(start) * plotWidth + 6, top + 15, NumberText.quantity(start, unit: unit),
                size: 11)
        }
        if legendNames.count > 1 {
            var x = labelWidth
            for name in legendNames {
                let colour = bars.flatMap(\.segments).first { $0.name == name }?.colour ?? "#000"
                svg += "<rect x=\"\(f(x))\" y=\"\(f(height - 18))\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
                svg += text(x + 14, height - 9, name, size: 11)
                x += 24 + Double(name.count) * 6.5
            }
        }
        return svg + "</svg>"
    }

    /// Lines of y against x, one per series, with point markers.
    static func lines(
        title: String, xLabel: String, yUnit: String,
        series: [(label: String, armKey: String, points: [(Double, Double)])]
    ) -> String {
        let width = 1000.0
        let height = 380.0
        let left = 90.0
        let right = 160.0
        let top = 40.0
        let bottom = 50.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.0) }
        let ys = series.flatMap { $0.points.map(\.1) }
        let xScale = AxisScale(values: xs + [0], forceZero: true)
        let yScale = AxisScale(values: ys + [0], forceZero: true)
        var svg = svgOpen(width: width, height: height, title: title)
        svg += text(10, 20, title, size: 14, weight: "bold")
        svg += horizontalAxis(xScale, x0: left, width: plotWidth, y: top + plotHeight, height: plotHeight, unit: "")
        svg += text(left + plotWidth / 2, height - 8, xLabel, anchor: "middle", size: 11)
        for tick in yScale.ticks {
            let y = top + plotHeight - yScale.position(tick) * plotHeight
            svg +=
                "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#e5e7eb\"/>"
            svg += text(left - 6, y + 4, NumberText.quantity(tick, unit: yUnit), anchor: "end", size: 10)
        }
        for (index, line) in series.enumerated() {
            let colour = color(line.armKey, index: index)
            let points = line.points.sorted { $0.0 < $1.0 }.map {
                (left + xScale.position($0.0) * plotWidth, top + plotHeight - yScale.position($0.1) * plotHeight)
            }
            svg +=
                "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>"
            for point in points {
                svg += "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"3.5\" fill=\"\(colour)\"/>"
            }
            svg +=
                "<rect x=\"\(f(width - right + 20))\" y=\"\(f(top + 20 * Double(index)))\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
            svg += text(width - right + 36, top + 20 * Double(index) + 9, line.label, size: 11)
        }
        return svg + "</svg>"
    }

    static func svgOpen(width: Double, height: Double, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"100%\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" font-family=\"system-ui, sans-serif\">"
    }
}
