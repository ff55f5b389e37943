import Foundation
import Machines
import Networks
import Results
import Yams

/// A benchmark suite: which workloads run in which arms, how often, under which limits.
/// The file format is documented in Benchmarks/README.md.
public struct Suite: Sendable, Equatable {
    public var name: String
    public var sourcePath: String
    public var repetitions: Int
    public var warmups: Int
    public var timeoutSeconds: Double
    public var cacheMode: CacheMode
    public var seed: UInt64?
    public var arms: [ArmSpec]
    public var workloads: [WorkloadSpec]
    public var density: DensitySpec?
    public var isolationProbe: Bool
    /// The bench network's address range (network workloads only).
    public var networkSubnet: String = "10.231.0.0/24"

    public enum CacheMode: String, Sendable, Equatable, CaseIterable {
        case warm, cold
    }
}

public enum ContainerEngineKind: String, Sendable, Equatable, CaseIterable {
    case boxbench, crun, runc
    /// Debian's podman (`podman run --rm`), the engine users run instead of a bare OCI runtime.
    case podman
}

/// One arm of a suite: a name and a typed configuration holding only the fields its kind has.
public struct ArmSpec: Sendable, Equatable {
    /// Key used in results (`native`, `container`, `container-runc`, `vm`, …); claims never read it.
    public var name: String
    public var config: ArmConfig
    /// The workloads this arm runs (`workloads:` in the arm); nil: every workload of the suite.
    public var workloads: [String]? = nil

    public var kind: ArmKind {
        switch config {
        case .native: .native
        case .container: .container
        case .vm: .vm
        }
    }
}

/// What runs the workload: the host itself, a container engine, or a VM launcher.
public enum ArmConfig: Sendable, Equatable {
    case native
    case container(ContainerArm)
    case vm(VMArm)
}

/// How a container arm reaches the bench network in network workloads.
public enum ContainerNetworkMode: String, Sendable, Equatable, CaseIterable {
    /// Its own namespace on the bench bridge through the CNI bridge plugin (like Docker's default bridge).
    case bridge
    /// The bench namespace itself, as the native arm (like `docker run --network host`).
    case host
    /// An empty namespace (loopback only): network workloads cannot run.
    case none
}

public struct ContainerArm: Sendable, Equatable {
    public var engine: ContainerEngineKind = .boxbench
    public var network: ContainerNetworkMode = .bridge
    /// Another build of the engine's OCI runtime binary (for A/B runs of two builds in one suite); boxbench's own
    /// engine then runs that `boxbench-runtime` through its runc-compatible command line.
    public var path: String?
}

public enum VMLauncherKind: String, Sendable, Equatable, CaseIterable {
    /// libvirt's C API (the embedded QEMU driver unless --vm-uri names a daemon).
    case libvirt
    /// QEMU started directly, no management layer (the VMM's own cost, apart from libvirt's).
    case qemu
}

public struct VMArm: Sendable, Equatable {
    public var launcher: VMLauncherKind = .libvirt
    public var accel: AccelChoice = .auto
    public var machine: DomainSpec.Machine = .pc
    public var rootfs: RootfsMode = .initramfs
    /// `minimal` (boxbench-init runs the workload) or `full-os` (the image's systemd starts it as a unit).
    public var guest: GuestKind = .minimal
    public var memoryMiB = 256
    public var vcpus = 1
    /// Another QEMU binary (libvirt's `<emulator>`), for A/B runs of two builds in one suite.
    public var path: String?
}

extension ArmSpec {
    /// Whether this arm runs `workload` (its `workloads:` list, or every workload).
    public func runs(_ workload: String) -> Bool { workloads?.contains(workload) ?? true }

    var isFullOSGuest: Bool { if case .vm(let v) = config { v.guest == .fullOS } else { false } }
}

extension Suite {
    /// A VM arm boots a full OS: workload images are prepared with systemd for it too.
    public var needsFullOSImages: Bool { arms.contains(where: \.isFullOSGuest) }

    /// Whether a full-OS arm runs `workload`, so its image is prepared with systemd too.
    public func needsFullOSImage(for workload: String) -> Bool {
        arms.contains { $0.isFullOSGuest && $0.runs(workload) }
    }
}

extension ArmSpec {
    /// What the results document records of this arm: only the fields its kind has.
    public var record: ArmRecord {
        switch config {
        case .native: ArmRecord(key: name, kind: kind, engine: "native")
        case .container(let c):
            ArmRecord(
                key: name, kind: kind, engine: c.engine.rawValue, path: c.path, network: c.network.rawValue)
        case .vm(let v):
            ArmRecord(
                key: name, kind: kind, engine: v.launcher.rawValue, accel: v.accel.rawValue,
                machine: v.machine.rawValue, rootfs: v.rootfs.rawValue, guest: v.guest.rawValue,
                memoryMiB: v.memoryMiB, vcpus: v.vcpus, path: v.path)
        }
    }
}

public struct WorkloadSpec: Sendable, Equatable {
    public var name: String
    /// Absolute path of the Dockerfile (resolved against the suite file's directory).
    public var dockerfile: String
    public var context: String
    /// Replaces the image's CMD when set.
    public var args: [String]?
    public var memoryLimitBytes: Int64?
    public var pidsLimit: Int64?
    /// Where the suite declares it (the workload's line), for errors about its files.
    public var line: Int?
    /// A network workload: the kit's bbwork run with these arguments in the client namespace, `{address}` replaced
    /// by the arm's server address, while the image's program serves in the arm.
    public var client: [String]? = nil
    /// A service workload: the image's program is a server (under the kit's `bbwork serve`), probed until ready and
    /// then loaded by a client from the client namespace.
    public var service: ServiceSpec? = nil
    /// An I/O workload's data volume, mounted at its path for every run.
    public var volume: VolumeSpec? = nil

    /// Network and service workloads run on the bench network.
    public var usesNetwork: Bool { client != nil || service != nil }
}

/// How a service workload is probed, loaded and stopped.
public struct ServiceSpec: Sendable, Equatable {
    public enum Ready: String, Sendable, CaseIterable { case tcp, http, redis }
    /// The port the server answers on.
    public var port: Int
    /// What counts as ready: a TCP connect, an HTTP 200 for `path`, or a redis +PONG.
    public var ready: Ready
    public var path: String = "/"
    /// The load client and its arguments (`{address}` is the arm's server address): Debian's `wrk` or
    /// `redis-benchmark`, run once the server is ready.
    public var load: [String]
    /// Where the image's `bbwork serve` listens for the stop that ends the server after the load.
    public var controlPort: Int = 7199
    /// Load clients the parsers read (their Debian packages are installed by scripts/setup).
    public static let loadPrograms = ["wrk": "/usr/bin/wrk", "redis-benchmark": "/usr/bin/redis-benchmark"]
}

/// Where an I/O workload's files live: a real filesystem on the host (O_DIRECT needs one; tmpfs is not), fresh for
/// every run.
public struct VolumeSpec: Sendable, Equatable {
    public enum Backing: String, Sendable, CaseIterable {
        /// Native and container arms: a host directory under the state root bind-mounted at `path`. VMs: a raw ext4
        /// file of `size` in the same directory, attached as a virtio-blk disk with cache=none and mounted at `path`.
        case bind
        /// `path` is a directory of the image itself, so writes land in the run's writable layer, whose upper
        /// directory is placed on the same host filesystem as `bind` volumes (native and container arms only).
        case overlay
    }
    /// Where the workload finds the volume (absolute; the image should have the directory).
    public var path: String
    /// The VM's data disk size (host directories are not limited).
    public var sizeBytes: Int64 = 1 << 30
    public var on: Backing = .bind
}

public struct DensitySpec: Sendable, Equatable {
    public var workload: String
    public var levels: [Int]
    public var arms: [String]
}

public struct SuiteError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var key: String
    public var message: String
    public var description: String {
        let at = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(at): \(message)" : "\(at): \(key): \(message)"
    }
}

extension Suite {
    public static func load(path: String) throws(SuiteError) -> Suite {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SuiteError(
                file: path, line: nil, key: "", message: "cannot read: \(String(cString: strerror(errno)))")
        }
        let suite = try parse(String(decoding: data, as: UTF8.self), path: path)
        try suite.checkWorkloadFiles()
        return suite
    }

    /// Every workload's Dockerfile and context exist (a typo in a workload name is an error naming the line, not a
    /// run that fails late with a raw Foundation error).
    public func checkWorkloadFiles() throws(SuiteError) {
        for (i, w) in workloads.enumerated() {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: w.dockerfile, isDirectory: &isDir) || isDir.boolValue {
                throw SuiteError(
                    file: sourcePath, line: w.line, key: "workloads[\(i)].dockerfile",
                    message: "\(w.dockerfile) does not exist (workload \(w.name))")
            }
            if !FileManager.default.fileExists(atPath: w.context, isDirectory: &isDir) || !isDir.boolValue {
                throw SuiteError(
                    file: sourcePath, line: w.line, key: "workloads[\(i)].context",
                    message: "\(w.context) is not a directory (workload \(w.name))")
            }
        }
    }

    public static func parse(_ text: String, path: String) throws(SuiteError) -> Suite {
        do {
            return try parseNodes(text, path: path)
        } catch let e as SuiteError {
            throw e
        } catch {
            throw SuiteError(file: path, line: nil, key: "", message: "\(error)")
        }
    }

    // Untyped throws inside: Optional.map closures do not propagate typed errors.
    static func parseNodes(_ text: String, path: String) throws -> Suite {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SuiteError(file: path, line: nil, key: "", message: "empty suite file")
            }
            root = node
        } catch let e as SuiteError {
            throw e
        } catch let YamlError.scanner(_, problem, mark, _) {
            throw SuiteError(file: path, line: mark.line, key: "", message: "YAML: \(problem)")
        } catch let YamlError.parser(_, problem, mark, _) {
            throw SuiteError(file: path, line: mark.line, key: "", message: "YAML: \(problem)")
        } catch {
            throw SuiteError(file: path, line: nil, key: "", message: "YAML: \(error)")
        }
        let reader = NodeReader(file: path)
        // Relative to the suite file's directory (the working directory for a bare file name).
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let baseDir = (absolute as NSString).deletingLastPathComponent
        let top = try reader.mapping(
            root, key: "",
            allowed: [
                "name", "repetitions", "warmups", "timeout", "cache", "seed", "arms", "workloads", "density",
                "isolation_probe", "network",
            ])
        // The name becomes a directory name (results/runs/<name>-<time>): no separators, no leading dot.
        let name =
            try top["name"].map { try reader.fileName($0, key: "name") }
            ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let repetitions = try top["repetitions"].map { try reader.int($0, key: "repetitions", range: 1...10_000) } ?? 5
        let warmups = try top["warmups"].map { try reader.int($0, key: "warmups", range: 0...1000) } ?? 1
        let timeout = try top["timeout"].map { try reader.double($0, key: "timeout", range: 0.1...86_400) } ?? 120
        let cache = try top["cache"].map { try reader.enumValue($0, key: "cache", CacheMode.self) } ?? .warm
        let seed = try top["seed"].map { UInt64(try reader.int($0, key: "seed", range: 0...Int.max)) }
        let isolationProbe = try top["isolation_probe"].map { try reader.bool($0, key: "isolation_probe") } ?? false

        guard let armsNode = top["arms"] else {
            throw SuiteError(file: path, line: root.mark?.line, key: "arms", message: "required")
        }
        var arms: [ArmSpec] = []
        // Where each arm's `workloads:` stands, to name it when a name there is not a workload of the suite.
        var armWorkloadLines: [String: (key: String, line: Int?)] = [:]
        // Where each arm is declared, to name it when it cannot run one of the suite's workloads.
        var armLines: [String: (key: String, line: Int?)] = [:]
        for (i, node) in try reader.sequence(armsNode, key: "arms").enumerated() {
            let key = "arms[\(i)]"
            let keysByKind: [ArmKind: Set<String>] = [
                .native: ["name", "kind", "workloads"],
                .container: ["name", "kind", "engine", "path", "network", "workloads"],
                .vm: [
                    "name", "kind", "launcher", "accel", "memory", "vcpus", "machine", "rootfs", "guest", "path",
                    "workloads",
                ],
            ]
            let m = try reader.mapping(node, key: key, allowed: keysByKind.values.reduce([]) { $0.union($1) })
            guard let kindNode = m["kind"] else {
                throw SuiteError(
                    file: path, line: node.mark?.line, key: "\(key).kind", message: "required (native, container or vm)"
                )
            }
            let kind = try reader.enumValue(kindNode, key: "\(key).kind", ArmKind.self)
            // A key of another kind is named with the kind that takes it.
            for (k, n) in m.sorted(by: { $0.key < $1.key }) where !(keysByKind[kind] ?? []).contains(k) {
                let owner = keysByKind.first { $0.value.contains(k) }?.key.rawValue ?? "no"
                throw SuiteError(
                    file: path, line: n.mark?.line, key: "\(key).\(k)",
                    message: "only \(owner) arms take \(k) (this arm is \(kind.rawValue))")
            }
            let config: ArmConfig
            let defaultName: String
            switch kind {
            case .native:
                config = .native
                defaultName = "native"
            case .container:
                let engine =
                    try m["engine"].map { try reader.enumValue($0, key: "\(key).engine", ContainerEngineKind.self) }
                    ?? .boxbench
                var container = ContainerArm(
                    engine: engine, path: try m["path"].map { try reader.executable($0, key: "\(key).path") })
                if let n = m["network"] {
                    container.network = try reader.enumValue(n, key: "\(key).network", ContainerNetworkMode.self)
                }
                config = .container(container)
                defaultName = engine == .boxbench ? "container" : "container-\(engine.rawValue)"
            case .vm:
                var vm = VMArm()
                if let n = m["launcher"] {
                    vm.launcher = try reader.enumValue(n, key: "\(key).launcher", VMLauncherKind.self)
                }
                if let n = m["accel"] { vm.accel = try reader.enumValue(n, key: "\(key).accel", AccelChoice.self) }
                if let n = m["memory"] { vm.memoryMiB = try reader.int(n, key: "\(key).memory", range: 64...65536) }
                if let n = m["vcpus"] { vm.vcpus = try reader.int(n, key: "\(key).vcpus", range: 1...64) }
                if let n = m["machine"] {
                    vm.machine = try reader.enumValue(n, key: "\(key).machine", DomainSpec.Machine.self)
                }
                if let n = m["rootfs"] { vm.rootfs = try reader.enumValue(n, key: "\(key).rootfs", RootfsMode.self) }
                if let n = m["guest"] {
                    vm.guest = try reader.enumValue(n, key: "\(key).guest", GuestKind.self)
                    // A full OS boots from a disk; `rootfs: initramfs` beside it is a contradiction, not a default.
                    if vm.guest == .fullOS {
                        if m["rootfs"] != nil && vm.rootfs != .disk {
                            throw SuiteError(
                                file: path, line: n.mark?.line, key: "\(key).guest",
                                message: "guest: full-os boots from a disk: drop rootfs: initramfs or set rootfs: disk")
                        }
                        vm.rootfs = .disk
                    }
                }
                if let n = m["path"] { vm.path = try reader.executable(n, key: "\(key).path") }
                if vm.machine == .microvm, vm.rootfs == .disk {
                    throw SuiteError(
                        file: path, line: m["machine"]?.mark?.line, key: "\(key).machine",
                        message: "machine microvm has no PCI bus for a root disk: use rootfs: initramfs")
                }
                config = .vm(vm)
                defaultName = "vm"
            }
            let name = try m["name"].map { try reader.identifier($0, key: "\(key).name") } ?? defaultName
            if arms.contains(where: { $0.name == name }) {
                throw SuiteError(
                    file: path, line: node.mark?.line, key: "\(key).name", message: "duplicate arm name \(name)")
            }
            armLines[name] = (key, node.mark?.line)
            var arm = ArmSpec(name: name, config: config)
            if let n = m["workloads"] {
                arm.workloads = try reader.sequence(n, key: "\(key).workloads").enumerated().map { (j, w) in
                    try reader.string(w, key: "\(key).workloads[\(j)]")
                }
                armWorkloadLines[name] = (key, n.mark?.line)
            }
            arms.append(arm)
        }
        if arms.isEmpty {
            throw SuiteError(file: path, line: armsNode.mark?.line, key: "arms", message: "at least one arm")
        }

        guard let workloadsNode = top["workloads"] else {
            throw SuiteError(file: path, line: root.mark?.line, key: "workloads", message: "required")
        }
        var workloads: [WorkloadSpec] = []
        for (i, node) in try reader.sequence(workloadsNode, key: "workloads").enumerated() {
            let key = "workloads[\(i)]"
            let m = try reader.mapping(
                node, key: key,
                allowed: [
                    "name", "dockerfile", "context", "args", "memory_limit", "pids_limit", "client", "service",
                    "volume",
                ])
            guard let nameNode = m["name"] else {
                throw SuiteError(file: path, line: node.mark?.line, key: "\(key).name", message: "required")
            }
            let name = try reader.identifier(nameNode, key: "\(key).name")
            if workloads.contains(where: { $0.name == name }) {
                throw SuiteError(
                    file: path, line: nameNode.mark?.line, key: "\(key).name", message: "duplicate workload \(name)")
            }
            let dockerfileRel =
                try m["dockerfile"].map { try reader.string($0, key: "\(key).dockerfile") }
                ?? "workloads/\(name)/Dockerfile"
            let dockerfile = dockerfileRel.hasPrefix("/") ? dockerfileRel : "\(baseDir)/\(dockerfileRel)"
            let contextRel = try m["context"].map { try reader.string($0, key: "\(key).context") }
            let context =
                contextRel.map { $0.hasPrefix("/") ? $0 : "\(baseDir)/\($0)" }
                ?? (dockerfile as NSString).deletingLastPathComponent
            let args = try m["args"].map {
                try reader.sequence($0, key: "\(key).args").enumerated().map { (j, n) in
                    try reader.string(n, key: "\(key).args[\(j)]")
                }
            }
            let memLimit = try m["memory_limit"].map { try reader.bytes($0, key: "\(key).memory_limit") }
            let pids = try m["pids_limit"].map {
                Int64(try reader.int($0, key: "\(key).pids_limit", range: 1...1_000_000))
            }
            let client = try m["client"].map {
                try reader.sequence($0, key: "\(key).client").enumerated().map { (j, n) in
                    try reader.string(n, key: "\(key).client[\(j)]")
                }
            }
            if let client, let clientNode = m["client"], !["netrr", "iperf3"].contains(client.first ?? "") {
                throw SuiteError(
                    file: path, line: clientNode.mark?.line, key: "\(key).client",
                    message: "the client is the kit's bbwork (netrr …) or Debian's iperf3 (iperf3 …)")
            }
            let service = try m["service"].map { try reader.service($0, key: "\(key).service") }
            if client != nil, service != nil {
                throw SuiteError(
                    file: path, line: m["service"]?.mark?.line, key: "\(key).service",
                    message: "a workload has a client or a service, not both")
            }
            let volume = try m["volume"].map { try reader.volume($0, key: "\(key).volume") }
            if let volume, volume.on == .overlay,
                let vm = arms.first(where: { $0.kind == .vm && ($0.workloads?.contains(name) ?? true) })
            {
                throw SuiteError(
                    file: path, line: m["volume"]?.mark?.line, key: "\(key).volume.on",
                    message:
                        "an overlay volume is a container's writable layer, which VM arm \(vm.name) does not have: "
                        + "list the workloads it runs (workloads: [...]) without \(name)")
            }
            workloads.append(
                WorkloadSpec(
                    name: name, dockerfile: dockerfile, context: context, args: args, memoryLimitBytes: memLimit,
                    pidsLimit: pids, line: (m["dockerfile"] ?? nameNode).mark?.line, client: client, service: service,
                    volume: volume))
        }
        if workloads.isEmpty {
            throw SuiteError(
                file: path, line: workloadsNode.mark?.line, key: "workloads", message: "at least one workload")
        }
        // What an engine cannot run is refused here, naming the arm, not failed run by run.
        for arm in arms {
            for w in workloads where arm.runs(w.name) {
                var why: String?
                switch arm.config {
                case .vm(let vm) where vm.launcher == .qemu && w.usesNetwork:
                    why = "launcher qemu has no bench-network NIC, and \(w.name) is a network or service workload"
                case .container(let c) where c.engine == .podman && w.volume?.on == .overlay:
                    why =
                        "podman keeps its writable layer in its own storage: \(w.name)'s overlay volume cannot go there"
                default: break
                }
                guard let why, let at = armLines[arm.name] else { continue }
                throw SuiteError(
                    file: path, line: at.line, key: at.key,
                    message: "\(why); list the workloads this arm runs (workloads: [...]) without it")
            }
        }
        for arm in arms {
            guard let names = arm.workloads, let at = armWorkloadLines[arm.name] else { continue }
            for n in names where !workloads.contains(where: { $0.name == n }) {
                throw SuiteError(
                    file: path, line: at.line, key: "\(at.key).workloads",
                    message:
                        "\(n) is not a workload of this suite (have: \(workloads.map(\.name).joined(separator: ",")))")
            }
            if names.isEmpty {
                throw SuiteError(
                    file: path, line: at.line, key: "\(at.key).workloads", message: "at least one workload")
            }
        }

        var density: DensitySpec?
        if let dn = top["density"] {
            let m = try reader.mapping(dn, key: "density", allowed: ["workload", "levels", "arms"])
            guard let wn = m["workload"] else {
                throw SuiteError(file: path, line: dn.mark?.line, key: "density.workload", message: "required")
            }
            let w = try reader.string(wn, key: "density.workload")
            guard workloads.contains(where: { $0.name == w }) else {
                throw SuiteError(
                    file: path, line: wn.mark?.line, key: "density.workload",
                    message: "\(w) is not a workload of this suite")
            }
            let levels =
                try m["levels"].map {
                    try reader.sequence($0, key: "density.levels").enumerated().map { (j, n) in
                        try reader.int(n, key: "density.levels[\(j)]", range: 1...512)
                    }
                } ?? [1, 2, 4]
            let densityArms =
                try m["arms"].map {
                    try reader.sequence($0, key: "density.arms").enumerated().map { (j, n) in
                        try reader.string(n, key: "density.arms[\(j)]")
                    }
                } ?? arms.map(\.name)
            for a in densityArms where !arms.contains(where: { $0.name == a }) {
                throw SuiteError(
                    file: path, line: m["arms"]?.mark?.line, key: "density.arms",
                    message: "\(a) is not an arm of this suite")
            }
            density = DensitySpec(workload: w, levels: levels, arms: densityArms)
        }
        var suite = Suite(
            name: name, sourcePath: path, repetitions: repetitions, warmups: warmups, timeoutSeconds: timeout,
            cacheMode: cache, seed: seed, arms: arms, workloads: workloads, density: density,
            isolationProbe: isolationProbe)
        if let nn = top["network"] {
            let m = try reader.mapping(nn, key: "network", allowed: ["subnet"])
            if let sn = m["subnet"] {
                let text = try reader.string(sn, key: "network.subnet")
                do throws(NetworkError) {
                    _ = try IPv4Subnet(text)
                } catch {
                    throw SuiteError(file: path, line: sn.mark?.line, key: "network.subnet", message: error.description)
                }
                suite.networkSubnet = text
            }
        }
        return suite
    }

    /// `--arms a,b` / `--workloads a,b`: subsets of the suite; unknown names are errors.
    public func selecting(arms armNames: [String]?, workloads workloadNames: [String]?, repetitions: Int?) throws
        -> Suite
    {
        var s = self
        /// Every name asked for by `option` must be one of `known`.
        func requireKnown(_ names: [String], in known: [String], option: String, noun: String) throws {
            for n in names where !known.contains(n) {
                throw SuiteError(
                    file: option, line: nil, key: n,
                    message: "not \(noun) of \(name) (have: \(known.joined(separator: ",")))")
            }
        }
        if let armNames {
            try requireKnown(armNames, in: arms.map(\.name), option: "--arms", noun: "an arm")
            s.arms = arms.filter { armNames.contains($0.name) }
            if var d = s.density {
                d.arms = d.arms.filter { armNames.contains($0) }
                s.density = d.arms.isEmpty ? nil : d
            }
        }
        if let workloadNames {
            try requireKnown(workloadNames, in: workloads.map(\.name), option: "--workloads", noun: "a workload")
            s.workloads = workloads.filter { workloadNames.contains($0.name) }
            if let d = s.density, !workloadNames.contains(d.workload) { s.density = nil }
        }
        if let repetitions {
            guard repetitions >= 1 else {
                throw SuiteError(file: "--repetitions", line: nil, key: "", message: "must be ≥ 1")
            }
            s.repetitions = repetitions
        }
        return s
    }
}

/// Typed reads from a YAML node tree; every error carries the file, line and key path.
struct NodeReader {
    let file: String

    /// `service: {port, ready, path?, load, control_port?}`.
    func service(_ node: Node, key: String) throws(SuiteError) -> ServiceSpec {
        let m = try mapping(node, key: key, allowed: ["port", "ready", "path", "load", "control_port"])
        guard let portNode = m["port"] else { throw fail(node, "\(key).port", "required") }
        guard let readyNode = m["ready"] else { throw fail(node, "\(key).ready", "required (tcp, http or redis)") }
        guard let loadNode = m["load"] else { throw fail(node, "\(key).load", "required (wrk … or redis-benchmark …)") }
        let load = try sequence(loadNode, key: "\(key).load").enumerated().map { (j, n) throws(SuiteError) in
            try string(n, key: "\(key).load[\(j)]")
        }
        guard let program = load.first, ServiceSpec.loadPrograms[program] != nil else {
            throw fail(
                loadNode, "\(key).load",
                "the load client is Debian's wrk (wrk …) or redis-benchmark (redis-benchmark …)")
        }
        var spec = ServiceSpec(
            port: try int(portNode, key: "\(key).port", range: 1...65535),
            ready: try enumValue(readyNode, key: "\(key).ready", ServiceSpec.Ready.self), load: load)
        if let n = m["path"] {
            spec.path = try string(n, key: "\(key).path")
            guard spec.path.hasPrefix("/"), !spec.path.contains(where: { $0 == " " || $0.isNewline }) else {
                throw fail(n, "\(key).path", "an HTTP path: starts with /, no spaces")
            }
        }
        if let n = m["control_port"] { spec.controlPort = try int(n, key: "\(key).control_port", range: 1...65535) }
        if spec.controlPort == spec.port {
            throw fail(node, "\(key).control_port", "must differ from the service's port \(spec.port)")
        }
        return spec
    }

    /// `volume: {path, size?, on?}`.
    func volume(_ node: Node, key: String) throws(SuiteError) -> VolumeSpec {
        let m = try mapping(node, key: key, allowed: ["path", "size", "on"])
        guard let pathNode = m["path"] else { throw fail(node, "\(key).path", "required (e.g. /data)") }
        let target = try string(pathNode, key: "\(key).path")
        let parts = target.split(separator: "/")
        guard target.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }),
            !target.contains(where: { $0.isNewline || $0 == " " })
        else {
            throw fail(pathNode, "\(key).path", "an absolute directory other than / (no . or .. parts, no spaces)")
        }
        var spec = VolumeSpec(path: "/" + parts.joined(separator: "/"))
        if let n = m["size"] {
            spec.sizeBytes = try bytes(n, key: "\(key).size")
            guard (64 << 20...(1 << 40)).contains(spec.sizeBytes) else {
                throw fail(n, "\(key).size", "between 64MiB and 1TiB")
            }
        }
        if let n = m["on"] { spec.on = try enumValue(n, key: "\(key).on", VolumeSpec.Backing.self) }
        return spec
    }

    func fail(_ node: Node?, _ key: String, _ message: String) -> SuiteError {
        // Yams marks are 1-based already.
        SuiteError(file: file, line: node?.mark?.line, key: key, message: message)
    }

    func mapping(_ node: Node, key: String, allowed: Set<String>) throws(SuiteError) -> [String: Node] {
        guard case .mapping(let m) = node else { throw fail(node, key, "expected a mapping") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard case .scalar(let s) = k else { throw fail(k, key, "keys must be strings") }
            let name = s.string
            guard allowed.contains(name) else {
                throw fail(
                    k, key.isEmpty ? name : "\(key).\(name)",
                    "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            }
            if out[name] != nil { throw fail(k, key.isEmpty ? name : "\(key).\(name)", "duplicate key") }
            out[name] = v
        }
        return out
    }

    func sequence(_ node: Node, key: String) throws(SuiteError) -> [Node] {
        guard case .sequence(let s) = node else { throw fail(node, key, "expected a list") }
        return Array(s)
    }

    func string(_ node: Node, key: String) throws(SuiteError) -> String {
        guard case .scalar(let s) = node else { throw fail(node, key, "expected a string") }
        return s.string
    }

    func identifier(_ node: Node, key: String) throws(SuiteError) -> String {
        let s = try string(node, key: key)
        guard !s.isEmpty, s.count <= 40,
            s.allSatisfy({ ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") && $0.isASCII })
        else {
            throw fail(node, key, "\"\(s)\" must be 1–40 characters of [A-Za-z0-9_-]")
        }
        return s
    }

    /// Safe as one path component: 1–64 characters of [A-Za-z0-9_.-], not starting with ".".
    func fileName(_ node: Node, key: String) throws(SuiteError) -> String {
        let s = try string(node, key: key)
        guard !s.isEmpty, s.count <= 64, !s.hasPrefix("."),
            s.allSatisfy({ ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") && $0.isASCII })
        else {
            throw fail(node, key, "\"\(s)\" must be 1–64 characters of [A-Za-z0-9_.-], not starting with \".\"")
        }
        return s
    }

    /// An absolute path to an executable file, checked now: a typo is an error naming the line, not a failed run.
    func executable(_ node: Node, key: String) throws(SuiteError) -> String {
        let s = try string(node, key: key)
        guard s.hasPrefix("/") else { throw fail(node, key, "\"\(s)\" must be an absolute path") }
        guard access(s, X_OK) == 0 else {
            throw fail(node, key, "\(s): not an executable file (\(String(cString: strerror(errno))))")
        }
        return s
    }

    func int(_ node: Node, key: String, range: ClosedRange<Int>) throws(SuiteError) -> Int {
        let s = try string(node, key: key)
        guard let v = Int(s) else { throw fail(node, key, "\"\(s)\" is not an integer") }
        guard range.contains(v) else {
            throw fail(node, key, "\(v) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    func double(_ node: Node, key: String, range: ClosedRange<Double>) throws(SuiteError) -> Double {
        let s = try string(node, key: key)
        guard let v = Double(s), v.isFinite else { throw fail(node, key, "\"\(s)\" is not a number") }
        guard range.contains(v) else {
            throw fail(node, key, "\(v) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    func bool(_ node: Node, key: String) throws(SuiteError) -> Bool {
        let s = try string(node, key: key)
        switch s {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, key, "\"\(s)\" is not true or false")
        }
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ node: Node, key: String, _: E.Type) throws(SuiteError) -> E
    where E.RawValue == String {
        let s = try string(node, key: key)
        guard let v = E(rawValue: s) else {
            throw fail(node, key, "\"\(s)\" is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    /// "64MiB", "32M", "1GiB", or plain bytes.
    func bytes(_ node: Node, key: String) throws(SuiteError) -> Int64 {
        let s = try string(node, key: key).trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
        ]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            guard let v = Int64(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v > 0 else { break }
            let (product, overflow) = v.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw fail(node, key, "\"\(s)\" is too large") }
            return product
        }
        guard let v = Int64(s), v > 0 else { throw fail(node, key, "\"\(s)\" is not a size (e.g. 64MiB)") }
        return v
    }
}
