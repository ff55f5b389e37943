#if canImport(Glibc)
    import Glibc
#endif

extension SeccompProfile {
    /// Recorded in every result's provenance together with the version and the allowed-syscall count.
    public static let defaultProfileName = "boxbench-default"
    /// 1 was the allow-by-default deny-list (`dockerDefault()`); 2 is the deny-by-default allow-list below.
    public static let defaultProfileVersion = "2"

    /// The syscalls the default profile allows with no argument check, sorted by name.
    ///
    /// Derived from the unconditional allow-list of Docker's default profile (moby/profiles `seccomp/default.json`,
    /// compared at seccomp/v0.2.3; docs/SECCOMP.md names the commit and lists every difference), narrowed to x86-64:
    /// names that exist only on 32-bit x86 or on other architectures are left out. Added to Docker's unconditional
    /// set are the entries Docker grants under conditions a boxbench container always meets:
    /// - `arch_prctl` and `modify_ldt`: Docker's amd64-only entries (glibc needs `arch_prctl` to set up TLS).
    /// - `chroot`: Docker allows it with CAP_SYS_CHROOT, which is in Docker's default capability set; the kernel
    ///   still refuses it to a process without the capability.
    /// Stricter than Docker: `ptrace`, `process_vm_readv` and `process_vm_writev` stay denied (Docker allows them on
    /// Linux 4.8+); a benchmark workload has no use for them, and they reach into other processes of the container.
    /// `clone`, `clone3`, `personality` and `socket` are absent on purpose: they get argument-checked rules in
    /// `dockerDefaultAllowList()`. io_uring (`io_uring_setup`, `io_uring_enter`, `io_uring_register`) is absent
    /// on purpose too, as in Docker since 2023: its submissions run syscall-like operations seccomp never sees.
    public static let dockerDefaultAllowed: [String] = [
        "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl",
        "bind", "brk", "cachestat", "capget", "capset", "chdir",
        "chmod", "chown", "chroot", "clock_adjtime", "clock_getres", "clock_gettime",
        "clock_nanosleep", "close", "close_range", "connect", "copy_file_range", "creat",
        "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
        "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
        "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
        "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync",
        "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
        "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue",
        "futex_wait", "futex_waitv", "futex_wake", "futimesat", "get_robust_list", "get_thread_area",
        "getcpu", "getcwd", "getdents", "getdents64", "getegid", "geteuid",
        "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp",
        "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid",
        "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid",
        "gettimeofday", "getuid", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init",
        "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
        "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link",
        "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr",
        "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "map_shadow_stack",
        "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
        "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "mremap", "mseal", "msgctl", "msgget",
        "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
        "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64",
        "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64",
        "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr",
        "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
        "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getaffinity",
        "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
        "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
        "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg",
        "sendto", "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsuid",
        "setgid", "setgroups", "setitimer", "setpgid", "setpriority", "setregid",
        "setresgid", "setresuid", "setreuid", "setrlimit", "setsid", "setsockopt",
        "setuid", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair",
        "splice", "stat", "statfs", "statmount", "statx", "symlink",
        "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
        "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
        "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill",
        "truncate", "umask", "uname", "unlink", "unlinkat", "uretprobe",
        "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4",
        "waitid", "write", "writev",
    ]

    /// `personality(2)` personas a container may switch to: PER_LINUX, PER_LINUX32 (8), UNAME26 (0x20000),
    /// PER_LINUX32 | UNAME26, and 0xffffffff, which only queries the current persona.
    static let allowedPersonas: [UInt64] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff]

    /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.
    static let namespaceCloneFlags: UInt64 = 0x7E02_0000

    /// Socket family refused: AF_ALG, the kernel crypto API (Docker blocks it since moby/profiles seccomp/v0.2.2).
    static let afALG: UInt64 = 38
    /// Socket family refused: AF_VSOCK, host/guest sockets (family 39, between the two, stays allowed).
    static let afVSOCK: UInt64 = 40

    /// Builds the deny-by-default profile: EPERM default, the allow-list, personality / clone / socket arg filters,
    /// clone3 -> ENOSYS.
    ///
    /// Rules on one syscall are alternatives (libseccomp ORs them), while the comparisons inside one rule must all
    /// hold; that is why each allowed persona, and each allowed range of socket families, is a rule of its own.
    public static func dockerDefaultAllowList() -> RuntimeSpec.Seccomp {
        typealias Rule = RuntimeSpec.Seccomp.Syscall
        typealias Arg = RuntimeSpec.Seccomp.Arg
        let allow = "SCMP_ACT_ALLOW"
        var rules: [Rule] = [Rule(names: dockerDefaultAllowed, action: allow, errnoRet: nil, args: nil)]
        for persona in allowedPersonas {
            let arg = Arg(index: 0, value: persona, valueTwo: 0, op: "SCMP_CMP_EQ")
            rules.append(Rule(names: ["personality"], action: allow, errnoRet: nil, args: [arg]))
        }
        // Masked compare: (flags & namespaceCloneFlags) == 0, so plain fork and thread creation pass.
        let noNamespaces = Arg(index: 0, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")
        rules.append(Rule(names: ["clone"], action: allow, errnoRet: nil, args: [noNamespaces]))
        // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to the checked clone.
        rules.append(Rule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(ENOSYS), args: nil))
        // Every family except the two denied ones: below AF_ALG, the one between them, above AF_VSOCK.
        let socketRanges = [
            Arg(index: 0, value: afALG, valueTwo: 0, op: "SCMP_CMP_LT"),
            Arg(index: 0, value: afALG + 1, valueTwo: 0, op: "SCMP_CMP_EQ"),
            Arg(index: 0, value: afVSOCK, valueTwo: 0, op: "SCMP_CMP_GT"),
        ]
        for range in socketRanges {
            rules.append(Rule(names: ["socket"], action: allow, errnoRet: nil, args: [range]))
        }
        return RuntimeSpec.Seccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt32(EPERM),
            architectures: ["SCMP_ARCH_X86_64"], flags: nil, syscalls: rules)
    }

    /// Distinct syscall names some rule of the default profile allows (with or without an argument check):
    /// the count a result's provenance records next to the profile's name and version.
    public static var defaultProfileAllowedCount: Int {
        let rules = dockerDefaultAllowList().syscalls ?? []
        return Set(rules.filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names)).count
    }
}
