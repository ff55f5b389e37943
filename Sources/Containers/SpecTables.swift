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
    /// A switch, not a Dictionary: the first use of a Dictionary type cost each command up to 0.7 M instructions of
    /// generic set-up in the larger binary (results/runtime-breakdown.txt).
    static func number(_ name: String) -> Int32? {
        switch name {
        case "RLIMIT_CPU": 0
        case "RLIMIT_FSIZE": 1
        case "RLIMIT_DATA": 2
        case "RLIMIT_STACK": 3
        case "RLIMIT_CORE": 4
        case "RLIMIT_RSS": 5
        case "RLIMIT_NPROC": 6
        case "RLIMIT_NOFILE": 7
        case "RLIMIT_MEMLOCK": 8
        case "RLIMIT_AS": 9
        case "RLIMIT_LOCKS": 10
        case "RLIMIT_SIGPENDING": 11
        case "RLIMIT_MSGQUEUE": 12
        case "RLIMIT_NICE": 13
        case "RLIMIT_RTPRIO": 14
        case "RLIMIT_RTTIME": 15
        default: nil
        }
    }
}

/// Mount options → MS_* flags plus the fs-specific data string, as runc interprets them.
public struct MountOptions: Equatable {
    public var flags: UInt
    public var propagation: Int32
    public var data: String

    // Switches, not Dictionaries and a Set (see Rlimits).
    static func setFlag(_ option: String) -> UInt? {
        switch option {
        case "ro": UInt(MS_RDONLY)
        case "nosuid": UInt(MS_NOSUID)
        case "nodev": UInt(MS_NODEV)
        case "noexec": UInt(MS_NOEXEC)
        case "sync": UInt(MS_SYNCHRONOUS)
        case "dirsync": UInt(MS_DIRSYNC)
        case "remount": UInt(MS_REMOUNT)
        case "mand": UInt(MS_MANDLOCK)
        case "noatime": UInt(MS_NOATIME)
        case "nodiratime": UInt(MS_NODIRATIME)
        case "bind": UInt(MS_BIND)
        case "rbind": UInt(MS_BIND) | UInt(MS_REC)
        case "relatime": UInt(MS_RELATIME)
        case "strictatime": UInt(MS_STRICTATIME)
        default: nil
        }
    }
    static func isClearFlag(_ option: String) -> Bool {
        ["rw", "suid", "dev", "exec", "async", "atime", "diratime", "norelatime"].contains(option)
    }
    static func propagationFlag(_ option: String) -> Int32? {
        switch option {
        case "private": Int32(MS_PRIVATE)
        case "rprivate": Int32(MS_PRIVATE | MS_REC)
        case "slave": Int32(MS_SLAVE)
        case "rslave": Int32(MS_SLAVE | MS_REC)
        case "shared": Int32(MS_SHARED)
        case "rshared": Int32(MS_SHARED | MS_REC)
        case "unbindable": Int32(MS_UNBINDABLE)
        case "runbindable": Int32(MS_UNBINDABLE | MS_REC)
        default: nil
        }
    }
    static let dataPrefixes = ["mode=", "size=", "nr_inodes=", "uid=", "gid=", "newinstance", "ptmxmode=", "gid="]

    static func isKnown(_ option: String) -> Bool {
        setFlag(option) != nil || isClearFlag(option) || propagationFlag(option) != nil
            || dataPrefixes.contains { option.hasPrefix($0) } || option == "defaults"
    }

    public init(_ options: [String]) {
        var flags: UInt = 0
        var propagation: Int32 = 0
        var data: [String] = []
        for o in options {
            if let f = Self.setFlag(o) {
                flags |= f
            } else if Self.isClearFlag(o) {
                continue
            } else if let p = Self.propagationFlag(o) {
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
