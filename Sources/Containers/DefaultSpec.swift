import Foundation

extension RuntimeSpec {
    /// What `boxbench container spec` prints: runc's default minus the cgroup mount, plus a seccomp profile
    /// equivalent to Docker's default (deny by default, docs/SECCOMP.md) and every namespace (net included), so a
    /// bundle is fully isolated out of the box.
    public static func defaultSpec(
        args: [String] = ["sh"], rootPath: String = "rootfs", hostname: String = "boxbench", seccomp: Bool = true
    ) -> RuntimeSpec {
        let caps = Capability.defaultSet
        return RuntimeSpec(
            ociVersion: "1.0.2",
            process: Process(
                terminal: false, user: User(uid: 0, gid: 0, umask: nil, additionalGids: nil), args: args,
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], cwd: "/",
                capabilities: Capabilities(
                    bounding: caps, effective: caps, inheritable: nil, permitted: caps, ambient: nil),
                rlimits: [Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true,
                oomScoreAdj: nil, apparmorProfile: nil, selinuxLabel: nil),
            root: Root(path: rootPath, readonly: true), hostname: hostname, domainname: nil,
            mounts: [
                Mount(destination: "/proc", type: "proc", source: "proc", options: nil),
                Mount(
                    destination: "/dev", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount(
                    destination: "/dev/pts", type: "devpts", source: "devpts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
                Mount(
                    destination: "/dev/shm", type: "tmpfs", source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount(
                    destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
                    options: ["nosuid", "noexec", "nodev"]),
                Mount(
                    destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
                Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]),
            ], hooks: nil, annotations: nil,
            linux: Linux(
                namespaces: NamespaceKind.allCases.filter { $0 != .user }.map {
                    Namespace(type: $0.rawValue, path: nil)
                },
                uidMappings: nil, gidMappings: nil,
                resources: Resources(memory: nil, cpu: nil, pids: nil, devices: nil), cgroupsPath: nil,
                seccomp: seccomp ? SeccompProfile.dockerDefaultAllowList() : nil,
                maskedPaths: [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
                rootfsPropagation: nil, sysctl: nil, devices: nil, mountLabel: nil))
    }

    public func jsonData() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(self)) ?? Data()
    }
}

extension RuntimeSpec {
    /// Sets `linux.resources` memory and pids limits (nil leaves a limit unset).
    public mutating func applyLimits(memoryBytes: Int64?, pidsMax: Int64?) {
        if linux == nil {
            linux = Linux(
                namespaces: nil, uidMappings: nil, gidMappings: nil, resources: nil, cgroupsPath: nil, seccomp: nil,
                maskedPaths: nil, readonlyPaths: nil, rootfsPropagation: nil, sysctl: nil, devices: nil, mountLabel: nil
            )
        }
        linux?.resources = Resources(
            memory: memoryBytes.map { Resources.Memory(limit: $0, reservation: nil, swap: nil) }, cpu: nil,
            pids: pidsMax.map { Resources.Pids(limit: $0) }, devices: nil)
    }
}

extension RuntimeSpec {
    /// The same capability list in the bounding, effective and permitted sets.
    public mutating func setCapabilities(_ names: [String]) {
        process?.capabilities = Capabilities(
            bounding: names, effective: names, inheritable: nil, permitted: names, ambient: nil)
    }

    public mutating func setUser(uid: UInt32, gid: UInt32) {
        process?.user = User(uid: uid, gid: gid, umask: nil, additionalGids: nil)
    }
}
