#if canImport(Glibc)
    import Glibc
#endif

/// Linux capability names (with or without the CAP_ prefix) → bit numbers.
public enum Capability {
    static let names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    public static func bit(_ name: String) -> Int? {
        let bare = name.hasPrefix("CAP_") ? String(name.dropFirst(4)) : name
        return names.firstIndex(of: bare.uppercased())
    }

    public static func mask(_ list: [String]?) -> UInt64 {
        (list ?? []).reduce(0) { acc, name in bit(name).map { acc | (1 << UInt64($0)) } ?? acc }
    }

    public static func names(in mask: UInt64) -> [String] {
        names.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { "CAP_" + names[$0] }
    }

    /// runc's `spec` default: the few capabilities a plain process needs.
    public static let defaultSet = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
}

enum Rlimits {
    static let table: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
        "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
        "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]
    static func number(_ name: String) -> Int32? { table[name] }
}

/// Mount options → MS_* flags plus the fs-specific data string, as runc interprets them.
public struct MountOptions: Equatable {
    public var flags: UInt
    public var propagation: Int32
    public var data: String

    static let setFlags: [String: UInt] = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV), "noexec": UInt(MS_NOEXEC),
        "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "remount": UInt(MS_REMOUNT),
        "mand": UInt(MS_MANDLOCK), "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME),
        "bind": UInt(MS_BIND), "rbind": UInt(MS_BIND) | UInt(MS_REC), "relatime": UInt(MS_RELATIME),
        "strictatime": UInt(MS_STRICTATIME),
    ]
    static let clearFlags: Set<String> = ["rw", "suid", "dev", "exec", "async", "atime", "diratime", "norelatime"]
    static let propagationFlags: [String: Int32] = [
        "private": Int32(MS_PRIVATE), "rprivate": Int32(MS_PRIVATE | MS_REC), "slave": Int32(MS_SLAVE),
        "rslave": Int32(MS_SLAVE | MS_REC), "shared": Int32(MS_SHARED), "rshared": Int32(MS_SHARED | MS_REC),
        "unbindable": Int32(MS_UNBINDABLE), "runbindable": Int32(MS_UNBINDABLE | MS_REC),
    ]
    static let dataPrefixes = ["mode=", "size=", "nr_inodes=", "uid=", "gid=", "newinstance", "ptmxmode=", "gid="]

    static func isKnown(_ option: String) -> Bool {
        setFlags[option] != nil || clearFlags.contains(option) || propagationFlags[option] != nil
            || dataPrefixes.contains { option.hasPrefix($0) } || option == "defaults"
    }

    public init(_ options: [String]) {
        var flags: UInt = 0
        var propagation: Int32 = 0
        var data: [String] = []
        for o in options {
            if let f = Self.setFlags[o] {
                flags |= f
            } else if Self.clearFlags.contains(o) {
                continue
            } else if let p = Self.propagationFlags[o] {
                propagation = p
            } else if o != "defaults" {
                data.append(o)
            }
        }
        self.flags = flags
        self.propagation = propagation
        self.data = data.joined(separator: ",")
    }
}
