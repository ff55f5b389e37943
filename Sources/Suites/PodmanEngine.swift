import Containers
import Foundation
import Probes
import Results

/// podman as a user runs it (`podman run --rm`), on the suite's image copied into a containers-storage of boxbench's
/// own (`<state>/podman`, `<run>/podman`: the user's podman images and containers are never touched). Limits and
/// the network mode are the other container arms'; memory and CPU come from a boxbench-owned `--cgroup-parent`
/// (podman makes the container's group and conmon's below it), reset before each run, as for crun and runc.
public final class PodmanEngine: Engine, Sendable {
    public let arm: ArmSpec
    let podman: String
    let paths: BoxbenchPaths
    let layout: CgroupLayout
    /// The OCI runtime podman uses: crun refuses this host's hybrid cgroups (the crun arm hides the v2 mount for
    /// it, which podman cannot), so podman runs runc here and says so.
    let runtime: String
    public var engineName: String { "podman" }
    public var memoryFigure: String {
        "peak of a boxbench-owned --cgroup-parent of the container, reset before each run (includes conmon and the runtime's init)"
    }
    public var seccompProfile: String? { "podman's default profile (containers-common)" }

    public init(arm: ArmSpec, path: String? = nil, paths: BoxbenchPaths = BoxbenchPaths()) {
        self.arm = arm
        self.podman = path ?? "/usr/bin/podman"
        self.paths = paths
        self.layout = .detect()
        self.runtime = layout.mode == .hybrid ? "/usr/sbin/runc" : "/usr/bin/crun"
    }

    public func engineVersion() -> String? {
        [programVersion(podman), "OCI runtime " + (programVersion(runtime) ?? runtime)].compactMap { $0 }
            .joined(separator: ", ")
    }

    /// Where podman keeps its images, containers and state for boxbench.
    var storageRoot: String { paths.state + "/podman/storage" }
    var runRoot: String { paths.run + "/podman" }
    /// Options every podman call takes: boxbench's storage, cgroupfs (no systemd here), no event log.
    var globalArgs: [String] {
        [
            "--root", storageRoot, "--runroot", runRoot, "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
            "--events-backend", "none", "--runtime", runtime,
        ]
    }

    /// `podman-<pid>-<arm>-<workload>`: the cgroup parent boxbench owns and reads.
    func parentName(_ workload: WorkloadSpec) -> String { "boxbench/" + OwnedName.podman.name(arm.name, workload.name) }

    func parentCgroup(_ workload: WorkloadSpec) -> any CgroupManager {
        makeCgroupManager(name: parentName(workload), layout: layout)
    }

    /// The image's name in podman's storage: the store's tag, under `localhost/`.
    static func podmanReference(_ image: PreparedImage) -> String? { image.reference.map { "localhost/" + $0 } }

    func podmanCall(_ args: [String], timeout: Duration = .seconds(120)) throws -> HostProcessResult {
        try HostProcess.run(
            HostProcessRequest(
                path: podman, args: ["podman"] + globalArgs + args,
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
                timeout: timeout))
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] {
        try prepare(image, workload: workload, network: nil)
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec, network: RunNetwork?) throws -> [ArtifactSize] {
        guard access(podman, X_OK) == 0 else {
            throw EngineUnavailable(reason: "\(podman) is not installed or not executable (scripts/setup installs it)")
        }
        guard let source = image.reference, let reference = Self.podmanReference(image) else {
            throw EngineUnavailable(reason: "\(workload.name): the image has no tag in boxbench's store to copy")
        }
        // Copied once: podman's storage keeps it (an image of the same tag is the same bytes).
        if try podmanCall(["image", "exists", reference]).exit != .exited(0) {
            let copy = try HostProcess.run(
                HostProcessRequest(
                    path: "/usr/bin/skopeo",
                    args: [
                        "skopeo", "copy", "--quiet", "oci:\(paths.imageStore):\(source)",
                        "containers-storage:[overlay@\(storageRoot)+\(runRoot)]\(reference)",
                    ],
                    env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], timeout: .seconds(300)))
            guard copy.exit == .exited(0) else {
                throw EngineUnavailable(
                    reason: "skopeo copy of \(source) into podman's storage: \(copy.exit): "
                        + String(decoding: copy.stderr.suffix(400), as: UTF8.self))
            }
        }
        // Containers a killed boxbench left in podman's storage (their processes went with the cgroup parent).
        if let list = try? podmanCall(["ps", "--all", "--format", "{{.Names}}"]), list.exit == .exited(0) {
            for n in String(decoding: list.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
            where n.hasPrefix(OwnedName.podmanRun.rawValue + "-") {
                if let owner = OwnedName.owner(of: n), !Janitor.processExists(owner) {
                    _ = try? podmanCall(["rm", "--force", n], timeout: .seconds(30))
                }
            }
        }
        try parentCgroup(workload).create()
        return []
    }

    /// What every container of this arm gets, in a run or at density: the cgroup parent boxbench reads, no log
    /// driver (the harness reads stdout), and the limits below.
    func containerOptions(_ workload: WorkloadSpec, network: RunNetwork?) -> [String] {
        [
            "--cgroup-parent", "/" + parentName(workload), "--hostname", "boxbench",
            "--network", network.map { "ns:" + $0.namespace } ?? "none", "--log-driver", "none",
            // Open files as boxbench's default spec (every container arm); processes as conmon has them here (32768).
            // podman's own defaults (1048576 and 4194304) are above the hard limits its conmon and runc inherit
            // without CAP_SYS_RESOURCE, and fail the container's start.
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=32768:32768",
        ]
    }

    /// `podman run --rm` with the suite's limits and network: the image's own ENTRYPOINT, and the suite's `args:`
    /// as the command when it has them (Docker's semantics, as every arm's argv).
    func runArguments(
        _ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, name: String, reference: String
    ) -> [String] {
        var args =
            ["run", "--rm", "--name", name, "--attach", "stdout", "--attach", "stderr"]
            + containerOptions(workload, network: limits.network)
        if let m = limits.memoryBytes { args += ["--memory", String(m), "--memory-swap", String(m)] }
        if let p = limits.pidsMax { args += ["--pids-limit", String(p)] }
        if let v = workload.volume, v.on == .bind {
            args += ["--volume", "\(RunVolume(v, arm: arm.name, workload: workload.name).dataDir):\(v.path):rw"]
        }
        args.append(reference)
        if let a = workload.args { args += a }
        return args
    }

    public func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        guard let reference = Self.podmanReference(image) else {
            return RunOutcome(status: .failed, failure: "\(workload.name): no image reference")
        }
        let name = uniqueRunName(.podmanRun, runIndex)
        let parent = parentCgroup(workload)
        defer { _ = try? podmanCall(["rm", "--force", "--ignore", name], timeout: .seconds(30)) }
        do {
            if let v = workload.volume { try RunVolume(v, arm: arm.name, workload: workload.name).reset() }
            return try runAccountedByParent(parent) {
                try podmanCall(
                    runArguments(image, workload: workload, limits: limits, name: name, reference: reference),
                    timeout: timeout)
            }
        } catch {
            return RunOutcome(status: .failed, failure: "\(error)")
        }
    }

    public func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {
        let parent = parentCgroup(workload)
        parent.killAll()
        _ = removeCgroupEverywhere(parent.name, layout: layout)
        workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name).remove() }
    }
}

extension PodmanEngine: DensityCapable {
    /// N idle containers at once (`podman run -d` of the image with its ENTRYPOINT alone: idle until stopped), each
    /// with its own conmon, as a user's would be: host memory per instance is the cgroup parent's current usage ÷ N
    /// once all are up; start is `podman run -d` launch → return (podman returns once the container started).
    public func density(_ image: PreparedImage, workload: WorkloadSpec, instances: Int, timeout: Duration) throws
        -> DensityPoint
    {
        guard let reference = Self.podmanReference(image) else {
            throw EngineUnavailable(reason: "\(workload.name): no image reference")
        }
        let parent = parentCgroup(workload)
        try parent.create()
        var names: [String] = []
        defer {
            for name in names { _ = try? podmanCall(["rm", "--force", "--time", "0", name], timeout: .seconds(30)) }
        }
        var startMs: [Double] = []
        for i in 0..<instances {
            let name = OwnedName.podmanRun.name("density", String(instances), String(i))
            names.append(name)
            let r = try podmanCall(
                ["run", "--detach", "--name", name] + containerOptions(workload, network: nil) + [reference],
                timeout: timeout)
            guard r.exit == .exited(0) else {
                throw EngineUnavailable(
                    reason: "podman instance \(i): \(r.exit): \(String(decoding: r.stderr.suffix(300), as: UTF8.self))")
            }
            startMs.append(ms(r.exitNs))
        }
        // Read half a second after the last start, as every instance is up (podman returned for each).
        usleep(500_000)
        let total = Double(parent.stats().memory?.currentBytes ?? 0)
        startMs.sort()
        return DensityPoint(
            armKey: arm.name, accel: nil, instances: instances, memoryPerInstanceBytes: total / Double(instances),
            startMsMedian: startMs[startMs.count / 2])
    }
}
