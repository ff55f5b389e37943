import Foundation

/// Pure parsers for cgroup v1 and v2 interface files.

/// A single integer file (`memory.current`, `pids.current`, `cpuacct.usage`, …); "max" means no limit.
public func parseCgroupValue(_ text: String, file: String) throws(ProbeParseError) -> UInt64? {
    let trimmed = text.trimmedWhitespace
    if trimmed == "max" { return nil }
    guard let v = UInt64(trimmed) else {
        throw ProbeParseError(file: file, reason: "not an integer: \"\(trimmed.prefix(40))\"")
    }
    return v
}

/// A flat keyed file: `memory.stat`, `cpu.stat`, `memory.events`, `memory.oom_control`.
public func parseCgroupKeyedFile(_ text: String, file: String) throws(ProbeParseError) -> [String: UInt64] {
    var table: [String: UInt64] = [:]
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let value = UInt64(parts[1]) else {
            throw ProbeParseError(file: file, reason: "line \(index + 1) is not \"key value\": \"\(line.prefix(60))\"")
        }
        table[String(parts[0])] = value
    }
    return table
}

/// Memory of a cgroup, the same shape for v1 and v2.
public struct CgroupMemoryStats: Sendable, Equatable {
    public var currentBytes: UInt64
    /// v2 `memory.peak` (kernel ≥ 5.19) or v1 `memory.max_usage_in_bytes`; nil when the kernel has neither.
    public var peakBytes: UInt64?
    public var anonBytes: UInt64
    public var fileBytes: UInt64
    public var oomKills: UInt64

    /// v1: `memory.usage_in_bytes`, `memory.max_usage_in_bytes`, `memory.stat`, `memory.oom_control`.
    /// v1 reports the group's own pages as rss/cache and the subtree as total_*; a leaf has both equal.
    public static func v1(usage: String, maxUsage: String?, stat: String, oomControl: String?) throws(ProbeParseError)
        -> CgroupMemoryStats
    {
        try parse(
            current: (usage, "memory.usage_in_bytes"), peak: maxUsage.map { ($0, "memory.max_usage_in_bytes") },
            stat: stat, events: oomControl.map { ($0, "memory.oom_control") },
            anonKeys: ["total_rss", "rss"], fileKeys: ["total_cache", "cache"])
    }

    /// v2: `memory.current`, `memory.peak`, `memory.stat`, `memory.events`.
    public static func v2(current: String, peak: String?, stat: String, events: String?) throws(ProbeParseError)
        -> CgroupMemoryStats
    {
        try parse(
            current: (current, "memory.current"), peak: peak.map { ($0, "memory.peak") }, stat: stat,
            events: events.map { ($0, "memory.events") }, anonKeys: ["anon"], fileKeys: ["file"])
    }

    /// Both versions: each file's text with its name (for errors); the first stat key present gives anon/file.
    private static func parse(
        current: (String, String), peak: (String, String)?, stat: String, events: (String, String)?,
        anonKeys: [String], fileKeys: [String]
    ) throws(ProbeParseError) -> CgroupMemoryStats {
        let stats = try parseCgroupKeyedFile(stat, file: "memory.stat")
        let eventCounts = try events.map { (e: (String, String)) throws(ProbeParseError) in
            try parseCgroupKeyedFile(e.0, file: e.1)
        }
        return CgroupMemoryStats(
            currentBytes: try parseCgroupValue(current.0, file: current.1) ?? 0,
            peakBytes: try peak.flatMap { (p: (String, String)) throws(ProbeParseError) in
                try parseCgroupValue(p.0, file: p.1)
            },
            anonBytes: anonKeys.lazy.compactMap { stats[$0] }.first ?? 0,
            fileBytes: fileKeys.lazy.compactMap { stats[$0] }.first ?? 0,
            oomKills: eventCounts?["oom_kill"] ?? 0)
    }
}

/// CPU time of a cgroup in nanoseconds.
public struct CgroupCPUStats: Sendable, Equatable {
    public var usageNs: UInt64
    public var userNs: UInt64?
    public var systemNs: UInt64?

    /// v1 `cpuacct.usage` (ns) and optionally `cpuacct.stat` (USER_HZ ticks).
    public static func v1(usage: String) throws(ProbeParseError) -> CgroupCPUStats {
        CgroupCPUStats(usageNs: try parseCgroupValue(usage, file: "cpuacct.usage") ?? 0, userNs: nil, systemNs: nil)
    }

    /// v2 `cpu.stat` (µs).
    public static func v2(cpuStat: String) throws(ProbeParseError) -> CgroupCPUStats {
        let t = try parseCgroupKeyedFile(cpuStat, file: "cpu.stat")
        guard let usage = t["usage_usec"] else {
            throw ProbeParseError(file: "cpu.stat", reason: "no usage_usec")
        }
        return CgroupCPUStats(
            usageNs: usage * 1000, userNs: t["user_usec"].map { $0 * 1000 },
            systemNs: t["system_usec"].map { $0 * 1000 })
    }
}
