import CShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Everything the child does between clone and exec, decided from the spec as a plain value: what CShim's
/// `cshim_container_config` will say, without a pointer in it. Unit-tested without root (ChildPlanTests); the
/// runtime adds what only exists at launch (descriptors, the cgroup, the seccomp program, hooks) when it hands the
/// plan to C (`withConfig`).
struct ChildPlan: Equatable {
    struct Mount: Equatable {
        var source: String?
        var target: String
        var fstype: String?
        var flags: UInt
        var data: String?
        var propagation: Int32
        var isFile: Bool
    }

    struct Rlimit: Equatable {
        var resource: Int32
        var soft: UInt64
        var hard: UInt64
    }

    var args: [String]
    var env: [String]
    /// PATH from `env`, used to resolve argv[0] when it has no slash.
    var pathEnv: String?
    var cwd: String
    var uid: UInt32
    var gid: UInt32
    var additionalGids: [UInt32]
    /// -1: leave the inherited umask.
    var umask: Int32
    /// CLONE_NEW* flags of the namespaces to create (a network namespace given by path is joined, not created).
    var namespaces: Int32
    /// The network namespace to join, by path.
    var joinNetwork: String?
    var hostname: String?
    var domainname: String?
    var rootfs: String
    var rootfsReadonly: Bool
    var overlayLower: String?
    var overlayUpper: String?
    var overlayWork: String?
    var mounts: [Mount]
    /// /dev is a tmpfs in the spec: the child makes the default device nodes.
    var createDefaultDevices: Bool
    var maskedPaths: [String]
    var readonlyPaths: [String]
    /// "key=value", sorted by key.
    var sysctls: [String]
    var capBounding: UInt64
    var capEffective: UInt64
    var capPermitted: UInt64
    var capInheritable: UInt64
    var capAmbient: UInt64
    var noNewPrivileges: Bool
    var rlimits: [Rlimit]
    /// Int32.min: leave.
    var oomScoreAdj: Int32
    /// /proc/<pid>/uid_map and gid_map contents, when the spec maps ids.
    var uidMap: String?
    var gidMap: String?

    /// The plan for `process` in `spec`, its root at `rootfs` (an overlay of `overlay` when given), with `mounts`
    /// already resolved against the bundle (`ContainerRuntime.translateMounts`).
    init(
        spec: RuntimeSpec, process: RuntimeSpec.Process, rootfs: String, readonly: Bool,
        overlay: (lower: String, upper: String, work: String)?, mounts: [Mount]
    ) {
        let joinNetwork = spec.linux?.namespaces?.first { $0.type == "network" && !($0.path ?? "").isEmpty }?.path
        self.joinNetwork = joinNetwork
        namespaces = (spec.linux?.namespaces ?? []).reduce(Int32(0)) { acc, ns in
            ns.type == "network" && joinNetwork != nil ? acc : acc | (NamespaceKind(rawValue: ns.type)?.cloneFlag ?? 0)
        }
        args = process.args
        env = process.env ?? []
        pathEnv = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
        cwd = process.cwd
        uid = process.user.uid
        gid = process.user.gid
        additionalGids = process.user.additionalGids ?? []
        umask = process.user.umask.map { Int32($0) } ?? -1
        hostname = spec.hostname
        domainname = spec.domainname
        self.rootfs = rootfs
        rootfsReadonly = readonly
        overlayLower = overlay?.lower
        overlayUpper = overlay?.upper
        overlayWork = overlay?.work
        self.mounts = mounts
        createDefaultDevices = (spec.mounts ?? []).contains { $0.destination == "/dev" }
        maskedPaths = spec.linux?.maskedPaths ?? []
        readonlyPaths = spec.linux?.readonlyPaths ?? []
        sysctls = (spec.linux?.sysctl ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let caps = process.capabilities
        capBounding = Capability.mask(caps?.bounding)
        capEffective = Capability.mask(caps?.effective)
        capPermitted = Capability.mask(caps?.permitted)
        capInheritable = Capability.mask(caps?.inheritable)
        capAmbient = Capability.mask(caps?.ambient)
        noNewPrivileges = process.noNewPrivileges == true
        // A limit this kernel has no number for is left out (validated earlier, when the spec was read).
        rlimits = (process.rlimits ?? []).compactMap { r in
            Rlimits.number(r.type).map { Rlimit(resource: $0, soft: r.soft, hard: r.hard) }
        }
        oomScoreAdj = process.oomScoreAdj.map { Int32($0) } ?? Int32.min
        func idMap(_ maps: [RuntimeSpec.IDMapping]?) -> String? {
            guard let maps, !maps.isEmpty else { return nil }
            return maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        uidMap = idMap(spec.linux?.uidMappings)
        gidMap = idMap(spec.linux?.gidMappings)
    }

    /// The plan as CShim's config, valid only inside `body` (every string and array is freed after it); the
    /// launch-time fields (descriptors, cgroup, seccomp, hooks) are left for `body` to set.
    func withConfig<R>(_ body: (inout cshim_container_config, inout CStringArena) throws -> R) rethrows -> R {
        var strings = CStringArena()
        defer { strings.free() }
        var c = cshim_container_config()
        c.argv = strings.array(args)
        c.envp = strings.array(env)
        c.path_env = strings.string(pathEnv)
        c.cwd = strings.string(cwd)
        c.uid = uid
        c.gid = gid
        c.n_additional_gids = additionalGids.count
        c.umask = umask
        c.namespaces = namespaces
        c.hostname = strings.string(hostname)
        c.domainname = strings.string(domainname)
        c.rootfs = strings.string(rootfs)
        c.rootfs_readonly = rootfsReadonly ? 1 : 0
        c.overlay_lowerdirs = strings.string(overlayLower)
        c.overlay_upperdir = strings.string(overlayUpper)
        c.overlay_workdir = strings.string(overlayWork)
        c.n_mounts = mounts.count
        c.create_default_devices = createDefaultDevices ? 1 : 0
        c.masked_paths = strings.array(maskedPaths)
        c.n_masked_paths = maskedPaths.count
        c.readonly_paths = strings.array(readonlyPaths)
        c.n_readonly_paths = readonlyPaths.count
        c.sysctls = strings.array(sysctls)
        c.n_sysctls = sysctls.count
        c.cap_bounding = capBounding
        c.cap_effective = capEffective
        c.cap_permitted = capPermitted
        c.cap_inheritable = capInheritable
        c.cap_ambient = capAmbient
        c.no_new_privileges = noNewPrivileges ? 1 : 0
        c.n_rlimits = rlimits.count
        c.oom_score_adj = oomScoreAdj
        c.uid_map = strings.string(uidMap)
        c.gid_map = strings.string(gidMap)
        let cmounts = mounts.map { m in
            cshim_mount(
                source: strings.string(m.source), target: strings.string(m.target), fstype: strings.string(m.fstype),
                flags: m.flags, data: strings.string(m.data), propagation: m.propagation, is_file: m.isFile ? 1 : 0)
        }
        let crlimits = rlimits.map { cshim_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) }
        return try additionalGids.withUnsafeBufferPointer { gids in
            try crlimits.withUnsafeBufferPointer { rl in
                try cmounts.withUnsafeBufferPointer { m in
                    c.additional_gids = gids.baseAddress
                    c.rlimits = rl.baseAddress
                    c.mounts = m.baseAddress
                    return try body(&c, &strings)
                }
            }
        }
    }
}
