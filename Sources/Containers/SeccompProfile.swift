import CSeccomp
import CShim

#if canImport(Glibc)
    import Glibc
#endif

enum SeccompAction {
    static func parse(_ name: String, errno: UInt32?) -> UInt32? {
        switch name {
        case "SCMP_ACT_ALLOW": boxbench_scmp_act_allow()
        case "SCMP_ACT_ERRNO": boxbench_scmp_act_errno(UInt16(errno ?? UInt32(EPERM)))
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": 0
        case "SCMP_ACT_KILL_PROCESS": boxbench_scmp_act_kill_process()
        case "SCMP_ACT_LOG": boxbench_scmp_act_log()
        case "SCMP_ACT_TRAP": boxbench_scmp_act_trap()
        default: nil
        }
    }

    static func compareOp(_ name: String) -> scmp_compare? {
        switch name {
        case "SCMP_CMP_NE": SCMP_CMP_NE
        case "SCMP_CMP_LT": SCMP_CMP_LT
        case "SCMP_CMP_LE": SCMP_CMP_LE
        case "SCMP_CMP_EQ": SCMP_CMP_EQ
        case "SCMP_CMP_GE": SCMP_CMP_GE
        case "SCMP_CMP_GT": SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ
        default: nil
        }
    }
}

public struct SeccompError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var description: String { "seccomp \(operation): \(String(cString: strerror(-code))) (\(code))" }
}

/// A compiled classic-BPF filter, ready for the child to load right before exec.
public struct SeccompFilter: Sendable {
    public let bytes: [UInt8]
}

public enum SeccompProfile {
    /// libseccomp's token for an OCI architecture name (SCMP_ARCH_X86_64 → "x86_64"), or nil if it knows none.
    static func architectureToken(_ name: String) -> UInt32? {
        guard name.hasPrefix("SCMP_ARCH_") else { return nil }
        let token = seccomp_arch_resolve_name(String(name.dropFirst("SCMP_ARCH_".count)).lowercased())
        return token == 0 ? nil : token
    }

    /// Compiles an OCI seccomp section to BPF with libseccomp (in the parent, once per profile). Programs are kept
    /// by `SeccompFilterStore`: a change to what this emits must bump `SeccompFilterStore.compilerRevision`.
    public static func compile(_ spec: RuntimeSpec.Seccomp) throws(SeccompError) -> SeccompFilter {
        guard let defaultAction = SeccompAction.parse(spec.defaultAction, errno: spec.defaultErrnoRet) else {
            throw SeccompError(operation: "defaultAction \(spec.defaultAction)", code: -EINVAL)
        }
        guard let ctx = seccomp_init(defaultAction) else { throw SeccompError(operation: "init", code: -ENOMEM) }
        defer { seccomp_release(ctx) }
        // The listed architectures get the same rules; a process of any other (but the native one) is killed.
        for name in spec.architectures ?? [] {
            guard let token = architectureToken(name) else {
                throw SeccompError(operation: "architecture \(name)", code: -EINVAL)
            }
            let rc = seccomp_arch_add(ctx, token)
            if rc < 0 && rc != -EEXIST { throw SeccompError(operation: "add architecture \(name)", code: rc) }
        }
        // Rules equal to the default action are refused by libseccomp; skip them.
        for rule in spec.syscalls ?? [] {
            guard let action = SeccompAction.parse(rule.action, errno: rule.errnoRet) else {
                throw SeccompError(operation: "action \(rule.action)", code: -EINVAL)
            }
            if action == defaultAction { continue }
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR { continue }  // not a syscall on this architecture
                var rc: Int32
                if let args = rule.args, !args.isEmpty {
                    var cmps = args.map { a in
                        scmp_arg_cmp(
                            arg: a.index, op: SeccompAction.compareOp(a.op) ?? SCMP_CMP_EQ, datum_a: a.value,
                            datum_b: a.valueTwo ?? 0)
                    }
                    rc = seccomp_rule_add_array(ctx, action, nr, UInt32(cmps.count), &cmps)
                } else {
                    rc = seccomp_rule_add_array(ctx, action, nr, 0, nil)
                }
                if rc < 0 && rc != -EEXIST { throw SeccompError(operation: "add rule for \(name)", code: rc) }
            }
        }
        var buffer: UnsafeMutableRawPointer?
        var length = 0
        let rc = cshim_seccomp_export(UnsafeMutableRawPointer(ctx), &buffer, &length)
        guard rc == 0, let buffer else { throw SeccompError(operation: "export BPF", code: rc) }
        defer { free(buffer) }
        return SeccompFilter(bytes: Array(UnsafeRawBufferPointer(start: buffer, count: length)))
    }
}
