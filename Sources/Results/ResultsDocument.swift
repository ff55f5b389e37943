import Foundation

/// One suite run: every sample with its provenance, written after every run.
/// The schema is documented in Benchmarks/README.md; bump `currentSchema` on incompatible changes.
/// In memory `schema` is always `currentSchema`: a v1 file loads to the same document as its v2 form.
public struct ResultsDocument: Codable, Sendable, Equatable {
    /// What `ResultsStore.write` writes (compact: see `ResultsFileV2`).
    public static let currentSchema = "boxbench.results/v2"
    /// Older schemas `ResultsStore.read` still loads.
    public static let legacySchemas = ["boxbench.results/v1"]

    public var schema: String
    public var suite: String
    public var startedAt: String
    public var finishedAt: String?
    /// True while the run is in progress or if it was interrupted before finishing.
    public var complete: Bool
    public var seed: UInt64
    public var host: HostInfo
    public var tool: ToolInfo
    public var plan: PlanSummary
    public var samples: [Sample]
    public var images: [ArtifactSize]
    public var layerSharing: [LayerSharing]
    public var density: [DensityPoint]
    public var isolation: [IsolationRecord]
    public var calibration: Calibration?
    public var notes: [String]
    /// The suite's arms with their configuration, once per arm (samples refer to them by `armKey`); nil in files
    /// written before it was recorded.
    public var armConfigs: [ArmRecord]?

    public init(
        suite: String, startedAt: String, seed: UInt64, host: HostInfo, tool: ToolInfo,
        plan: PlanSummary
    ) {
        self.schema = Self.currentSchema
        self.suite = suite
        self.startedAt = startedAt
        self.finishedAt = nil
        self.complete = false
        self.seed = seed
        self.host = host
        self.tool = tool
        self.plan = plan
        self.samples = []
        self.images = []
        self.layerSharing = []
        self.density = []
        self.isolation = []
        self.calibration = nil
        self.notes = []
    }
}

extension ResultsDocument {
    /// Visits every sample in place: `for sample in samples` copies each one (a retain per string, array and
    /// dictionary in it), which for 100 000 samples costs more than what most loops do with them.
    public func forEachSample(_ body: (UnsafePointer<Sample>) throws -> Void) rethrows {
        try samples.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for index in 0..<buffer.count { try body(base + index) }
        }
    }
}

/// The machine the numbers came from; two documents compare only if their `hostClass` matches.
public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var kernel: String
    public var cpuModel: String
    public var cpus: Int
    public var memTotalBytes: UInt64
    public var cgroupMode: String
    public var bootID: String

    public init(
        hostname: String, kernel: String, cpuModel: String, cpus: Int, memTotalBytes: UInt64,
        cgroupMode: String, bootID: String
    ) {
        self.hostname = hostname
        self.kernel = kernel
        self.cpuModel = cpuModel
        self.cpus = cpus
        self.memTotalBytes = memTotalBytes
        self.cgroupMode = cgroupMode
        self.bootID = bootID
    }

    /// Coarse identity of the hardware class: CPU model and core count (kernel patch level may differ).
    public var hostClass: String { "\(cpuModel) x\(cpus)" }
}

public struct ToolInfo: Codable, Sendable, Equatable {
    public var version: String
    public var commit: String
    public init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }
}

/// One arm of the suite as it was configured: what kind it is and with which engine and settings.
public struct ArmRecord: Codable, Sendable, Equatable {
    /// The arm's key in samples (`armKey`), as named in the suite.
    public var key: String
    /// "native", "container" or "vm": what the claims compare, whatever the arm is called.
    public var kind: String
    /// "native", "boxbench", "crun", "runc", "libvirt".
    public var engine: String
    /// VM arms only.
    public var accel: String?
    public var machine: String?
    public var rootfs: String?
    public var memoryMiB: Int?
    public var vcpus: Int?
    /// The binary the arm ran when the suite named one (`path:`: a second build of a runtime or QEMU).
    public var path: String?
    /// Container arms: how they reach the bench network in network workloads (bridge, host, none).
    public var network: String?
    /// What this arm's `memory_peak_bytes` counts (a cgroup, a parent group, the VM's machine group).
    public var memoryFigure: String?

    public init(
        key: String, kind: String, engine: String, accel: String? = nil, machine: String? = nil,
        rootfs: String? = nil, memoryMiB: Int? = nil, vcpus: Int? = nil, path: String? = nil,
        network: String? = nil, memoryFigure: String? = nil
    ) {
        self.network = network
        self.path = path
        self.memoryFigure = memoryFigure
        self.key = key
        self.kind = kind
        self.engine = engine
        self.accel = accel
        self.machine = machine
        self.rootfs = rootfs
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
    }
}

public struct PlanSummary: Codable, Sendable, Equatable {
    public var arms: [String]
    public var workloads: [String]
    public var repetitions: Int
    public var warmups: Int
    public var timeoutSeconds: Double
    public var cacheMode: String
    public var order: [String]
    public init(
        arms: [String], workloads: [String], repetitions: Int, warmups: Int,
        timeoutSeconds: Double, cacheMode: String, order: [String] = []
    ) {
        self.arms = arms
        self.workloads = workloads
        self.repetitions = repetitions
        self.warmups = warmups
        self.timeoutSeconds = timeoutSeconds
        self.cacheMode = cacheMode
        self.order = order
    }
}

/// Where a sample came from. Never omit `accel` for a VM sample: a TCG figure is not a KVM figure.
public struct Provenance: Codable, Sendable, Equatable {
    /// "native", "container" or "vm".
    public var arm: String
    /// "native", "boxbench", "crun", "runc", "libvirt".
    public var engine: String
    /// "kvm" or "tcg" for VM samples; nil otherwise.
    public var accel: String?
    public var machineType: String?
    public var cgroupMode: String
    public var kernel: String
    public var cpuModel: String
    public var boxbenchVersion: String
    public var commit: String
    /// "warm" or "cold".
    public var cacheMode: String
    public var seed: UInt64
    public var repetition: Int
    public var startedAt: String
    public var finishedAt: String
    /// The seccomp profile the arm's process ran under: "name vVERSION, N syscalls allowed"; nil where none (native,
    /// VM guests) or where the engine applies its own.
    public var seccomp: String?

    public init(
        arm: String, engine: String, accel: String?, machineType: String?, cgroupMode: String,
        kernel: String, cpuModel: String, boxbenchVersion: String, commit: String, cacheMode: String,
        seed: UInt64, repetition: Int, startedAt: String, finishedAt: String, seccomp: String? = nil
    ) {
        self.seccomp = seccomp
        self.arm = arm
        self.engine = engine
        self.accel = accel
        self.machineType = machineType
        self.cgroupMode = cgroupMode
        self.kernel = kernel
        self.cpuModel = cpuModel
        self.boxbenchVersion = boxbenchVersion
        self.commit = commit
        self.cacheMode = cacheMode
        self.seed = seed
        self.repetition = repetition
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

public enum SampleStatus: String, Codable, Sendable {
    case ok
    case nonZeroExit = "non-zero-exit"
    case failed
    case timeout
    case oomKilled = "oom-killed"
    case signaled
}

/// A named duration inside one run, measured on the host monotonic clock from the launch call.
public struct Phase: Codable, Sendable, Equatable {
    public var name: String
    public var ms: Double
    public init(name: String, ms: Double) {
        self.name = name
        self.ms = ms
    }
}

public struct Sample: Codable, Sendable, Equatable {
    /// Display key of the arm variant, e.g. "native", "container", "container-runc", "vm".
    public var armKey: String
    public var workload: String
    public var repetition: Int
    public var status: SampleStatus
    public var failure: String?
    public var exitCode: Int32?
    /// Flat metrics; names are listed in `Metric` and carry their unit.
    public var metrics: [String: Double]
    public var phases: [Phase]
    /// SHA-256 of the workload's stdout with timing lines removed: equal across arms ⇒ same behaviour (C7).
    public var outputDigest: String?
    public var provenance: Provenance

    public init(
        armKey: String, workload: String, repetition: Int, status: SampleStatus, failure: String? = nil,
        exitCode: Int32? = nil, metrics: [String: Double] = [:], phases: [Phase] = [],
        outputDigest: String? = nil, provenance: Provenance
    ) {
        self.armKey = armKey
        self.workload = workload
        self.repetition = repetition
        self.status = status
        self.failure = failure
        self.exitCode = exitCode
        self.metrics = metrics
        self.phases = phases
        self.outputDigest = outputDigest
        self.provenance = provenance
    }
}

/// Bytes of one component of what an arm needs to run an image (C4).
public struct ArtifactSize: Codable, Sendable, Equatable {
    public var image: String
    public var armKey: String
    /// e.g. "layers-compressed", "layers-uncompressed", "kernel", "initramfs", "disk-allocated", "disk-virtual".
    public var component: String
    public var bytes: UInt64
    public init(image: String, armKey: String, component: String, bytes: UInt64) {
        self.image = image
        self.armKey = armKey
        self.component = component
        self.bytes = bytes
    }
}

/// Layer reuse between an image and its base (C5).
public struct LayerSharing: Codable, Sendable, Equatable {
    public var image: String
    public var base: String
    public var imageCompressedBytes: UInt64
    public var sharedCompressedBytes: UInt64
    public var bytesToPullGivenBase: UInt64
    /// Layers created when only the last Dockerfile step changed; nil if not measured.
    public var newLayersOnLastStepRebuild: Int?
    public init(
        image: String, base: String, imageCompressedBytes: UInt64, sharedCompressedBytes: UInt64,
        bytesToPullGivenBase: UInt64, newLayersOnLastStepRebuild: Int?
    ) {
        self.image = image
        self.base = base
        self.imageCompressedBytes = imageCompressedBytes
        self.sharedCompressedBytes = sharedCompressedBytes
        self.bytesToPullGivenBase = bytesToPullGivenBase
        self.newLayersOnLastStepRebuild = newLayersOnLastStepRebuild
    }
}

/// Host memory per instance with N idle instances running at once (C2 density).
public struct DensityPoint: Codable, Sendable, Equatable {
    public var armKey: String
    public var accel: String?
    public var instances: Int
    public var memoryPerInstanceBytes: Double
    public var startMsMedian: Double
    public init(
        armKey: String, accel: String?, instances: Int, memoryPerInstanceBytes: Double,
        startMsMedian: Double
    ) {
        self.armKey = armKey
        self.accel = accel
        self.instances = instances
        self.memoryPerInstanceBytes = memoryPerInstanceBytes
        self.startMsMedian = startMsMedian
    }
}

/// One isolation probe inside one arm (C6): `blocked` true means the attempt failed as it should.
public struct IsolationRecord: Codable, Sendable, Equatable {
    public var armKey: String
    public var probe: String
    public var blocked: Bool
    public var detail: String
    public init(armKey: String, probe: String, blocked: Bool, detail: String) {
        self.armKey = armKey
        self.probe = probe
        self.blocked = blocked
        self.detail = detail
    }
}

/// Harness overhead check: native `hello` in the runner vs `hyperfine -N` on the same binary.
public struct Calibration: Codable, Sendable, Equatable {
    /// Median `startup_exit_ms` of the native arm's `hello`, over every recorded harness run.
    public var harnessMedianMs: Double
    /// Median wall time `hyperfine -N` reported for the same binary, over every recorded hyperfine run.
    public var hyperfineMedianMs: Double
    /// Harness ÷ hyperfine: the median of the per-round ratios when rounds were recorded (each round compares
    /// runs made side by side, so drift between rounds cancels), else the ratio of the two medians.
    public var ratio: Double
    public var withinTolerance: Bool
    /// |ratio − 1| allowed (0.10); absent in files written before it was recorded.
    public var tolerance: Double?
    /// `harnessMedianMs ÷ hyperfineMedianMs`, recorded next to the paired `ratio`.
    public var pooledRatio: Double?
    /// Interleaved rounds (each: a block of harness runs and a hyperfine invocation, order alternating) and
    /// recorded runs per side; absent in files written before the comparison was interleaved.
    public var rounds: Int?
    public var runsPerSide: Int?
    /// Each round's harness median ÷ hyperfine median, in round order.
    public var roundRatios: [Double]?
    public init(
        harnessMedianMs: Double, hyperfineMedianMs: Double, tolerance: Double = 0.10, rounds: Int? = nil,
        runsPerSide: Int? = nil, roundRatios: [Double]? = nil
    ) {
        self.harnessMedianMs = harnessMedianMs
        self.hyperfineMedianMs = hyperfineMedianMs
        let pooled = hyperfineMedianMs > 0 ? harnessMedianMs / hyperfineMedianMs : .nan
        let sorted = (roundRatios ?? []).sorted()
        if sorted.isEmpty {
            self.ratio = pooled
        } else {
            let mid = sorted.count / 2
            self.ratio = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        }
        self.withinTolerance = abs(ratio - 1) <= tolerance
        self.tolerance = tolerance
        self.pooledRatio = pooled
        self.rounds = rounds
        self.runsPerSide = runsPerSide
        self.roundRatios = roundRatios
    }
}
