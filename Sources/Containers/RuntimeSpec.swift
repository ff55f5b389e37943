import Foundation
import Probes

/// The subset of the OCI runtime-spec (config.json) boxbench's runtime implements.
/// Field names mirror the spec; anything else that reaches the loader is rejected by `SpecValidator`.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]?
    public var hooks: Hooks?
    public var annotations: [String: String]?
    public var linux: Linux?

    public struct Process: Codable, Sendable, Equatable {
        public var terminal: Bool?
        public var user: User
        public var args: [String]
        public var env: [String]?
        public var cwd: String
        public var capabilities: Capabilities?
        public var rlimits: [Rlimit]?
        public var noNewPrivileges: Bool?
        public var oomScoreAdj: Int?
        public var apparmorProfile: String?
        public var selinuxLabel: String?
    }

    public struct User: Codable, Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var umask: UInt32?
        public var additionalGids: [UInt32]?
    }

    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]?
        public var effective: [String]?
        public var inheritable: [String]?
        public var permitted: [String]?
        public var ambient: [String]?
    }

    public struct Rlimit: Codable, Sendable, Equatable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64
    }

    public struct Root: Codable, Sendable, Equatable {
        public var path: String
        public var readonly: Bool?
    }

    public struct Mount: Codable, Sendable, Equatable {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]?
        public init(destination: String, type: String?, source: String?, options: [String]?) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
        }
    }

    public struct Hook: Codable, Sendable, Equatable {
        public var path: String
        public var args: [String]?
        public var env: [String]?
        public var timeout: Int?
    }

    public struct Hooks: Codable, Sendable, Equatable {
        public var prestart: [Hook]?
        public var createRuntime: [Hook]?
        public var createContainer: [Hook]?
        public var startContainer: [Hook]?
        public var poststart: [Hook]?
        public var poststop: [Hook]?
    }

    public struct Linux: Codable, Sendable, Equatable {
        public var namespaces: [Namespace]?
        public var uidMappings: [IDMapping]?
        public var gidMappings: [IDMapping]?
        public var resources: Resources?
        public var cgroupsPath: String?
        public var seccomp: Seccomp?
        public var maskedPaths: [String]?
        public var readonlyPaths: [String]?
        public var rootfsPropagation: String?
        public var sysctl: [String: String]?
        public var devices: [Device]?
        public var mountLabel: String?
    }

    public struct Namespace: Codable, Sendable, Equatable {
        public var type: String
        public var path: String?
        public init(type: String, path: String? = nil) {
            self.type = type
            self.path = path
        }
    }

    public struct IDMapping: Codable, Sendable, Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32
    }

    public struct Device: Codable, Sendable, Equatable {
        public var type: String
        public var path: String
        public var major: Int64?
        public var minor: Int64?
    }

    public struct Resources: Codable, Sendable, Equatable {
        public var memory: Memory?
        public var cpu: CPU?
        public var pids: Pids?
        public var devices: [DeviceRule]?

        public struct Memory: Codable, Sendable, Equatable {
            public var limit: Int64?
            public var reservation: Int64?
            public var swap: Int64?
            public var disableOOMKiller: Bool?
        }
        public struct CPU: Codable, Sendable, Equatable {
            public var shares: UInt64?
            public var quota: Int64?
            public var period: UInt64?
        }
        public struct Pids: Codable, Sendable, Equatable {
            public var limit: Int64
        }
        public struct DeviceRule: Codable, Sendable, Equatable {
            public var allow: Bool
            public var type: String?
            public var major: Int64?
            public var minor: Int64?
            public var access: String?
        }
    }

    public struct Seccomp: Codable, Sendable, Hashable {
        public var defaultAction: String
        public var defaultErrnoRet: UInt32?
        public var architectures: [String]?
        public var flags: [String]?
        public var syscalls: [Syscall]?

        public struct Syscall: Codable, Sendable, Hashable {
            public var names: [String]
            public var action: String
            public var errnoRet: UInt32?
            public var args: [Arg]?
        }
        public struct Arg: Codable, Sendable, Hashable {
            public var index: UInt32
            public var value: UInt64
            public var valueTwo: UInt64?
            public var op: String
        }
    }
}

public struct SpecError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var field: String
    public var reason: String
    public var description: String {
        field.isEmpty ? "\(file): \(reason)" : "\(file): \(field): \(reason)"
    }
}

/// Rejects fields boxbench does not implement, naming them: a silently ignored field could weaken isolation.
enum SpecValidator {
    /// Known keys per object path (`[]` is an array element); maps (annotations, sysctl) take any key. A switch over
    /// arrays, not a Dictionary of Sets: its one-time set-up was 0.12 M instructions of every create.
    static func known(_ path: String) -> [String] {
        switch path {
        case "": ["ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations", "linux"]
        case "process":
            [
                "terminal", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges", "oomScoreAdj",
                "apparmorProfile", "selinuxLabel",
            ]
        case "process.user": ["uid", "gid", "umask", "additionalGids"]
        case "process.capabilities": ["bounding", "effective", "inheritable", "permitted", "ambient"]
        case "process.rlimits[]": ["type", "hard", "soft"]
        case "root": ["path", "readonly"]
        case "mounts[]": ["destination", "type", "source", "options"]
        case "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
        case "hooks.*[]": ["path", "args", "env", "timeout"]
        case "linux":
            [
                "namespaces", "uidMappings", "gidMappings", "resources", "cgroupsPath", "seccomp", "maskedPaths",
                "readonlyPaths", "rootfsPropagation", "sysctl", "devices", "mountLabel",
            ]
        case "linux.namespaces[]": ["type", "path"]
        case "linux.uidMappings[]": ["containerID", "hostID", "size"]
        case "linux.gidMappings[]": ["containerID", "hostID", "size"]
        case "linux.devices[]": ["type", "path", "major", "minor", "fileMode", "uid", "gid"]
        case "linux.resources": ["memory", "cpu", "pids", "devices"]
        case "linux.resources.memory": ["limit", "reservation", "swap", "disableOOMKiller"]
        case "linux.resources.cpu": ["shares", "quota", "period"]
        case "linux.resources.pids": ["limit"]
        case "linux.resources.devices[]": ["allow", "type", "major", "minor", "access"]
        case "linux.seccomp": ["defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls"]
        case "linux.seccomp.syscalls[]": ["names", "action", "errnoRet", "args"]
        case "linux.seccomp.syscalls[].args[]": ["index", "value", "valueTwo", "op"]
        default: []
        }
    }
}

extension RuntimeSpec {
    /// Loads and validates a bundle's config.json; errors name the file and the field.
    public static func load(bundle: String) throws(SpecError) -> RuntimeSpec {
        let file = bundle + "/config.json"
        let bytes: [UInt8]
        do { bytes = try readFileBytes(file) } catch {
            throw SpecError(file: file, field: "", reason: "cannot read: \(String(cString: strerror(error.errno)))")
        }
        return try parse(bytes: bytes, file: file)
    }

    public static func parse(_ data: Data, file: String) throws(SpecError) -> RuntimeSpec {
        try parse(bytes: [UInt8](data), file: file)
    }

    public static func parse(bytes: [UInt8], file: String) throws(SpecError) -> RuntimeSpec {
        let spec = try SpecJSON.withRoot(bytes, file: file) { root throws(SpecError) in try decode(root) }
        try spec.validateSemantics(file: file)
        return spec
    }

    /// Values that parse but that boxbench cannot honour.
    func validateSemantics(file: String) throws(SpecError) {
        guard let process else { throw SpecError(file: file, field: "process", reason: "required to run a container") }
        if process.args.isEmpty { throw SpecError(file: file, field: "process.args", reason: "must not be empty") }
        if process.terminal == true {
            throw SpecError(file: file, field: "process.terminal", reason: "true is not supported (no console socket)")
        }
        if let p = process.apparmorProfile, !p.isEmpty {
            throw SpecError(file: file, field: "process.apparmorProfile", reason: "AppArmor is not supported")
        }
        if let l = process.selinuxLabel, !l.isEmpty {
            throw SpecError(file: file, field: "process.selinuxLabel", reason: "SELinux is not supported")
        }
        if !process.cwd.hasPrefix("/") { throw SpecError(file: file, field: "process.cwd", reason: "must be absolute") }
        // C strings end at NUL: a NUL inside would silently cut the value short.
        for (field, values) in [("process.args", process.args), ("process.env", process.env ?? [])] {
            for (i, v) in values.enumerated() where v.utf8.contains(0) {
                throw SpecError(file: file, field: "\(field)[\(i)]", reason: "contains a NUL byte")
            }
        }
        for (field, value) in [("process.cwd", process.cwd), ("root.path", root?.path), ("hostname", hostname)] {
            if let value, value.utf8.contains(0) {
                throw SpecError(file: file, field: field, reason: "contains a NUL byte")
            }
        }
        for (i, m) in (mounts ?? []).enumerated()
        where ([m.destination, m.source ?? "", m.type ?? ""] + (m.options ?? [])).contains(where: {
            $0.utf8.contains(0)
        }) {
            throw SpecError(file: file, field: "mounts[\(i)]", reason: "contains a NUL byte")
        }
        if let caps = process.capabilities {
            let sets: [(String, [String]?)] = [
                ("bounding", caps.bounding), ("effective", caps.effective), ("inheritable", caps.inheritable),
                ("permitted", caps.permitted), ("ambient", caps.ambient),
            ]
            for (set, names) in sets {
                for cap in names ?? [] where Capability.bit(cap) == nil {
                    throw SpecError(
                        file: file, field: "process.capabilities.\(set)", reason: "unknown capability \(cap)")
                }
            }
        }
        for (i, r) in (process.rlimits ?? []).enumerated() where Rlimits.number(r.type) == nil {
            throw SpecError(file: file, field: "process.rlimits[\(i)].type", reason: "unknown rlimit \(r.type)")
        }
        guard let root else { throw SpecError(file: file, field: "root", reason: "required") }
        if root.path.isEmpty { throw SpecError(file: file, field: "root.path", reason: "must not be empty") }
        for (i, m) in (mounts ?? []).enumerated() {
            if !m.destination.hasPrefix("/") {
                throw SpecError(file: file, field: "mounts[\(i)].destination", reason: "must be absolute")
            }
            if m.destination.split(separator: "/").contains("..") {
                throw SpecError(file: file, field: "mounts[\(i)].destination", reason: "must not contain ..")
            }
            for option in m.options ?? [] where !MountOptions.isKnown(option) {
                throw SpecError(file: file, field: "mounts[\(i)].options", reason: "unsupported option \(option)")
            }
        }
        guard let linux else { return }
        for (i, ns) in (linux.namespaces ?? []).enumerated() {
            guard NamespaceKind(rawValue: ns.type) != nil else {
                throw SpecError(
                    file: file, field: "linux.namespaces[\(i)].type", reason: "unknown namespace \(ns.type)")
            }
            if let p = ns.path, !p.isEmpty {
                // Joining is implemented for the network namespace (a bench network, a CNI-made namespace).
                guard ns.type == "network" else {
                    throw SpecError(
                        file: file, field: "linux.namespaces[\(i)].path",
                        reason: "joining an existing \(ns.type) namespace is not supported (only network)")
                }
                var st = stat()
                guard p.hasPrefix("/"), stat(p, &st) == 0 else {
                    throw SpecError(
                        file: file, field: "linux.namespaces[\(i)].path", reason: "\(p): no such namespace file")
                }
            }
        }
        if let path = linux.cgroupsPath, !path.isEmpty {
            // The runtime kills every member of the group at teardown: it must be a group of its own.
            let parts = path.split(separator: "/")
            if path.contains(":") {
                throw SpecError(
                    file: file, field: "linux.cgroupsPath",
                    reason: "\(path): systemd slice:prefix:name is not supported")
            }
            if parts.contains("..") || parts.contains(".") {
                throw SpecError(file: file, field: "linux.cgroupsPath", reason: "\(path) must not contain . or ..")
            }
            if parts.isEmpty {
                throw SpecError(file: file, field: "linux.cgroupsPath", reason: "\(path) names the root cgroup")
            }
        }
        if let d = linux.devices, !d.isEmpty {
            throw SpecError(file: file, field: "linux.devices", reason: "extra device nodes are not supported")
        }
        let hasMountNS = linux.namespaces?.contains { $0.type == "mount" } ?? false
        for (field, paths) in [("linux.maskedPaths", linux.maskedPaths), ("linux.readonlyPaths", linux.readonlyPaths)]
        where !(paths ?? []).isEmpty && !hasMountNS {
            // Masking the host's own /proc paths is not what was asked, and skipping them would be silent (runc refuses).
            throw SpecError(file: file, field: field, reason: "needs a mount namespace (linux.namespaces has none)")
        }
        if let rules = linux.resources?.devices, let bad = DeviceRules.invalidField(rules) {
            throw SpecError(file: file, field: bad.field, reason: bad.reason)
        }
        let namespaces = (linux.namespaces ?? []).map(\.type)
        for key in (linux.sysctl ?? [:]).keys.sorted() {
            guard let namespace = Self.sysctlNamespace(key) else {
                throw SpecError(
                    file: file, field: "linux.sysctl.\(key)",
                    reason: "not a namespaced sysctl: it would change the host (net.*, kernel.shm*/msg*/sem, "
                        + "fs.mqueue.*, kernel.hostname, kernel.domainname are)")
            }
            guard namespaces.contains(namespace) else {
                throw SpecError(
                    file: file, field: "linux.sysctl.\(key)",
                    reason:
                        "belongs to the \(namespace) namespace, which the container does not have (runc refuses too)")
            }
            guard namespaces.contains("mount") else {
                // Written through the container's own /proc, after pivot_root.
                throw SpecError(file: file, field: "linux.sysctl.\(key)", reason: "needs a mount namespace")
            }
        }
        if let l = linux.mountLabel, !l.isEmpty {
            throw SpecError(file: file, field: "linux.mountLabel", reason: "SELinux is not supported")
        }
        if let p = linux.rootfsPropagation, !["", "private", "rprivate", "slave", "rslave"].contains(p) {
            throw SpecError(file: file, field: "linux.rootfsPropagation", reason: "\(p) is not supported")
        }
        let hasUserNS = linux.namespaces?.contains { $0.type == "user" } ?? false
        if hasUserNS && (linux.uidMappings ?? []).isEmpty {
            throw SpecError(file: file, field: "linux.uidMappings", reason: "required with a user namespace")
        }
        if let mem = linux.resources?.memory, let limit = mem.limit, limit > 0, limit < 4096 * 16 {
            throw SpecError(file: file, field: "linux.resources.memory.limit", reason: "\(limit) bytes is too small")
        }
        if let seccomp = linux.seccomp {
            guard SeccompAction.parse(seccomp.defaultAction, errno: seccomp.defaultErrnoRet) != nil else {
                throw SpecError(
                    file: file, field: "linux.seccomp.defaultAction", reason: "unknown action \(seccomp.defaultAction)")
            }
            for (i, arch) in (seccomp.architectures ?? []).enumerated()
            where SeccompProfile.architectureToken(arch) == nil {
                throw SpecError(
                    file: file, field: "linux.seccomp.architectures[\(i)]", reason: "unknown architecture \(arch)")
            }
            if let flags = seccomp.flags, !flags.isEmpty {
                throw SpecError(file: file, field: "linux.seccomp.flags", reason: "seccomp flags are not supported")
            }
            for (i, rule) in (seccomp.syscalls ?? []).enumerated() {
                guard SeccompAction.parse(rule.action, errno: rule.errnoRet) != nil else {
                    throw SpecError(
                        file: file, field: "linux.seccomp.syscalls[\(i)].action",
                        reason: "unknown action \(rule.action)")
                }
                for (j, arg) in (rule.args ?? []).enumerated() where SeccompAction.compareOp(arg.op) == nil {
                    throw SpecError(
                        file: file, field: "linux.seccomp.syscalls[\(i)].args[\(j)].op",
                        reason: "unknown operator \(arg.op)")
                }
            }
        }
    }
}

extension RuntimeSpec {
    /// The namespace a sysctl belongs to (what runc allows), or nil for one that is global to the host.
    static func sysctlNamespace(_ key: String) -> String? {
        guard !key.isEmpty,
            key.utf8.allSatisfy({ c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x5F || c == 0x2D
            }), !key.contains(".."), !key.hasPrefix("."), !key.hasSuffix(".")
        else { return nil }
        if key.hasPrefix("net.") { return "network" }
        if key.hasPrefix("fs.mqueue.")
            || [
                "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
            ].contains(key)
        {
            return "ipc"
        }
        if key == "kernel.hostname" || key == "kernel.domainname" { return "uts" }
        return nil
    }
}

public enum NamespaceKind: String, Sendable, CaseIterable {
    case pid, network, mount, ipc, uts, user, cgroup

    public var cloneFlag: Int32 {
        switch self {
        case .pid: 0x2000_0000
        case .network: 0x4000_0000
        case .mount: 0x0002_0000
        case .ipc: 0x0800_0000
        case .uts: 0x0400_0000
        case .user: 0x1000_0000
        case .cgroup: 0x0200_0000
        }
    }
}
