/// What one run measured: a core every arm fills the same way, typed extras per kind, and the values the workload
/// (or its load client) reported, parsed once from its output. Absent values are absent, never zero.
public struct Measurements: Codable, Sendable, Equatable {
    /// Launch → first byte of output, and launch → exit, on the host's monotonic clock.
    public var firstOutputMs: Double?
    public var exitMs: Double?
    /// Container and VM arms: launch → created (ready, not started), and start → exit.
    public var createMs: Double?
    public var startMs: Double?
    /// Host memory: the peak and the value at workload start of what the arm's `memoryFigure` says it counts.
    public var memoryPeakBytes: Double?
    public var memoryCurrentBytes: Double?
    /// CPU time the host spent on the run (cgroup usage, or libvirt's for a VM).
    public var cpuNs: Double?
    /// Named moments from the launch call (container: created, started, …; VM: create-returned, guest-init, …).
    public var phases: [Phase]
    /// Arms measured through a cgroup: the memory.stat split of the peak (empty elsewhere, and then not written).
    public var cgroup: CgroupMeasurements
    /// VM arms: the accelerator the guest ran with, and what QEMU and the guest report (empty elsewhere).
    public var vm: VMMeasurements
    /// Values the workload printed (`bbwork: key=value`, sysbench) or its load client reported, by key; the key's
    /// suffix is the unit (`_ns`, `_ms`, `_bytes`, `_per_s`).
    public var workload: [String: Double]

    public init(
        firstOutputMs: Double? = nil, exitMs: Double? = nil, createMs: Double? = nil, startMs: Double? = nil,
        memoryPeakBytes: Double? = nil, memoryCurrentBytes: Double? = nil, cpuNs: Double? = nil,
        phases: [Phase] = [], cgroup: CgroupMeasurements = .init(), vm: VMMeasurements = .init(),
        workload: [String: Double] = [:]
    ) {
        self.firstOutputMs = firstOutputMs
        self.exitMs = exitMs
        self.createMs = createMs
        self.startMs = startMs
        self.memoryPeakBytes = memoryPeakBytes
        self.memoryCurrentBytes = memoryCurrentBytes
        self.cpuNs = cpuNs
        self.phases = phases
        self.cgroup = cgroup
        self.vm = vm
        self.workload = workload
    }

    private enum CodingKeys: String, CodingKey {
        case firstOutputMs, exitMs, createMs, startMs, memoryPeakBytes, memoryCurrentBytes, cpuNs, cgroup, vm
        case phaseNames, phaseMs, workload
    }

    /// Phases are two parallel arrays (`phaseNames`, `phaseMs`): a VM sample has nine, and nine small objects per
    /// sample cost more to decode than the rest of it. `phases`, `cgroup`, `vm` and `workload` may be absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        firstOutputMs = try c.decodeIfPresent(Double.self, forKey: .firstOutputMs)
        exitMs = try c.decodeIfPresent(Double.self, forKey: .exitMs)
        createMs = try c.decodeIfPresent(Double.self, forKey: .createMs)
        startMs = try c.decodeIfPresent(Double.self, forKey: .startMs)
        memoryPeakBytes = try c.decodeIfPresent(Double.self, forKey: .memoryPeakBytes)
        memoryCurrentBytes = try c.decodeIfPresent(Double.self, forKey: .memoryCurrentBytes)
        cpuNs = try c.decodeIfPresent(Double.self, forKey: .cpuNs)
        let names = try c.decodeIfPresent([String].self, forKey: .phaseNames) ?? []
        let ms = try c.decodeIfPresent([Double].self, forKey: .phaseMs) ?? []
        guard names.count == ms.count else {
            throw DecodingError.dataCorruptedError(
                forKey: .phaseMs, in: c, debugDescription: "\(ms.count) values for \(names.count) phaseNames")
        }
        phases = zip(names, ms).map { Phase(name: $0, ms: $1) }
        cgroup = try c.decodeIfPresent(CgroupMeasurements.self, forKey: .cgroup) ?? .init()
        vm = try c.decodeIfPresent(VMMeasurements.self, forKey: .vm) ?? .init()
        workload = try c.decodeIfPresent([String: Double].self, forKey: .workload) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(firstOutputMs, forKey: .firstOutputMs)
        try c.encodeIfPresent(exitMs, forKey: .exitMs)
        try c.encodeIfPresent(createMs, forKey: .createMs)
        try c.encodeIfPresent(startMs, forKey: .startMs)
        try c.encodeIfPresent(memoryPeakBytes, forKey: .memoryPeakBytes)
        try c.encodeIfPresent(memoryCurrentBytes, forKey: .memoryCurrentBytes)
        try c.encodeIfPresent(cpuNs, forKey: .cpuNs)
        if !phases.isEmpty {
            try c.encode(phases.map(\.name), forKey: .phaseNames)
            try c.encode(phases.map(\.ms), forKey: .phaseMs)
        }
        if cgroup != .init() { try c.encode(cgroup, forKey: .cgroup) }
        if vm != .init() { try c.encode(vm, forKey: .vm) }
        if !workload.isEmpty { try c.encode(workload, forKey: .workload) }
    }

    /// The typed fields and their catalogue metric, in one table: `byName` and `init(byName:)` both read it.
    private static let fields: [(Metric, any WritableKeyPath<Measurements, Double?> & Sendable)] = [
        (.startupFirstOutputMs, \.firstOutputMs), (.startupExitMs, \.exitMs), (.createMs, \.createMs),
        (.startMs, \.startMs), (.memoryPeakBytes, \.memoryPeakBytes), (.memoryCurrentBytes, \.memoryCurrentBytes),
        (.cpuNs, \.cpuNs), (.memoryAnonBytes, \.cgroup.anonBytes), (.memoryFileBytes, \.cgroup.fileBytes),
        (.pssPeakBytes, \.vm.pssPeakBytes), (.rssPeakBytes, \.vm.rssPeakBytes),
        (.guestMemTotalBytes, \.vm.guestMemTotalBytes), (.guestMemAvailableBytes, \.vm.guestMemAvailableBytes),
    ]

    /// The catalogue names of the typed fields, in the order `forEachValue` reports them.
    public static let typedMetricNames: [String] = fields.map(\.0.name)

    /// Every value without building a dictionary: each typed value present with its index in `typedMetricNames`,
    /// then each workload value by its key (without `work_`). For loops over 100 000 samples: the fields are read
    /// directly (a key path read per field costs more than the rest of the loop), in `fields`' order.
    public func forEachValue(typed: (Int, Double) -> Void, workload: (String, Double) -> Void) {
        if let v = firstOutputMs { typed(0, v) }
        if let v = exitMs { typed(1, v) }
        if let v = createMs { typed(2, v) }
        if let v = startMs { typed(3, v) }
        if let v = memoryPeakBytes { typed(4, v) }
        if let v = memoryCurrentBytes { typed(5, v) }
        if let v = cpuNs { typed(6, v) }
        if let v = cgroup.anonBytes { typed(7, v) }
        if let v = cgroup.fileBytes { typed(8, v) }
        if let v = vm.pssPeakBytes { typed(9, v) }
        if let v = vm.rssPeakBytes { typed(10, v) }
        if let v = vm.guestMemTotalBytes { typed(11, v) }
        if let v = vm.guestMemAvailableBytes { typed(12, v) }
        for (key, v) in self.workload { workload(key, v) }
    }

    /// Every value by its catalogue name: the typed fields under their `Metric` names, the workload's as
    /// `work_<key>`. What the statistics, the history and the exports iterate.
    public var byName: [String: Double] {
        var values = [String: Double](minimumCapacity: Self.fields.count + workload.count)
        forEachValue(
            typed: { values[Self.typedMetricNames[$0]] = $1 }, workload: { values["work_" + $0] = $1 })
        return values
    }

    /// One value by its catalogue name, without building the dictionary.
    public func value(_ name: String) -> Double? {
        if name.hasPrefix("work_") { return workload[String(name.dropFirst(5))] }
        return Self.fields.first { $0.0.name == name }.flatMap { self[keyPath: $0.1] }
    }

    /// The inverse of `byName` (files written before measurements were typed); names outside the catalogue that
    /// are not `work_…` are dropped (v1 and v2 VM samples carried the arm's `vcpus`, now in its record).
    public init(byName values: [String: Double], phases: [Phase] = [], accel: String? = nil, machineType: String? = nil)
    {
        self.init(phases: phases, vm: VMMeasurements(accel: accel, machineType: machineType))
        for (name, v) in values {
            if name.hasPrefix("work_") {
                workload[String(name.dropFirst(5))] = v
            } else if let path = Self.fields.first(where: { $0.0.name == name })?.1 {
                self[keyPath: path] = v
            }
        }
    }
}

/// The memory.stat split of a cgroup's memory.
public struct CgroupMeasurements: Codable, Sendable, Equatable {
    public var anonBytes: Double?
    public var fileBytes: Double?
    public init(anonBytes: Double? = nil, fileBytes: Double? = nil) {
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
    }
}

/// What only a VM has: the accelerator it ran with (never present a TCG figure as a KVM one), the machine type,
/// QEMU's own memory as PSS and RSS (a second view beside the machine cgroup), and the guest's view of its memory.
public struct VMMeasurements: Codable, Sendable, Equatable {
    /// "kvm" or "tcg": what the guest ran with, which an `auto` arm learns only at launch.
    public var accel: String?
    public var machineType: String?
    public var pssPeakBytes: Double?
    public var rssPeakBytes: Double?
    public var guestMemTotalBytes: Double?
    public var guestMemAvailableBytes: Double?
    public init(
        accel: String? = nil, machineType: String? = nil, pssPeakBytes: Double? = nil, rssPeakBytes: Double? = nil,
        guestMemTotalBytes: Double? = nil, guestMemAvailableBytes: Double? = nil
    ) {
        self.accel = accel
        self.machineType = machineType
        self.pssPeakBytes = pssPeakBytes
        self.rssPeakBytes = rssPeakBytes
        self.guestMemTotalBytes = guestMemTotalBytes
        self.guestMemAvailableBytes = guestMemAvailableBytes
    }
}
