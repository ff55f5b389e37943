/// The metric catalogue: names used as keys in `Sample.metrics`, each with its unit.
public struct Metric: Sendable, Hashable {
    public let name: String
    public let unit: String
    public let lowerIsBetter: Bool
    public let title: String

    public static let startupFirstOutputMs = Metric(
        name: "startup_first_output_ms", unit: "ms", lowerIsBetter: true, title: "launch → first output")
    public static let startupExitMs = Metric(
        name: "startup_exit_ms", unit: "ms", lowerIsBetter: true, title: "launch → exit")
    public static let createMs = Metric(
        name: "create_ms", unit: "ms", lowerIsBetter: true, title: "create (ready, not started)")
    public static let startMs = Metric(
        name: "start_ms", unit: "ms", lowerIsBetter: true, title: "start → exit")
    public static let memoryPeakBytes = Metric(
        name: "memory_peak_bytes", unit: "B", lowerIsBetter: true, title: "host memory peak")
    public static let memoryCurrentBytes = Metric(
        name: "memory_current_bytes", unit: "B", lowerIsBetter: true, title: "host memory at workload start")
    public static let memoryAnonBytes = Metric(
        name: "memory_anon_bytes", unit: "B", lowerIsBetter: true, title: "anon memory")
    public static let memoryFileBytes = Metric(
        name: "memory_file_bytes", unit: "B", lowerIsBetter: true, title: "file memory")
    public static let pssPeakBytes = Metric(
        name: "pss_peak_bytes", unit: "B", lowerIsBetter: true, title: "QEMU PSS peak")
    public static let rssPeakBytes = Metric(
        name: "rss_peak_bytes", unit: "B", lowerIsBetter: true, title: "RSS peak")
    /// Not recorded by the runner: after a clone of the harness, ru_maxrss keeps the pre-exec copy's peak
    /// (~16 MiB here), so it overstates small workloads; the cgroup peak is the memory figure.
    public static let maxRSSBytes = Metric(
        name: "maxrss_bytes", unit: "B", lowerIsBetter: true, title: "ru_maxrss")
    public static let cpuNs = Metric(
        name: "cpu_ns", unit: "ns", lowerIsBetter: true, title: "CPU time")
    public static let guestMemTotalBytes = Metric(
        name: "guest_memtotal_bytes", unit: "B", lowerIsBetter: true, title: "guest MemTotal")
    public static let guestMemAvailableBytes = Metric(
        name: "guest_memavailable_bytes", unit: "B", lowerIsBetter: false, title: "guest MemAvailable")
    /// Workload-reported values are stored as "work_<key>" with the unit in the key suffix.
    public static func workload(_ key: String) -> Metric {
        let unit: String
        if key.hasSuffix("_ns") {
            unit = "ns"
        } else if key.hasSuffix("_ms") {
            unit = "ms"
        } else if key.hasSuffix("_bytes") {
            unit = "B"
        } else if key.hasSuffix("_per_s") {
            unit = "/s"
        } else {
            unit = ""
        }
        return Metric(
            name: "work_\(key)", unit: unit, lowerIsBetter: !key.hasSuffix("_per_s"), title: key)
    }

    public static let known: [Metric] = [
        .startupFirstOutputMs, .startupExitMs, .createMs, .startMs, .memoryPeakBytes,
        .memoryCurrentBytes, .memoryAnonBytes, .memoryFileBytes, .pssPeakBytes, .rssPeakBytes,
        .maxRSSBytes, .cpuNs, .guestMemTotalBytes, .guestMemAvailableBytes,
    ]

    public static func named(_ name: String) -> Metric {
        if let m = known.first(where: { $0.name == name }) { return m }
        if name.hasPrefix("work_") { return workload(String(name.dropFirst(5))) }
        return Metric(name: name, unit: "", lowerIsBetter: true, title: name)
    }
}
