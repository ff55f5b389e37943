import Foundation

/// Parses the guest's serial console as boxbench-init writes it: `BOXBENCH-MARK …`, `BOXBENCH-MEM …`,
/// `BOXBENCH-ERROR …` lines, and between `workload-start` and `workload-exit`, the workload's own output.
/// Pure: bytes go in with the host time they arrived; tested on fixture text.
public struct ConsoleTranscript: Sendable {
    public enum Stage: Sendable, Equatable { case booting, workload, finished }

    public private(set) var stage: Stage = .booting
    /// Host monotonic ns (as given to `feed`) when each marker line was complete.
    public private(set) var initNs: UInt64?
    public private(set) var workloadStartNs: UInt64?
    public private(set) var firstOutputNs: UInt64?
    public private(set) var workloadExitNs: UInt64?
    public private(set) var poweroffNs: UInt64?
    /// Host ns of the other boot steps the init marks (`modules`, `root`, `net-up`, and in a full-OS guest
    /// `os-init` — the OS's init exec'd — and `unit-start` — the workload unit started by it), first of each.
    public private(set) var stepNs: [(name: String, ns: UInt64)] = []
    /// Guest clocks printed by the init marker: CLOCK_MONOTONIC and CLOCK_BOOTTIME at init.
    public private(set) var guestInitMonoNs: UInt64?
    public private(set) var guestInitBootNs: UInt64?
    public private(set) var guestWorkloadStartMonoNs: UInt64?
    public private(set) var guestWorkloadExitMonoNs: UInt64?
    public private(set) var exitCode: Int32?
    public private(set) var exitSignal: Int32?
    public private(set) var memTotalKiB: UInt64?
    public private(set) var memAvailableKiB: UInt64?
    public private(set) var errors: [String] = []
    /// Non-fatal guest problems (`BOXBENCH-WARN …`: a module that did not load…).
    public private(set) var warnings: [String] = []
    /// The workload's output (stdout and stderr share the console), CR-LF folded to LF.
    public private(set) var output: [UInt8] = []
    /// The whole console, capped, for failure reports.
    public private(set) var console: [UInt8] = []
    public static let consoleCap = 256 * 1024

    private var pending: [UInt8] = []
    private var pendingStartNs: UInt64 = 0

    public init() {}

    public enum Marker: Sendable, Equatable { case initReached, workloadStart, workloadExit, memory, poweroff, error }

    /// Feeds bytes read at host time `ns`; returns the markers completed by them, in order.
    @discardableResult
    public mutating func feed<C: Collection>(_ bytes: C, atNs ns: UInt64) -> [Marker] where C.Element == UInt8 {
        if console.count < Self.consoleCap { console.append(contentsOf: bytes.prefix(Self.consoleCap - console.count)) }
        var markers: [Marker] = []
        for b in bytes {
            if pending.isEmpty { pendingStartNs = ns }
            if b == 0x0A {
                if pending.last == 0x0D { pending.removeLast() }
                if let m = handleLine(pending, complete: true, ns: ns) { markers.append(m) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(b)
            }
        }
        return markers
    }

    /// Call once the console is closed: an unterminated last line still counts.
    public mutating func finish(atNs ns: UInt64) {
        if !pending.isEmpty {
            _ = handleLine(pending, complete: false, ns: ns)
            pending.removeAll()
        }
    }

    private static let prefixes: [[UInt8]] = ["BOXBENCH-MARK ", "BOXBENCH-MEM ", "BOXBENCH-ERROR ", "BOXBENCH-WARN "]
        .map { Array($0.utf8) }

    private mutating func handleLine(_ line: [UInt8], complete: Bool, ns: UInt64) -> Marker? {
        var markerAt: Int?
        search: for i in line.indices {
            for p in Self.prefixes
            where line.count - i >= p.count && line[i] == p[0] && Array(line[i..<i + p.count]) == p {
                markerAt = i
                break search
            }
        }
        let outputPart = line[..<(markerAt ?? line.count)]
        if stage == .workload {
            if !outputPart.isEmpty || (markerAt == nil && complete) {
                if firstOutputNs == nil { firstOutputNs = pendingStartNs }
                output.append(contentsOf: outputPart)
                if markerAt == nil && complete { output.append(0x0A) }
            }
        }
        guard let markerAt else { return nil }
        return handleMarker(String(decoding: line[markerAt...], as: UTF8.self), ns: ns)
    }

    private mutating func handleMarker(_ text: String, ns: UInt64) -> Marker? {
        let words = text.split(separator: " ").map(String.init)
        guard words.count >= 2 else { return nil }
        var kv: [String: String] = [:]
        for w in words.dropFirst() {
            if let eq = w.firstIndex(of: "=") { kv[String(w[..<eq])] = String(w[w.index(after: eq)...]) }
        }
        switch words[0] {
        case "BOXBENCH-MEM":
            memTotalKiB = kv["memtotal_kb"].flatMap { UInt64($0) }
            memAvailableKiB = kv["memavailable_kb"].flatMap { UInt64($0) }
            return .memory
        case "BOXBENCH-WARN":
            warnings.append(words.dropFirst().joined(separator: " "))
            return nil
        case "BOXBENCH-ERROR":
            errors.append(words.dropFirst().joined(separator: " "))
            return .error
        default:
            break
        }
        switch words[1] {
        case "init":
            if initNs == nil { initNs = ns }
            guestInitMonoNs = kv["t_mono_ns"].flatMap { UInt64($0) }
            guestInitBootNs = kv["t_boot_ns"].flatMap { UInt64($0) }
            return .initReached
        case "workload-start":
            if workloadStartNs == nil { workloadStartNs = ns }
            guestWorkloadStartMonoNs = kv["t_mono_ns"].flatMap { UInt64($0) }
            stage = .workload
            return .workloadStart
        case "workload-exit":
            if workloadExitNs == nil { workloadExitNs = ns }
            guestWorkloadExitMonoNs = kv["t_mono_ns"].flatMap { UInt64($0) }
            exitCode = kv["code"].flatMap { Int32($0) }
            exitSignal = kv["signal"].flatMap { Int32($0) }
            stage = .finished
            return .workloadExit
        case "poweroff":
            if poweroffNs == nil { poweroffNs = ns }
            return .poweroff
        default:
            if !stepNs.contains(where: { $0.name == words[1] }) { stepNs.append((words[1], ns)) }
            return nil
        }
    }

    /// The last `n` lines of the console, for failure messages.
    public func consoleTail(lines n: Int = 15) -> String {
        let text = String(decoding: console, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(n).joined(separator: "\n")
    }
}
