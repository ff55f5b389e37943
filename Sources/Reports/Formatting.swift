import Foundation
import Stats

/// Human number formatting shared by every text renderer.
enum NumberText {
    /// Three significant digits below 1000, whole numbers above (a timing of 2213.4 ms prints 2213).
    static func number(_ value: Double, significant: Int = 3) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "inf" : "-inf") }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1000 { return String(Int64(value.rounded())) }
        let digitsBeforePoint = Int(floor(log10(magnitude))) + 1
        let decimals = max(0, min(9, significant - digitsBeforePoint))
        return String(format: "%.\(decimals)f", value)
    }

    /// A display scale for a unit: bytes to KiB/MiB/GiB, ns to µs/ms/s, others unchanged.
    static func scale(for value: Double, unit: String) -> (divisor: Double, label: String) {
        let magnitude = abs(value)
        switch unit {
        case "B":
            if magnitude >= 0x1p30 { return (0x1p30, "GiB") }
            if magnitude >= 0x1p20 { return (0x1p20, "MiB") }
            if magnitude >= 0x1p10 { return (0x1p10, "KiB") }
            return (1, "B")
        case "ns":
            if magnitude >= 1e9 { return (1e9, "s") }
            if magnitude >= 1e6 { return (1e6, "ms") }
            if magnitude >= 1e3 { return (1e3, "µs") }
            return (1, "ns")
        default:
            return (1, unit)
        }
    }

    static func quantity(_ value: Double, unit: String) -> String {
        let (divisor, label) = scale(for: value, unit: unit)
        return label.isEmpty ? number(value / divisor) : "\(number(value / divisor)) \(label)"
    }

    /// "12.3 ms [11.9, 12.8]" — the interval in the value's scale so the three read together.
    static func quantity(_ value: Double, interval: ConfidenceInterval?, unit: String) -> String {
        let (divisor, label) = scale(for: value, unit: unit)
        var text = number(value / divisor)
        if let interval {
            text += " [\(number(interval.lower / divisor)), \(number(interval.upper / divisor))]"
        }
        return label.isEmpty ? text : "\(text) \(label)"
    }

    /// "×12.3 [11.0, 13.9]"
    static func ratio(_ value: Double, interval: ConfidenceInterval?) -> String {
        // 0 ÷ 0 (or anything ÷ 0) has no ratio: say so instead of "×n/a".
        guard value.isFinite else { return "not measured" }
        var text = "×" + number(value)
        if let interval { text += " [\(number(interval.lower)), \(number(interval.upper))]" }
        return text
    }

    static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "not measured" }
        return (fraction >= 0 ? "+" : "") + number(fraction * 100, significant: 3) + "%"
    }

    static func bytes(_ value: UInt64) -> String { quantity(Double(value), unit: "B") }

    /// "1 run", "3 runs": the count with its noun in the right number.
    static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
    }
}

/// A table rendered either as aligned plain text or as a Markdown table.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns holding numbers, right-aligned in plain text.
    var numericColumns: Set<Int> = []

    init(_ headers: [String], numericColumns: Set<Int> = []) {
        self.headers = headers
        self.numericColumns = numericColumns
    }

    mutating func append(_ row: [String]) {
        rows.append(row + Array(repeating: "", count: max(0, headers.count - row.count)))
    }

    func plain(indent: String = "") -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { index, cell -> String in
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return numericColumns.contains(index) ? padding + cell : cell + padding
            }
            var text = indent + padded.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        var lines = [line(headers), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    func markdown() -> String {
        func escape(_ cell: String) -> String {
            cell.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        var lines = ["| " + headers.map(escape).joined(separator: " | ") + " |"]
        lines.append("|" + headers.indices.map { numericColumns.contains($0) ? "---:|" : "---|" }.joined())
        lines += rows.map { "| " + $0.map(escape).joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum HTMLText {
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension TextTable {
    func html() -> String {
        var out = "<table><thead><tr>"
        out += headers.map { "<th>\(HTMLText.escape($0))</th>" }.joined()
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for (index, cell) in row.enumerated() {
                out += numericColumns.contains(index) ? "<td class=\"num\">" : "<td>"
                out += HTMLText.escape(cell) + "</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table>\n"
    }
}
