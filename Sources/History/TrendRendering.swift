import Foundation
import Results

/// Trends as text, CSV, JSON and an offline HTML page with one SVG chart per series.
public enum TrendRendering {
    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: abs(v) >= 100 ? "%.1f" : "%.4g", v)
    }

    public static func terminal(_ trends: [Trend]) -> String {
        var out = ""
        for t in trends {
            out += "\(t.key.label)\n"
            let changes = Dictionary(uniqueKeysWithValues: t.changePoints.map { ($0.index, $0) })
            for (i, p) in t.points.enumerated() {
                let ci = p.lower.map { l in " [\(number(l)), \(number(p.upper ?? l))]" } ?? ""
                var line =
                    "  run \(p.runID)  \(p.startedAt)  \(p.label ?? "-")  median \(number(p.median))\(ci)  n=\(p.n)"
                if let cp = changes[i] {
                    line += String(
                        format: "  ← change %+.1f%% (%@, p=%.2g)", cp.relativeChange * 100,
                        t.isRegression(cp) ? "worse" : "better", cp.pValue)
                }
                out += line + "\n"
            }
        }
        return out.isEmpty ? "no matching series\n" : out
    }

    public static func csv(_ trends: [Trend]) -> String {
        var out = "host,suite,arm,workload,metric,run,started_at,label,n,median,lower,upper,change_point\n"
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        for t in trends {
            let changes = Set(t.changePoints.map(\.index))
            for (i, p) in t.points.enumerated() {
                let cells = [
                    t.key.hostFingerprint, t.key.suite, t.key.arm, t.key.workload, t.key.metric, "\(p.runID)",
                    p.startedAt, p.label ?? "", "\(p.n)", "\(p.median)", p.lower.map { "\($0)" } ?? "",
                    p.upper.map { "\($0)" } ?? "", changes.contains(i) ? "1" : "0",
                ]
                out += cells.map(field).joined(separator: ",") + "\n"
            }
        }
        return out
    }

    public static func json(_ trends: [Trend]) -> String {
        (try? ResultsStore.encoder().encode(trends)).map { String(decoding: $0, as: UTF8.self) + "\n" } ?? "[]\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One chart: medians joined by a line, intervals as vertical bars, change points as dashed red (worse) or
    /// green (better) verticals.
    static func svg(_ t: Trend, width: Double = 640, height: Double = 220) -> String {
        let left = 70.0
        let right = 16.0
        let top = 14.0
        let bottom = 30.0
        let values = t.points.flatMap { [$0.median, $0.lower ?? $0.median, $0.upper ?? $0.median] }
        guard var lo = values.min(), var hi = values.max() else { return "" }
        if hi == lo {
            lo -= max(abs(lo) * 0.05, 1)
            hi += max(abs(hi) * 0.05, 1)
        }
        let pad = (hi - lo) * 0.08
        lo -= pad
        hi += pad
        let n = t.points.count
        func x(_ i: Int) -> Double {
            n == 1 ? left + (width - left - right) / 2 : left + Double(i) * (width - left - right) / Double(n - 1)
        }
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * (height - top - bottom) }
        var s =
            "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(t.key.label))\">"
        s +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for frac in [0.0, 0.5, 1.0] {
            let v = lo + (hi - lo) * frac
            s +=
                "<text x=\"\(left - 6)\" y=\"\(String(format: "%.1f", y(v) + 4))\" font-size=\"11\" text-anchor=\"end\">\(escape(number(v)))</text>"
        }
        s += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"11\">run \(t.points.first!.runID)</text>"
        s +=
            "<text x=\"\(width - right)\" y=\"\(height - 8)\" font-size=\"11\" text-anchor=\"end\">run \(t.points.last!.runID)</text>"
        for cp in t.changePoints {
            let cx = (x(cp.index - 1) + x(cp.index)) / 2
            let colour = t.isRegression(cp) ? "#c0392b" : "#27ae60"
            s +=
                "<line class=\"change-point\" x1=\"\(String(format: "%.1f", cx))\" x2=\"\(String(format: "%.1f", cx))\" y1=\"\(top)\" y2=\"\(height - bottom)\" "
            s += "stroke=\"\(colour)\" stroke-dasharray=\"4 3\"><title>"
            s += escape(
                String(
                    format: "change %+.1f%% at run %lld (p=%.2g)", cp.relativeChange * 100, t.points[cp.index].runID,
                    cp.pValue))
            s += "</title></line>"
        }
        for (i, p) in t.points.enumerated() {
            if let l = p.lower, let u = p.upper {
                s +=
                    "<line class=\"interval\" x1=\"\(String(format: "%.1f", x(i)))\" x2=\"\(String(format: "%.1f", x(i)))\" "
                s +=
                    "y1=\"\(String(format: "%.1f", y(l)))\" y2=\"\(String(format: "%.1f", y(u)))\" stroke=\"#7f8c8d\"/>"
            }
        }
        let path = t.points.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.median)) }
        s +=
            "<polyline class=\"medians\" fill=\"none\" stroke=\"#2c3e50\" stroke-width=\"1.5\" points=\"\(path.joined(separator: " "))\"/>"
        for (i, p) in t.points.enumerated() {
            s +=
                "<circle class=\"median\" cx=\"\(String(format: "%.1f", x(i)))\" cy=\"\(String(format: "%.1f", y(p.median)))\" r=\"2.5\" fill=\"#2c3e50\">"
            s +=
                "<title>\(escape("run \(p.runID) \(p.startedAt) \(p.label ?? ""): median \(number(p.median)), n=\(p.n)"))</title></circle>"
        }
        return s + "</svg>"
    }

    /// A self-contained page: no script, no external resource.
    public static func html(_ trends: [Trend], title: String, hosts: [String: HostKey]) -> String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escape(title))</title>"
        s += "<style>body{font-family:sans-serif;margin:2em;max-width:60em}h2{font-size:1.05em;margin-top:2em}"
        s += ".meta{color:#555;font-size:.9em}</style></head><body>\n<h1>\(escape(title))</h1>\n"
        s += "<p class=\"meta\">Each chart: one point per run (median of its successful samples; bar: 95% bootstrap "
        s += "interval), dashed lines: change points found by E-Divisive means with Welch's test (red worse, green "
        s += "better). Series never mix hosts or arm configurations (a TCG VM arm is not a KVM one).</p>\n"
        if trends.isEmpty { s += "<p>No series with data.</p>\n" }
        for t in trends {
            s += "<section class=\"series\"><h2>\(escape(t.key.label))</h2>\n"
            if let h = hosts[t.key.hostFingerprint] {
                s +=
                    "<p class=\"meta\">host \(escape(t.key.hostFingerprint)): \(escape(h.summary)); arm \(escape(t.key.arm)): \(escape(t.key.armConfig))</p>\n"
            }
            s += svg(t) + "\n"
            if !t.changePoints.isEmpty {
                s += "<ul>"
                for cp in t.changePoints {
                    s +=
                        "<li>"
                        + escape(
                            String(
                                format: "run %lld: %+.1f%% (%@), p=%.2g", t.points[cp.index].runID,
                                cp.relativeChange * 100, t.isRegression(cp) ? "worse" : "better", cp.pValue)) + "</li>"
                }
                s += "</ul>\n"
            }
            s += "</section>\n"
        }
        return s + "</body></html>\n"
    }
}
