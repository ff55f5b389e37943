import CShim

#if canImport(Glibc)
    import Glibc
#endif

/// One device-cgroup rule: a v1 `devices.allow`/`devices.deny` line, and one block of the v2 BPF device program.
public struct DeviceCgroupRule: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case all = "a"
        case char = "c"
        case block = "b"
    }
    public var allow: Bool
    public var kind: Kind
    /// nil: any
    public var major: Int64?
    public var minor: Int64?
    /// A subset of "rwm".
    public var access: String = "rwm"

    /// "c 1:3 rwm", as devices.allow takes it and devices.list prints it.
    public var v1Line: String {
        if kind == .all { return "a *:* \(access)" }
        return "\(kind.rawValue) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access)"
    }

    /// BPF_DEVCG_ACC_* bits.
    var accessBits: Int32 {
        access.reduce(Int32(0)) { acc, c in
            acc | (c == "m" ? 1 : c == "r" ? 2 : c == "w" ? 4 : 0)
        }
    }
}

/// The device cgroup every container gets, in runc's order: deny everything, the bundle's own
/// `linux.resources.devices` in order, then the nodes every container has (runc's default set, less its mknod
/// wildcard and tun), which a bundle can add to but not take away (Docker bundles begin with "deny all").
public enum DeviceRules {
    public static let standard: [DeviceCgroupRule] = [
        .init(allow: true, kind: .char, major: 1, minor: 3),  // null
        .init(allow: true, kind: .char, major: 1, minor: 5),  // zero
        .init(allow: true, kind: .char, major: 1, minor: 7),  // full
        .init(allow: true, kind: .char, major: 1, minor: 8),  // random
        .init(allow: true, kind: .char, major: 1, minor: 9),  // urandom
        .init(allow: true, kind: .char, major: 5, minor: 0),  // tty
        .init(allow: true, kind: .char, major: 5, minor: 2),  // ptmx
        .init(allow: true, kind: .char, major: 136, minor: nil),  // pts/*
    ]

    public static let denyAll = DeviceCgroupRule(allow: false, kind: .all)

    /// The rules in the order they are applied (later rules win).
    public static func forContainer(_ resources: RuntimeSpec.Resources?) -> [DeviceCgroupRule] {
        [denyAll] + (resources?.devices ?? []).map(rule(from:)) + standard
    }

    static func rule(from r: RuntimeSpec.Resources.DeviceRule) -> DeviceCgroupRule {
        DeviceCgroupRule(
            allow: r.allow, kind: DeviceCgroupRule.Kind(rawValue: r.type ?? "a") ?? .all,
            major: r.major.flatMap { $0 < 0 ? nil : $0 }, minor: r.minor.flatMap { $0 < 0 ? nil : $0 },
            access: r.access ?? "rwm")
    }

    /// The field and reason of the first rule the runtime cannot apply as written, or nil.
    static func invalidField(_ rules: [RuntimeSpec.Resources.DeviceRule]) -> (field: String, reason: String)? {
        for (i, r) in rules.enumerated() {
            if let t = r.type, DeviceCgroupRule.Kind(rawValue: t) == nil {
                return ("linux.resources.devices[\(i)].type", "\(t) is not a, b or c")
            }
            if let a = r.access, a.isEmpty || !a.allSatisfy({ "rwm".contains($0) }) {
                return ("linux.resources.devices[\(i)].access", "\"\(a)\" is not a subset of rwm")
            }
        }
        return nil
    }

    /// The v1 hierarchy: `devices.deny` "a" empties the list, then each rule is written in order.
    static func applyV1(_ rules: [DeviceCgroupRule], dir: String) throws(CgroupError) {
        for rule in rules {
            try writeCgroupFile(dir + (rule.allow ? "/devices.allow" : "/devices.deny"), rule.v1Line)
        }
    }

    /// v2: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group (the kernel checks it in addition to any v1
    /// devices controller, so a hybrid host's unified group gets it too).
    static func attachBPF(_ rules: [DeviceCgroupRule], dir: String) throws(CgroupError) {
        let c = rules.map { r in
            cshim_device_rule(
                allow: r.allow ? 1 : 0,
                type: r.kind == .all ? 0 : (r.kind == .block ? 1 : 2),
                major: Int32(clamping: r.major ?? -1), minor: Int32(clamping: r.minor ?? -1), access: r.accessBits)
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CgroupError(operation: "open", path: dir, errno: errno) }
        defer { close(fd) }
        let rc = c.withUnsafeBufferPointer { cshim_attach_device_filter(fd, $0.baseAddress, $0.count) }
        if rc <= -CSHIM_BPF_LOAD_FAILED {
            throw CgroupError(
                operation: "load BPF device program for", path: dir, errno: -rc - CSHIM_BPF_LOAD_FAILED)
        }
        if rc != 0 { throw CgroupError(operation: "attach BPF device program to", path: dir, errno: -rc) }
    }
}
