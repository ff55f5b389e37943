/// Where a text stops being JSON: Foundation's decoder says only "not valid JSON", so a bad results file is
/// scanned once more, on the error path only, to name the line and column (RFC 8259 grammar, no extensions).
enum JSONSyntax {
    /// 1-based line and column of the first byte that breaks the grammar, or nil if the text is valid JSON.
    static func firstError(in bytes: [UInt8]) -> (line: Int, column: Int, found: String)? {
        var scanner = Scanner(bytes: bytes)
        guard let offset = scanner.document() else { return nil }
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        let rest = bytes[offset...].prefix(12).prefix { $0 != UInt8(ascii: "\n") }
        let found = offset < bytes.count ? "'\(String(decoding: rest, as: UTF8.self))'" : "end of file"
        return (line, column, found)
    }

    /// Returns the offset of the first error, or nil. Depth is bounded so a hostile file cannot exhaust the stack.
    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        var depth = 0

        mutating func document() -> Int? {
            if let e = value() { return e }
            skipSpace()
            return i < bytes.count ? i : nil
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func literal(_ word: String) -> Int? {
            for c in word.utf8 {
                guard i < bytes.count, bytes[i] == c else { return i }
                i += 1
            }
            return nil
        }

        mutating func value() -> Int? {
            skipSpace()
            guard i < bytes.count else { return i }
            switch bytes[i] {
            case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true)
            case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return i
            }
        }

        mutating func container(close: UInt8, keyed: Bool) -> Int? {
            depth += 1
            defer { depth -= 1 }
            if depth > 512 { return i }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == close {
                i += 1
                return nil
            }
            while true {
                if keyed {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return i }
                    if let e = string() { return e }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return i }
                    i += 1
                }
                if let e = value() { return e }
                skipSpace()
                guard i < bytes.count else { return i }
                if bytes[i] == close {
                    i += 1
                    return nil
                }
                guard bytes[i] == UInt8(ascii: ",") else { return i }
                i += 1
            }
        }

        mutating func string() -> Int? {
            i += 1
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return nil
                }
                if c < 0x20 { return i }
                i += c == UInt8(ascii: "\\") ? 2 : 1
            }
            return i
        }

        mutating func number() -> Int? {
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            func digits() -> Int {
                var n = 0
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
                    i += 1
                    n += 1
                }
                return n
            }
            if digits() == 0 { return i }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                if digits() == 0 { return i }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                if digits() == 0 { return i }
            }
            return i > start ? nil : i
        }
    }
}
