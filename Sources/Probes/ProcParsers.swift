import Foundation

/// Pure parsers for procfs text. Each takes the file's text and returns typed values; no I/O.

/// A `Key:   value kB` table such as `/proc/<pid>/smaps_rollup` or `/proc/meminfo`, in bytes.
func parseKilobyteTable(_ text: String) -> [String: UInt64] {
    var table: [String: UInt64] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = String(line[..<colon])
        let rest = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
        guard let first = rest.first, let value = UInt64(first) else { continue }
        let isKilobytes = rest.count > 1 && rest[1] == "kB"
        table[key] = isKilobytes ? value * 1024 : value
    }
    return table
}

/// `/proc/<pid>/smaps_rollup`: proportional and resident set sizes of a whole process.
public struct SmapsRollup: Sendable, Equatable {
    public var rssBytes: UInt64
    public var pssBytes: UInt64
    public var pssAnonBytes: UInt64?
    public var pssFileBytes: UInt64?
    public var privateBytes: UInt64
    public var swapBytes: UInt64

    public static func parse(_ text: String) throws(ProbeParseError) -> SmapsRollup {
        let table = parseKilobyteTable(text)
        guard let rss = table["Rss"], let pss = table["Pss"] else {
            throw ProbeParseError(file: "smaps_rollup", reason: "no Rss/Pss lines")
        }
        return SmapsRollup(
            rssBytes: rss, pssBytes: pss, pssAnonBytes: table["Pss_Anon"], pssFileBytes: table["Pss_File"],
            privateBytes: (table["Private_Clean"] ?? 0) + (table["Private_Dirty"] ?? 0),
            swapBytes: table["Swap"] ?? 0)
    }
}

/// `/proc/meminfo` (host, or the guest's as reported by the guest init).
public struct MemInfo: Sendable, Equatable {
    public var totalBytes: UInt64
    public var availableBytes: UInt64?
    public var freeBytes: UInt64
    public var values: [String: UInt64]

    public static func parse(_ text: String) throws(ProbeParseError) -> MemInfo {
        let table = parseKilobyteTable(text)
        guard let total = table["MemTotal"], let free = table["MemFree"] else {
            throw ProbeParseError(file: "meminfo", reason: "no MemTotal/MemFree lines")
        }
        return MemInfo(totalBytes: total, availableBytes: table["MemAvailable"], freeBytes: free, values: table)
    }
}

/// `/proc/<pid>/stat`. The command name may hold spaces and parentheses: split at the last ')'.
public struct ProcStat: Sendable, Equatable {
    public var pid: Int32
    public var comm: String
    public var state: Character
    public var ppid: Int32
    /// Clock ticks (sysconf(_SC_CLK_TCK)).
    public var utimeTicks: UInt64
    public var stimeTicks: UInt64
    /// Ticks after boot at which the process started.
    public var startTimeTicks: UInt64
    public var virtualBytes: UInt64
    public var rssPages: Int64
    public var threads: Int64

    public static func parse(_ text: String) throws(ProbeParseError) -> ProcStat {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else {
            throw ProbeParseError(file: "stat", reason: "no (comm) field")
        }
        guard let pid = Int32(text[..<open].trimmedWhitespace) else {
            throw ProbeParseError(file: "stat", reason: "bad pid field")
        }
        let comm = String(text[text.index(after: open)..<close])
        let fields = text[text.index(after: close)...].split(
            omittingEmptySubsequences: true, whereSeparator: { $0 == " " || $0 == "\n" })
        // fields[0] is field 3 (state); field n is fields[n-3].
        guard fields.count >= 22 else {
            throw ProbeParseError(file: "stat", reason: "expected ≥ 24 fields, got \(fields.count + 2)")
        }
        func number<T: FixedWidthInteger>(_ field: Int, _: T.Type) throws(ProbeParseError) -> T {
            guard let v = T(fields[field - 3]) else {
                throw ProbeParseError(file: "stat", reason: "field \(field) is not a number: \(fields[field - 3])")
            }
            return v
        }
        return ProcStat(
            pid: pid, comm: comm, state: fields[0].first ?? "?", ppid: try number(4, Int32.self),
            utimeTicks: try number(14, UInt64.self), stimeTicks: try number(15, UInt64.self),
            startTimeTicks: try number(22, UInt64.self), virtualBytes: try number(23, UInt64.self),
            rssPages: try number(24, Int64.self), threads: try number(20, Int64.self))
    }
}

public struct ProbeParseError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var reason: String
    public var description: String { "parse \(file): \(reason)" }
}
