import CShim
import Containers
import Crypto
import Foundation
import Images
import Probes
import Results
import Synchronization

/// An image ready to run in every arm: the same bytes, unpacked once.
public struct PreparedImage: Sendable {
    public var name: String
    public var digest: String
    /// Unpacked layers for overlay, top-most first.
    public var lowerDirs: [String]
    /// All layers flattened into one directory (native arm, peer bundles, VM artifacts).
    public var rootfs: String
    /// entrypoint + (suite args ?? image CMD).
    public var argv: [String]
    /// The image's ENTRYPOINT alone (density runs idle with no arguments).
    public var entrypoint: [String]
    public var env: [String]
    public var workdir: String
    public var sizes: [ArtifactSize]
    /// The image's USER resolved against its rootfs; nil runs as root.
    public var user: BundleUser?
    /// The tag the image was built under (`boxbench/workload-NAME:SOURCE`).
    public var reference: String?
    /// What a full-OS VM guest boots: this image plus, when it has no systemd, a layer that installs it.
    public var fullOS: FullOSImage?
    /// Why `fullOS` could not be made (no apt in the image, a failed install), for the full-OS arm's failure.
    public var fullOSUnavailable: String?

    public init(
        name: String, digest: String, lowerDirs: [String], rootfs: String, argv: [String], entrypoint: [String]? = nil,
        env: [String], workdir: String, sizes: [ArtifactSize]
    ) {
        self.name = name
        self.digest = digest
        self.lowerDirs = lowerDirs
        self.rootfs = rootfs
        self.argv = argv
        self.entrypoint = entrypoint ?? argv
        self.env = env
        self.workdir = workdir
        self.sizes = sizes
    }
}

/// The image a full-OS guest boots (`guest: full-os`): the same layers, plus an OS layer when the image lacks an
/// init of its own, with that layer's size so C4 can say where a VM image's bytes come from.
public struct FullOSImage: Sendable {
    public var digest: String
    public var rootfs: String
    /// Bytes of the layers added to the workload's image (zero when the image already had systemd).
    public var osLayerCompressedBytes: UInt64
    public var osLayerUncompressedBytes: UInt64
}

/// What one run produced; the runner reads `stdout` once (`WorkloadOutput`) and records the sample.
public struct RunOutcome: Sendable {
    public var status: SampleStatus
    public var failure: String?
    public var exitCode: Int32?
    public var measurements = Measurements()
    public var stdout = ""

}

/// Per-run limits from the suite, and the arm's place in the bench network for network workloads.
public struct RunLimits: Sendable {
    public var memoryBytes: Int64?
    public var pidsMax: Int64?
    public var network: RunNetwork?
}

/// Where a network workload's server runs and is reached: a pinned namespace of the bench network and the
/// address the client connects to.
public struct RunNetwork: Sendable, Equatable {
    public var namespace: String
    public var address: String
    /// VM arms: the bridge their NIC is plugged into (in `namespace`) and the address's prefix length.
    public var bridge: String?
    public var prefix: Int?

    /// "a.b.c.d/prefix" for the guest's NIC.
    public var guestAddress: String? { prefix.map { "\(address)/\($0)" } }
}

/// Engines are peers: native, boxbench's container runtime, crun/runc, and the libvirt VM.
public protocol Engine: Sendable {
    var arm: ArmSpec { get }
    /// Engine name recorded in provenance ("native", "boxbench", "crun", "runc", "libvirt").
    var engineName: String { get }
    /// One-time work per image (bundles, guest artifacts); returns extra size records.
    func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize]
    /// The same for a network workload, the arm's network known (a peer's config.json names the namespace).
    func prepare(_ image: PreparedImage, workload: WorkloadSpec, network: RunNetwork?) throws -> [ArtifactSize]
    func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    /// Releases what `prepare` made; runs on every path.
    func cleanup(_ image: PreparedImage, workload: WorkloadSpec)
    /// The seccomp profile the workload runs under, for provenance; nil where there is none.
    var seccompProfile: String? { get }
    /// The engine's own version for provenance (a peer runtime's `--version`, QEMU's); nil where the tool's
    /// version or the host's kernel already says it (native, boxbench's runtime).
    func engineVersion() -> String?
    /// What this arm's `memory_peak_bytes` counts, said once per arm in the results and the reports.
    var memoryFigure: String { get }
}

extension Engine {
    public func prepare(_ image: PreparedImage, workload: WorkloadSpec, network: RunNetwork?) throws -> [ArtifactSize] {
        try prepare(image, workload: workload)
    }
    public var seccompProfile: String? { nil }
    public func engineVersion() -> String? { nil }
    public var memoryFigure: String { "the peak of the cgroup the process runs in" }
}

/// What the container arms record: they all run `RuntimeSpec.defaultSpec`'s profile.
public let defaultSeccompProvenance =
    "\(SeccompProfile.defaultProfileName) v\(SeccompProfile.defaultProfileVersion), "
    + "\(SeccompProfile.defaultProfileAllowedCount) syscalls allowed"

/// A workload's stdout, read once: the values it reported, by key with the unit in the key's suffix (`_ns`, `_ms`,
/// `_bytes`, `_per_s`) — `bbwork: key=value` lines with a numeric value, and the report of the third-party
/// reference `sysbench` (recognised by its banner) as `sysbench_<key>` — and the SHA-256 of every other line: equal
/// digests mean the same behaviour in every arm (C7).
public struct WorkloadOutput: Sendable, Equatable {
    public var values: [String: Double]
    public var digest: String

    public init(_ stdout: String) {
        if let fio = FioReport(stdout) {
            (values, digest) = (fio.values, Self.digest(fio.behaviour))
            return
        }
        let sysbench = isSysbenchReport(stdout)
        var values: [String: Double] = [:]
        var behaviour: [Substring] = []
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if let measured = measuredValues(line, sysbench: sysbench) {
                values.merge(measured) { _, new in new }
            } else {
                behaviour.append(line)
            }
        }
        self.values = values
        self.digest = Self.digest(behaviour.joined(separator: "\n"))
    }

    static func digest(_ behaviour: String) -> String {
        "sha256:" + SHA256.hash(data: Data(behaviour.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// fio's JSON report (`--output-format=json`): per job, the operations and bytes per second and the completion
/// latency p50/p99 of the direction it ran — `fio_<job>_ops_per_s`, `fio_<job>_bytes_per_s`,
/// `fio_<job>_clat_p50_ns`, `fio_<job>_clat_p99_ns` — and as behaviour what was asked and whether it failed (fio's
/// version, the global and each job's options, each job's error), never a figure.
struct FioReport {
    var values: [String: Double] = [:]
    var behaviour: String

    init?(_ stdout: String) {
        // fio may print notes before the report.
        guard let start = stdout.firstIndex(of: "{"),
            let object = try? JSONSerialization.jsonObject(with: Data(stdout[start...].utf8)) as? [String: Any],
            let version = object["fio version"] as? String, let jobs = object["jobs"] as? [[String: Any]]
        else { return nil }
        func number(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }
        func asked(_ options: Any?) -> [String] {
            ((options as? [String: Any]) ?? [:]).map { "\($0.key)=\($0.value)" }.sorted()
        }
        var lines = [([version] + asked(object["global options"])).joined(separator: " ")]
        for job in jobs {
            guard let name = job["jobname"] as? String else { continue }
            let asked = asked(job["job options"])
            lines.append(
                ([name] + asked + ["error=\(number(job["error"]).map { Int($0) } ?? -1)"]).joined(separator: " "))
            // The direction the job moved bytes in (a mixed job would report both; these jobs are one-way).
            for direction in ["read", "write"] {
                guard let d = job[direction] as? [String: Any], let io = number(d["io_bytes"]), io > 0 else { continue }
                let key = "fio_" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
                values[key + "_ops_per_s"] = number(d["iops"])
                values[key + "_bytes_per_s"] = number(d["bw_bytes"])
                let percentiles = (d["clat_ns"] as? [String: Any])?["percentile"] as? [String: Any]
                values[key + "_clat_p50_ns"] = number(percentiles?["50.000000"])
                values[key + "_clat_p99_ns"] = number(percentiles?["99.000000"])
            }
        }
        behaviour = lines.joined(separator: "\n")
    }
}

/// sysbench 1.x starts its report with `sysbench 1.0.20 (using system LuaJIT …)`.
func isSysbenchReport(_ stdout: String) -> Bool {
    stdout.split(separator: "\n", maxSplits: 4).contains { line in
        line.hasPrefix("sysbench ") && line.dropFirst(9).first?.isNumber == true
    }
}

/// The values one line reports, or nil when the line carries no measurement (it then counts as behaviour).
func measuredValues(_ line: Substring, sysbench: Bool) -> [String: Double]? {
    if line.hasPrefix("bbwork: ") {
        var metrics: [String: Double] = [:]
        for token in line.dropFirst(8).split(separator: " ") {
            let kv = token.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1]), v.isFinite else { continue }
            let key = String(kv[0])
            if ["_ns", "_ms", "_bytes", "_per_s"].contains(where: { key.hasSuffix($0) }) {
                metrics[key] = v
            }
        }
        return metrics.isEmpty ? nil : metrics
    }
    return sysbench ? sysbenchValues(line.trimmingCharacters(in: .whitespaces)) : nil
}

/// sysbench's report lines (cpu, memory and the common statistics). Lines whose values depend on timing
/// (thread fairness) are measured but not recorded; the event count of a fixed-work run stays behaviour.
private func sysbenchValues(_ line: String) -> [String: Double]? {
    func number(_ text: Substring) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        return Double(t.hasSuffix("s") ? String(t.dropLast()) : t).flatMap { $0.isFinite ? $0 : nil }
    }
    let parts = line.split(separator: ":", maxSplits: 1)
    guard parts.count == 2 else {
        // "64.00 MiB transferred (8451.54 MiB/sec)"
        if line.contains(" MiB transferred ("), let open = line.lastIndex(of: "("),
            let v = Double(line[line.index(after: open)...].prefix { $0 != " " })
        {
            return ["sysbench_transfer_bytes_per_s": v * 1_048_576]
        }
        return nil
    }
    let (label, value) = (parts[0], parts[1])
    let latency = ["min": "min", "avg": "avg", "max": "max", "95th percentile": "p95", "sum": "sum"]
    switch label {
    case "events per second":
        return number(value).map { ["sysbench_events_per_s": $0] }
    case "total time":
        return number(value).map { ["sysbench_total_time_ms": $0 * 1000] }
    case "Total operations":
        // "16384 (2163593.78 per second)"
        guard let open = value.firstIndex(of: "("),
            let v = Double(value[value.index(after: open)...].prefix { $0 != " " })
        else { return nil }
        return ["sysbench_operations_per_s": v]
    case "events (avg/stddev)", "execution time (avg/stddev)":
        return [:]
    default:
        guard let key = latency[String(label)], let v = number(value) else { return nil }
        return ["sysbench_latency_\(key)_ms": v]
    }
}

/// What every process-based arm records from one run: status from the exit, cgroup memory and CPU when the run
/// was accounted, the workload's own values, and launch → first output / exit.
func processOutcome(
    exit: ContainerExit, timedOut: Bool, oomKilled: Bool, stdout: [UInt8], stderr: [UInt8], stats: CgroupStats?,
    exitNs: UInt64, firstOutputNs: UInt64?
) -> RunOutcome {
    let err = String(decoding: stderr.suffix(400), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    let (status, failure, code): (SampleStatus, String?, Int32?)
    if timedOut {
        (status, failure, code) = (.timeout, "timed out", nil)
    } else if oomKilled {
        (status, failure, code) = (.oomKilled, "OOM-killed by the memory limit", nil)
    } else {
        switch exit {
        case .exited(0): (status, failure, code) = (.ok, nil, 0)
        case .exited(let c): (status, failure, code) = (.nonZeroExit, "exit \(c)\(err.isEmpty ? "" : ": \(err)")", c)
        case .signaled(let sig): (status, failure, code) = (.signaled, "killed by signal \(sig)", 128 + sig)
        }
    }
    var measured = cgroupMeasurements(stats)
    measured.exitMs = ms(exitNs)
    measured.firstOutputMs = firstOutputNs.map(ms)
    return RunOutcome(
        status: status, failure: failure, exitCode: code, measurements: measured,
        stdout: String(decoding: stdout, as: UTF8.self))
}

func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }

private let runSerial = Atomic<Int>(0)

/// `<prefix>-<pid>-<runIndex>-<serial>`: unique within the process, so two suites run side by side in one process
/// (the tests do) never share a mount, a container id or a cgroup; the Janitor still reads the owner pid.
func uniqueRunName(_ owned: OwnedName, _ runIndex: Int) -> String {
    owned.name(String(runIndex), String(runSerial.add(1, ordering: .relaxed).newValue))
}

/// The figures of the cgroup a process arm ran in: peak, anon/file split, CPU usage.
func cgroupMeasurements(_ stats: CgroupStats?) -> Measurements {
    var m = Measurements()
    if let mem = stats?.memory {
        m.memoryPeakBytes = mem.peakBytes.map { Double($0) }
        m.cgroup = CgroupMeasurements(anonBytes: Double(mem.anonBytes), fileBytes: Double(mem.fileBytes))
    }
    m.cpuNs = stats?.cpu.map { Double($0.usageNs) }
    return m
}

// MARK: - native

/// The image's own files run on the host with no isolation: chrooted into the image's layers (an overlay with a
/// fresh writable upper, as every container arm gets), no namespaces, in a plain accounting cgroup.
public struct NativeEngine: Engine {
    public let arm: ArmSpec
    let layout: CgroupLayout
    let runRoot: String
    public var engineName: String { "native" }
    public var memoryFigure: String { "peak of a plain accounting cgroup (memory only) holding the process" }
    public init(arm: ArmSpec, layout: CgroupLayout = .detect(), runRoot: String = BoxbenchPaths().run + "/bundles") {
        self.arm = arm
        self.layout = layout
        self.runRoot = runRoot
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] { [] }

    /// The image's program as the container would find it, as a path inside the image: argv[0] itself when it has
    /// a slash, else the first executable file on the image's PATH, every path and symlink resolved inside the
    /// rootfs (an applet link `cat -> /bin/busybox` leads to the image's busybox, never the host's).
    static func resolveProgram(_ image: PreparedImage) -> String? {
        guard let name = image.argv.first, !name.isEmpty else { return nil }
        let path =
            image.env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let candidates = name.contains("/") ? [name] : path.split(separator: ":").map { "\($0)/\(name)" }
        for candidate in candidates {
            let fd = cshim_open_in_root(image.rootfs, candidate, O_RDONLY | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o111 != 0,
                let host = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
                host.hasPrefix(image.rootfs + "/")
            else { continue }
            return candidate
        }
        return nil
    }

    public func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        guard let program = Self.resolveProgram(image) else {
            return RunOutcome(
                status: .failed,
                failure:
                    "native arm: \(image.argv.first ?? "no entrypoint") is not an executable file of the image (searched its PATH inside the rootfs)"
            )
        }
        // The image's layers with a fresh writable upper, mounted before the clock starts; the Janitor finds it by
        // its owner pid after a kill -9.
        let name = uniqueRunName(.native, runIndex)
        let dir = runRoot + "/" + name
        let volume = workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name) }
        do {
            try volume?.reset()
            try mountImageLayers(image.lowerDirs, at: dir, hostBinds: ["/dev", "/proc", "/sys"], volume: volume)
        } catch {
            unmountImageLayers(at: dir)  // the directories it made
            return RunOutcome(status: .failed, failure: "\(error)")
        }
        defer { unmountImageLayers(at: dir) }
        let request = HostProcessRequest(
            path: program, args: image.argv, env: image.env,
            cgroupName: "boxbench/" + name,
            timeout: timeout, rootDirectory: dir + "/rootfs",
            workingDirectory: image.workdir.isEmpty ? "/" : image.workdir, networkNamespace: limits.network?.namespace)
        do {
            let r = try HostProcess.run(request, layout: layout)
            var o = processOutcome(
                exit: r.exit, timedOut: r.timedOut, oomKilled: r.oomKilled, stdout: r.stdout, stderr: r.stderr,
                stats: r.stats, exitNs: r.exitNs, firstOutputNs: r.firstOutputNs)
            if o.measurements.cpuNs == nil { o.measurements.cpuNs = Double(r.cpuNs) }
            return o
        } catch {
            return RunOutcome(status: .failed, failure: error.description)
        }
    }

    public func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {
        workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name).remove() }
    }
}

/// overlay(lower = the image's layers, a fresh upper) on `dir/rootfs`: the root every arm but the VM's runs on, as
/// boxbench's own container arm mounts it.
/// `hostBinds` (the native arm: /dev, /proc, /sys) are bound into the root (/dev and /proc recursively), so a process
/// chrooted there without namespaces sees the host's devices and kernel as a bare process does; unmounting the root
/// takes them. A `volume` (reset by the caller) is bound at its path, or, for an overlay volume, holds the upper.
func mountImageLayers(_ lowerDirs: [String], at dir: String, hostBinds: [String] = [], volume: RunVolume? = nil)
    throws
{
    try RunMounts.mount(at: dir + "/rootfs") {
        try mountLayersNow(lowerDirs, at: dir, hostBinds: hostBinds, volume: volume)
    }
}

private func mountLayersNow(_ lowerDirs: [String], at dir: String, hostBinds: [String], volume: RunVolume?) throws {
    for sub in ["upper", "work"] {
        try? FileManager.default.removeItem(atPath: "\(dir)/\(sub)")
        try FileManager.default.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
    }
    try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: true)
    let (upper, work) =
        volume?.spec.on == .overlay ? (volume!.upperDir, volume!.workDir) : ("\(dir)/upper", "\(dir)/work")
    let options = "lowerdir=\(lowerDirs.joined(separator: ":")),upperdir=\(upper),workdir=\(work)"
    guard mount("overlay", dir + "/rootfs", "overlay", 0, options) == 0 else {
        throw ContainerError(id: "layers", operation: "mount overlay", detail: dir + "/rootfs", errno: errno)
    }
    for source in hostBinds {
        let target = dir + "/rootfs" + source
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        // /sys without its submounts: a second copy of the host's cgroup mounts would sit in the host's mount table
        // for the run, and libvirt (in this process or another boxbench's) takes the last cgroup mount it lists as
        // the hierarchy, then fails reading a machine group through it once the run has unmounted it.
        let flags = source == "/sys" ? MS_BIND : MS_BIND | MS_REC
        // Slave: nothing mounted under the bind propagates back to the host.
        guard mount(source, target, nil, UInt(flags), nil) == 0,
            mount(nil, target, nil, UInt(MS_SLAVE | MS_REC), nil) == 0
        else {
            let e = errno
            unmountImageLayers(at: dir)
            throw ContainerError(id: "layers", operation: "bind \(source) into", detail: target, errno: e)
        }
    }
    if let volume, volume.spec.on == .bind {
        // Resolved inside the root: a symlink in the image cannot send the bind elsewhere on the host.
        let fd = cshim_open_in_root(dir + "/rootfs", volume.spec.path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else {
            let e = errno
            unmountImageLayers(at: dir)
            throw ContainerError(
                id: "layers", operation: "find the volume's directory in the image", detail: volume.spec.path,
                errno: e)
        }
        defer { close(fd) }
        guard mount(volume.dataDir, "/proc/self/fd/\(fd)", nil, UInt(MS_BIND), nil) == 0 else {
            let e = errno
            unmountImageLayers(at: dir)
            throw ContainerError(id: "layers", operation: "bind the volume into", detail: volume.spec.path, errno: e)
        }
    }
}

/// Undoes `mountImageLayers`; removes `dir` too unless the caller keeps it (a peer's bundle with its config).
func unmountImageLayers(at dir: String, keepDirectory: Bool = false) {
    RunMounts.unmount(dir + "/rootfs")
    if keepDirectory {
        for sub in ["upper", "work"] { try? FileManager.default.removeItem(atPath: "\(dir)/\(sub)") }
    } else if !((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").contains(dir + "/") {
        // Never delete through a mount that is still there.
        try? FileManager.default.removeItem(atPath: dir)
    }
}

// MARK: - boxbench's own runtime

public struct BoxbenchContainerEngine: Engine {
    public let arm: ArmSpec
    let runtime: ContainerRuntime
    public var engineName: String { "boxbench" }
    public var seccompProfile: String? { defaultSeccompProvenance }
    public var memoryFigure: String { "peak of the container's cgroup (every process of the container)" }

    public init(arm: ArmSpec, runtime: ContainerRuntime = ContainerRuntime()) {
        self.arm = arm
        self.runtime = runtime
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] { [] }

    func spec(for image: PreparedImage, mountPoint: String, network: RunNetwork? = nil) -> RuntimeSpec {
        var spec = RuntimeSpec.defaultSpec(args: image.argv, rootPath: mountPoint, hostname: "boxbench")
        spec.joinNetwork(network)
        spec.process?.env = image.env
        spec.process?.cwd = image.workdir.isEmpty ? "/" : image.workdir
        if let user = image.user { spec.setUser(uid: user.uid, gid: user.gid) }
        // The writable layer is the overlay's upper dir, as with Docker.
        spec.root?.readonly = false
        return spec
    }

    public func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        let id = uniqueRunName(.container, runIndex)
        let mountPoint = "\(runtime.stateRoot)/\(id)/rootfs"
        var spec = spec(for: image, mountPoint: mountPoint, network: limits.network)
        var overlay = OverlayRootfs(lowerDirs: image.lowerDirs)
        let volume = workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name) }
        if let volume {
            if let m = volume.specMount { spec.mounts = (spec.mounts ?? []) + [m] }
            if volume.spec.on == .overlay { (overlay.upperDir, overlay.workDir) = (volume.upperDir, volume.workDir) }
        }
        let request = ContainerRequest(
            id: id, bundle: image.rootfs, spec: spec, overlay: overlay, io: .capture, timeout: timeout,
            limitsOverride: CgroupLimits(memoryBytes: limits.memoryBytes, pidsMax: limits.pidsMax))
        do {
            try volume?.reset()
            // create (namespaces, cgroup, rootfs ready, process waiting) then start (exec): both phases recorded.
            let created = try runtime.create(request, waitForStart: true)
            try created.start()
            let r = created.wait(timeout: timeout)
            var o = processOutcome(
                exit: r.exit, timedOut: r.timedOut, oomKilled: r.oomKilled, stdout: r.stdout, stderr: r.stderr,
                stats: r.stats, exitNs: r.exitNs, firstOutputNs: r.firstOutputNs)
            o.measurements.createMs = ms(r.createdNs)
            o.measurements.startMs = ms(r.exitNs - (created.startedNs ?? r.createdNs))
            o.measurements.phases =
                [
                    Phase(name: "created", ms: ms(r.createdNs)),
                    Phase(name: "started", ms: ms(created.startedNs ?? r.createdNs)),
                ] + (r.firstOutputNs.map { [Phase(name: "first-output", ms: ms($0))] } ?? []) + [
                    Phase(name: "exited", ms: ms(r.exitNs))
                ]
            return o
        } catch {
            return RunOutcome(status: .failed, failure: "\(error)")
        }
    }

    public func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {
        workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name).remove() }
    }
}

// MARK: - crun / runc on an identical bundle

public final class PeerContainerEngine: Engine, Sendable {
    public let arm: ArmSpec
    let peer: PeerRuntime
    let bundleRoot: String
    let layout: CgroupLayout
    public var engineName: String { peer.rawValue }
    /// The runtime's ids and bundle names, by kind (the Janitor recovers them by prefix).
    var runName: OwnedName { [.crun: .crunRun, .runc: .runcRun, .boxbench: .runtimeRun][peer.kind]! }
    var bundleName: OwnedName { [.crun: .crunBundle, .runc: .runcBundle, .boxbench: .runtimeBundle][peer.kind]! }
    /// The same config.json as the boxbench arm, so the same profile.
    public var seccompProfile: String? { defaultSeccompProvenance }
    public func engineVersion() -> String? { peer.version() }
    public var memoryFigure: String {
        "peak of a boxbench-owned parent of the container's cgroup, reset before each run (includes \(peer.rawValue)'s own init in the container)"
    }

    public init(arm: ArmSpec, peer: PeerRuntime, bundleRoot: String = BoxbenchPaths().run + "/bundles") {
        self.arm = arm
        self.peer = peer
        self.bundleRoot = bundleRoot
        self.layout = .detect()
    }

    /// crun-<pid>-<arm>-<workload> (runc-…, bbrt-…): the bundle directory and the parent cgroup; the arm's name
    /// keeps two builds of one runtime apart.
    func ownedName(_ workload: WorkloadSpec) -> String { bundleName.name(arm.name, workload.name) }

    func bundleDir(_ workload: WorkloadSpec) -> String { "\(bundleRoot)/\(ownedName(workload))" }

    /// The group boxbench owns and reads: the peer makes the container's own group below it (`cgroupsPath`), and
    /// the kernel accounts the child's memory peak and CPU time in it after the peer removes the child.
    func parentCgroup(_ workload: WorkloadSpec) -> any CgroupManager {
        makeCgroupManager(name: "boxbench/\(ownedName(workload))", layout: layout)
    }

    /// Everything about the bundle is decided here, once per workload (config, limits, cgroup); `run` only mounts
    /// the image's layers with a fresh writable upper, as the boxbench arm has, and reads the group.
    public func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] {
        try prepare(image, workload: workload, network: nil)
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec, network: RunNetwork?) throws -> [ArtifactSize] {
        guard peer.isInstalled else {
            throw EngineUnavailable(
                reason: "\(peer.path) is not installed or not executable"
                    + (PeerRuntime.allCases.contains(peer) ? " (scripts/setup installs it)" : ""))
        }
        let dir = bundleDir(workload)
        try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: true)
        let parent = parentCgroup(workload)
        try parent.create()
        var spec = RuntimeSpec.defaultSpec(args: image.argv, rootPath: dir + "/rootfs", hostname: "boxbench")
        spec.process?.env = image.env
        spec.process?.cwd = image.workdir.isEmpty ? "/" : image.workdir
        if let user = image.user { spec.setUser(uid: user.uid, gid: user.gid) }
        // Same isolation and the same root as the boxbench arm: the layers under a writable upper.
        spec.root?.readonly = false
        spec.applyLimits(memoryBytes: workload.memoryLimitBytes, pidsMax: workload.pidsLimit)
        spec.linux?.cgroupsPath = "/\(parent.name)/ctr"
        spec.joinNetwork(network)
        if let m = workload.volume.flatMap({ RunVolume($0, arm: arm.name, workload: workload.name).specMount }) {
            spec.mounts = (spec.mounts ?? []) + [m]
        }
        try spec.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        return []
    }

    public func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        let dir = bundleDir(workload)
        let id = uniqueRunName(runName, runIndex)
        let parent = parentCgroup(workload)
        defer { peer.forceDelete(id: id) }
        let volume = workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name) }
        do {
            try volume?.reset()
            try mountLayers(image, dir: dir, volume: volume)
            defer { unmountLayers(dir: dir) }
            return try runAccountedByParent(parent) {
                try HostProcess.run(peer.request(bundle: dir, id: id, timeout: timeout, layout: layout))
            }
        } catch {
            return RunOutcome(status: .failed, failure: "\(error)")
        }
    }

    func mountLayers(_ image: PreparedImage, dir: String, volume: RunVolume? = nil) throws {
        // A bind volume is the runtime's to mount (config.json); an overlay volume holds the upper.
        try mountImageLayers(image.lowerDirs, at: dir, volume: volume?.spec.on == .overlay ? volume : nil)
    }

    func unmountLayers(dir: String) { unmountImageLayers(at: dir, keepDirectory: true) }

    public func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {
        let dir = bundleDir(workload)
        unmountLayers(dir: dir)
        try? FileManager.default.removeItem(atPath: dir)
        workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name).remove() }
        let parent = parentCgroup(workload)
        parent.killAll()
        // The peer makes the path in every hierarchy it uses (cpuset, blkio, name=systemd, …), not only in those
        // boxbench manages.
        _ = removeCgroupEverywhere(parent.name, layout: layout)
    }
}

/// A peer's run (crun, runc, podman) read from the group boxbench owns above the container's: the container's own
/// group is gone when the peer exits, its parent kept the memory peak (reset here first) and the CPU time.
func runAccountedByParent(_ parent: any CgroupManager, _ launch: () throws -> HostProcessResult) throws -> RunOutcome {
    let peakIsThisRun = parent.resetMemoryPeak()
    let cpuBefore = parent.stats().cpu?.usageNs
    let r = try launch()
    let after = parent.stats()
    var outcome = processOutcome(
        exit: r.exit, timedOut: r.timedOut, oomKilled: (after.memory?.oomKills ?? 0) > 0, stdout: r.stdout,
        stderr: r.stderr, stats: nil, exitNs: r.exitNs, firstOutputNs: r.firstOutputNs)
    if peakIsThisRun, let peak = after.memory?.peakBytes { outcome.measurements.memoryPeakBytes = Double(peak) }
    if let before = cpuBefore, let now = after.cpu?.usageNs, now >= before {
        outcome.measurements.cpuNs = Double(now - before)
    }
    return outcome
}

public struct EngineUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "skipped: \(reason)" }
}

extension BoxbenchContainerEngine: DensityCapable {
    /// N idle containers at once: host memory per instance from their cgroups, and launch → "ready" latency.
    public func density(_ image: PreparedImage, workload: WorkloadSpec, instances: Int, timeout: Duration) throws
        -> DensityPoint
    {
        var running: [CreatedContainer] = []
        defer { running.forEach { $0.destroy() } }
        var startMs: [Double] = []
        for i in 0..<instances {
            let id = OwnedName.density.name(String(instances), String(i))
            let request = ContainerRequest(
                id: id, bundle: image.rootfs, spec: spec(for: image, mountPoint: "\(runtime.stateRoot)/\(id)/rootfs"),
                overlay: OverlayRootfs(lowerDirs: image.lowerDirs), io: .capture, timeout: timeout)
            let c = try runtime.create(request, waitForStart: false)
            running.append(c)
            guard let ready = c.waitForOutput("ready", timeout: timeout) else {
                throw EngineUnavailable(reason: "instance \(i) never printed ready")
            }
            startMs.append(ms(ready))
        }
        let total = running.reduce(0.0) { $0 + Double($1.cgroup.stats().memory?.currentBytes ?? 0) }
        startMs.sort()
        return DensityPoint(
            armKey: arm.name, accel: nil, instances: instances, memoryPerInstanceBytes: total / Double(instances),
            startMsMedian: startMs[startMs.count / 2])
    }
}

extension RuntimeSpec {
    /// A network workload's container joins the arm's namespace of the bench network instead of an empty one.
    mutating func joinNetwork(_ network: RunNetwork?) {
        guard let network, var namespaces = linux?.namespaces else { return }
        namespaces.removeAll { $0.type == "network" }
        namespaces.append(Namespace(type: "network", path: network.namespace))
        linux?.namespaces = namespaces
    }
}
