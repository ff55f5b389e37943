/// Hardware acceleration a guest ran with; recorded in every result (never report TCG as KVM).
public enum Accel: String, Sendable, Codable, CaseIterable {
    case kvm, tcg
    var domainType: DomainSpec.DomainType { self == .kvm ? .kvm : .qemu }
}

/// What the user asked for: `auto` means KVM only if a probe guest really boots under it, else TCG.
public enum AccelChoice: String, Sendable, Codable, CaseIterable { case auto, kvm, tcg }

/// One boot: everything measured, on the host monotonic clock from the launch call.
public struct VMRunResult: Sendable, Codable, Equatable {
    public struct Phase: Sendable, Codable, Equatable {
        public var name: String
        public var ms: Double
        public init(name: String, ms: Double) {
            self.name = name
            self.ms = ms
        }
    }

    public struct Memory: Sendable, Codable, Equatable {
        public var qemuPeakPssBytes: UInt64?
        public var qemuPeakRssBytes: UInt64?
        public var qemuPssAtWorkloadStartBytes: UInt64?
        public var qemuRssAtWorkloadStartBytes: UInt64?
        public var samples: Int = 0
        /// The VM's cgroup (libvirt's machine group), last values read while it existed.
        public var cgroupCurrentBytes: UInt64?
        public var cgroupPeakBytes: UInt64?
        /// `virDomainMemoryStats` (KiB per tag), last read; only `rss` unless the guest runs virtio_balloon.
        public var balloonKiB: [String: UInt64] = [:]
        /// What the guest itself reported (BOXBENCH-MEM line).
        public var guestMemTotalKiB: UInt64?
        public var guestMemAvailableKiB: UInt64?
        /// Where QEMU PSS/RSS came from.
        public var smapsSource = "/proc/<qemu pid>/smaps_rollup (Probes.SmapsRollup)"
    }

    public struct CPU: Sendable, Codable, Equatable {
        /// libvirt `cpu_time` (virDomainGetCPUStats), last read before the domain went away.
        public var libvirtCpuTimeNs: UInt64?
        /// QEMU's utime+stime from /proc/<pid>/stat, last read.
        public var qemuCpuMs: Double?
    }

    public struct Sizes: Sendable, Codable, Equatable {
        public var kernelPath: String
        public var initrdPath: String
        public var diskPath: String?
        public var kernelBytes: UInt64
        public var initrdBytes: UInt64
        public var diskAllocatedBytes: UInt64?
        public var diskVirtualBytes: UInt64?
    }

    public var domainName: String
    public var uri: String
    public var accel: Accel
    public var machine: DomainSpec.Machine
    public var rootfsMode: RootfsMode
    public var memoryMiB: Int
    public var vcpus: Int
    public var startPaused: Bool
    /// The workload's exit code (128+N when killed by signal N); nil when it never reported one.
    public var exitCode: Int32?
    public var exitSignal: Int32?
    /// The workload's console output (stdout and stderr interleaved), lossy UTF-8.
    public var output: String
    /// In order: connected (if opened by this run), create-returned, qemu-alive, resume-returned (paused split),
    /// guest-init, workload-start, first-output, workload-exit, poweroff, domain-gone.
    public var phases: [Phase]
    /// libvirt lifecycle events as they arrived (name, ms).
    public var lifecycle: [Phase]
    /// Guest CLOCK_BOOTTIME when init started (kernel boot time as the guest saw it).
    public var guestBootToInitMs: Double?
    /// Guest CLOCK_MONOTONIC from workload start to exit.
    public var guestWorkloadMs: Double?
    public var memory: Memory
    public var cpu: CPU
    public var sizes: Sizes
    public var qemuPid: Int32?
    public var timedOut: Bool
    public var cancelled: Bool
    /// Why the run did not end with a reported workload exit (nil when it did).
    public var failure: String?
    /// Guest-side errors (`BOXBENCH-ERROR …`).
    public var guestErrors: [String]
    /// Guest-side warnings (`BOXBENCH-WARN …`).
    public var guestWarnings: [String]
    /// Last console lines, kept when something went wrong.
    public var consoleTail: String?

    public func phaseMs(_ name: String) -> Double? { phases.first { $0.name == name }?.ms }
}
