import Foundation

/// Where boxbench keeps things on a host; each root can be moved with an environment variable.
public struct BoxbenchPaths: Sendable {
    /// Downloaded or derived artifacts that can be rebuilt: guest kernel, workload kit, guest images.
    public var cache: String
    /// Durable state: the image store, the embedded libvirt root (its capability cache).
    public var state: String
    /// Per-run volatile state: container roots, locks; must be on a tmpfs-like fs that dies with the boot.
    public var run: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init { environment[$0] }
    }

    /// The roots from `variable`, which looks an environment variable up.
    init(variable: (String) -> String?) {
        cache = variable("BOXBENCH_CACHE") ?? "/var/cache/boxbench"
        state = variable("BOXBENCH_STATE") ?? "/var/lib/boxbench"
        run = variable("BOXBENCH_RUN") ?? "/run/boxbench"
    }

    /// The roots from this process's environment, read with getenv: the OCI runtime's commands need one of them and
    /// not the cost of ProcessInfo's whole environment dictionary (nor of any Dictionary's first use).
    public static func current() -> BoxbenchPaths {
        BoxbenchPaths { getenv($0).map { String(cString: $0) } }
    }

    /// Compiled seccomp programs, by profile (the container runtime's SeccompFilterStore).
    public var seccompFilters: String { cache + "/seccomp" }

    /// Debian cloud kernel unpacked by scripts/setup: `vmlinuz`, `modules/`, `version`.
    public var kernelDir: String { cache + "/kernel/current" }
    public var kernelImage: String { kernelDir + "/vmlinuz" }
    public var kernelModules: String { kernelDir + "/modules" }
    /// Static binaries built by scripts/setup: `boxbench-init` (guest PID 1) and `bbwork` (workloads).
    public var kitDir: String { ProcessInfo.processInfo.environment["BOXBENCH_KIT"] ?? cache + "/kit" }
    public var guestInit: String { kitDir + "/boxbench-init" }
    public var workloadBinary: String { kitDir + "/bbwork" }
    /// Guest artifacts (initramfs, disk images) cached by image digest + kernel version.
    public var guestArtifacts: String { cache + "/guests" }
    /// OCI image-layout store.
    public var imageStore: String { state + "/images" }
    /// Unpacked layers, one directory per diff_id, shared as overlay lowerdirs.
    public var layerCache: String { state + "/layers" }
    /// Root of libvirt's embedded driver; kept short (UNIX socket paths ≤ 108 bytes).
    public var libvirtEmbedRoot: String { state + "/libvirt" }
    /// The embedded root the test process uses: libvirt allows one embedded driver per process, so every test
    /// that boots a guest shares it (and a concurrent `boxbench doctor` keeps its own).
    public var libvirtTestEmbedRoot: String { state + "/libvirt-test" }
    /// I/O workloads' data volumes (host directories and VM disk files): on the state root, a real filesystem where
    /// O_DIRECT works (the run root may be a tmpfs).
    public var volumes: String { state + "/volumes" }
    /// Container runtime state (one directory per container id).
    public var containers: String { run + "/containers" }
    /// Doctor's cached slow probes, keyed by host boot id.
    public var doctorCache: String { cache + "/doctor.json" }
}
