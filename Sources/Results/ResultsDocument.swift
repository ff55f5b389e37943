import Foundation

/// One suite run: the arms with their configuration once, then every sample referring to its arm by key. This is
/// the shape of `results.json` (schema v3) and of the document in memory: one `Codable` schema, no expansion.
/// Older files (v1: provenance in every sample; v2: compact tables) load through `LegacyResults` into this shape.
public struct ResultsDocument: Codable, Sendable, Equatable {
    public static let currentSchema = "boxbench.results/v3"
    /// Older schemas `ResultsStore.read` still loads (converted on read, never written).
    public static let legacySchemas = ["boxbench.results/v1", "boxbench.results/v2"]

    public var schema: String
    public var suite: String
    public var startedAt: String
    public var finishedAt: String?
    /// True while the run is in progress or if it was interrupted before finishing.
    public var complete: Bool
    public var seed: UInt64
    /// Where every sample ran: kernel, CPU and cgroup mode, once per document.
    public var host: HostInfo
    public var tool: ToolInfo
    public var plan: PlanSummary
    /// The suite's arms with their configuration and the run-level facts of each (engine version, seccomp
    /// profile, what its memory figure counts), once per arm; samples name their arm by `ArmRecord.key`.
    public var arms: [ArmRecord]
    public var samples: [Sample]
    public var images: [ArtifactSize]
    public var layerSharing: [LayerSharing]
    public var density: [DensityPoint]
    public var isolation: [IsolationRecord]
    public var calibration: Calibration?
    public var notes: [String]

    public init(
        suite: String, startedAt: String, seed: UInt64, host: HostInfo, tool: ToolInfo,
        plan: PlanSummary, arms: [ArmRecord] = []
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
        self.arms = arms
        self.samples = []
        self.images = []
        self.layerSharing = []
        self.density = []
        self.isolation = []
        self.calibration = nil
        self.notes = []
    }

    /// The record of the arm a sample names; nil for a key the document does not describe.
    public func arm(_ key: String) -> ArmRecord? { arms.first { $0.key == key } }

    /// Arm records by key (for loops over many samples).
    public var armsByKey: [String: ArmRecord] {
        Dictionary(arms.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
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

/// The kinds of arm the claims compare: a process on the host, a container (any engine), a virtual machine.
public enum ArmKind: String, Codable, Sendable, Equatable, CaseIterable {
    case native
    case container
    case vm
}

/// One arm of the suite as it was configured: what kind it is and with which engine and settings.
public struct ArmRecord: Codable, Sendable, Equatable {
    /// The arm's key in samples (`armKey`), as named in the suite.
    public var key: String
    /// What the claims compare, whatever the arm is called.
    public var kind: ArmKind
    /// "native", "boxbench", "crun", "runc", "libvirt".
    public var engine: String
    /// What the engine reported as its version (`crun --version`'s first line; libvirt's and QEMU's); nil where the
    /// tool's version (boxbench) or the host's kernel (native) says it.
    public var engineVersion: String?
    /// VM arms only.
    public var accel: String?
    public var machine: String?
    public var rootfs: String?
    /// VM arms: "minimal" or "full-os"; nil in files written before full-OS guests.
    public var guest: String?
    public var memoryMiB: Int?
    public var vcpus: Int?
    /// The binary the arm ran when the suite named one (`path:`: a second build of a runtime or QEMU).
    public var path: String?
    /// Container arms: how they reach the bench network in network workloads (bridge, host, none).
    public var network: String?
    /// What this arm's `memory_peak_bytes` counts (a cgroup, a parent group, the VM's machine group).
    public var memoryFigure: String?
    /// The seccomp profile the arm's process ran under: "name vVERSION, N syscalls allowed"; nil where none
    /// (native, VM guests) or where the engine applies its own.
    public var seccomp: String?

    public init(
        key: String, kind: ArmKind, engine: String, engineVersion: String? = nil, accel: String? = nil,
        machine: String? = nil,
        rootfs: String? = nil, guest: String? = nil, memoryMiB: Int? = nil, vcpus: Int? = nil, path: String? = nil,
        network: String? = nil, memoryFigure: String? = nil, seccomp: String? = nil
    ) {
        self.seccomp = seccomp
        self.engineVersion = engineVersion
        self.network = network
        self.path = path
        self.memoryFigure = memoryFigure
        self.key = key
        self.kind = kind
        self.engine = engine
        self.accel = accel
        self.machine = machine
        self.rootfs = rootfs
        self.guest = guest
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

/// One run of one workload in one arm. Run-level facts (engine, accel asked for, kernel, versions) are in the
/// document's `arms` and `host`, not copied here.
public struct Sample: Codable, Sendable, Equatable {
    /// The `ArmRecord.key` of the arm it ran in.
    public var arm: String
    public var workload: String
    public var repetition: Int
    public var status: SampleStatus
    public var failure: String?
    public var exitCode: Int32?
    public var startedAt: String
    public var finishedAt: String
    public var measurements: Measurements
    /// SHA-256 of the workload's stdout with timing lines removed: equal across arms ⇒ same behaviour (C7).
    public var outputDigest: String?

    public init(
        arm: String, workload: String, repetition: Int, status: SampleStatus, failure: String? = nil,
        exitCode: Int32? = nil, startedAt: String = "", finishedAt: String = "",
        measurements: Measurements = Measurements(), outputDigest: String? = nil
    ) {
        self.arm = arm
        self.workload = workload
        self.repetition = repetition
        self.status = status
        self.failure = failure
        self.exitCode = exitCode
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.measurements = measurements
        self.outputDigest = outputDigest
    }

    private enum CodingKeys: String, CodingKey {
        case arm, workload, repetition, status, failure, exitCode, startedAt, finishedAt, measurements, outputDigest
    }

    /// Synthesized but for `exitCode`: a number outside Int32 is named as a bad value of that field (Foundation's
    /// own error for it names no field).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        arm = try c.decode(String.self, forKey: .arm)
        workload = try c.decode(String.self, forKey: .workload)
        repetition = try c.decode(Int.self, forKey: .repetition)
        status = try c.decode(SampleStatus.self, forKey: .status)
        failure = try c.decodeIfPresent(String.self, forKey: .failure)
        if let code = try c.decodeIfPresent(Double.self, forKey: .exitCode) {
            guard let exact = Int32(exactly: code) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .exitCode, in: c, debugDescription: "\(code) is not a 32-bit exit code")
            }
            exitCode = exact
        } else {
            exitCode = nil
        }
        startedAt = try c.decode(String.self, forKey: .startedAt)
        finishedAt = try c.decode(String.self, forKey: .finishedAt)
        measurements = try c.decode(Measurements.self, forKey: .measurements)
        outputDigest = try c.decodeIfPresent(String.self, forKey: .outputDigest)
    }

    /// Every measured value by its catalogue name (`Metric`), for the statistics that treat metrics alike. Setting
    /// it replaces every value (phases and the VM's accel and machine type stay).
    public var metrics: [String: Double] {
        get { measurements.byName }
        set {
            measurements = Measurements(
                byName: newValue, phases: measurements.phases, accel: measurements.vm.accel,
                machineType: measurements.vm.machineType)
        }
    }
    public var phases: [Phase] { measurements.phases }
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
    /// The same question over the wire: real pushes and pulls through a loopback registry; nil if not measured.
    public var wire: WireTransfer?
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

/// C5 measured with real transfers (OCI distribution API) to and from a registry on 127.0.0.1: bytes that crossed
/// the connection, blobs plus manifests.
public struct WireTransfer: Codable, Sendable, Equatable {
    /// What served them, e.g. "docker-registry github.com/docker/distribution 2.8.2+ds1 on 127.0.0.1".
    public var registry: String
    /// Pushing the image to a repository that has nothing.
    public var pushAloneBytes: UInt64
    /// Pushing the image to a repository that already holds its base.
    public var pushGivenBaseBytes: UInt64
    /// Pulling the image into a store that already holds its base.
    public var pullGivenBaseBytes: UInt64
    /// Pushing a rebuild whose last step changed, after the build before it: bytes and the layer blobs sent.
    public var pushAfterLastStepChangeBytes: UInt64?
    public var layersSentAfterLastStepChange: Int?

    public init(
        registry: String, pushAloneBytes: UInt64, pushGivenBaseBytes: UInt64, pullGivenBaseBytes: UInt64,
        pushAfterLastStepChangeBytes: UInt64? = nil, layersSentAfterLastStepChange: Int? = nil
    ) {
        self.registry = registry
        self.pushAloneBytes = pushAloneBytes
        self.pushGivenBaseBytes = pushGivenBaseBytes
        self.pullGivenBaseBytes = pullGivenBaseBytes
        self.pushAfterLastStepChangeBytes = pushAfterLastStepChangeBytes
        self.layersSentAfterLastStepChange = layersSentAfterLastStepChange
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
