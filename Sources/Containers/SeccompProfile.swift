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
    /// Denied with EPERM: the syscalls Docker's default profile refuses to an unprivileged container.
    public static let dockerDefaultDenied = [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
        "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
        "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
        "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
        "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
        "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
        "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "_sysctl", "syslog",
        "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
    ]

    /// Docker's default in effect: allow by default, EPERM for the list above, no namespace-creating
    /// clone, and ENOSYS for clone3 (its flags live in memory seccomp cannot inspect; libc falls back to clone).
    public static func dockerDefault() -> RuntimeSpec.Seccomp {
        // One rule per namespace bit: libseccomp ORs rules on the same syscall, so "any bit set" is denied.
        let namespaceBits: [UInt64] = [
            0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
        ]
        var rules: [RuntimeSpec.Seccomp.Syscall] = [
            .init(names: dockerDefaultDenied, action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EPERM), args: nil)
        ]
        for bit in namespaceBits {
            let arg = RuntimeSpec.Seccomp.Arg(index: 0, value: bit, valueTwo: bit, op: "SCMP_CMP_MASKED_EQ")
            rules.append(.init(names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EPERM), args: [arg]))
        }
        rules.append(.init(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(ENOSYS), args: nil))
        return RuntimeSpec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: nil, architectures: nil, flags: nil, syscalls: rules)
    }

    /// Compiles an OCI seccomp section to BPF with libseccomp (in the parent, once per profile).
    public static func compile(_ spec: RuntimeSpec.Seccomp) throws(SeccompError) -> SeccompFilter {
        guard let defaultAction = SeccompAction.parse(spec.defaultAction, errno: spec.defaultErrnoRet) else {
            throw SeccompError(operation: "defaultAction \(spec.defaultAction)", code: -EINVAL)
        }
        guard let ctx = seccomp_init(defaultAction) else { throw SeccompError(operation: "init", code: -ENOMEM) }
        defer { seccomp_release(ctx) }
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
