import CSeccomp
import CShim
import Containers
import Foundation
import Networks
import Probes

/// One measured capability of this host.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case ok, degraded, missing
    }
    public var name: String
    public var status: Status
    /// What was found, e.g. "hybrid: v1 memory,cpu,… + v2 hugetlb".
    public var detail: String
    /// For anything not ok: what a person can do about it.
    public var action: String?
    /// Time the probe itself measured (e.g. guest boot), when relevant.
    public var measuredMs: Double?
    /// True when this line came from the per-boot cache rather than a fresh measurement.
    public var cached: Bool

    public init(
        name: String, status: Status, detail: String, action: String? = nil, measuredMs: Double? = nil,
        cached: Bool = false
    ) {
        self.name = name
        self.status = status
        self.detail = detail
        self.action = action
        self.measuredMs = measuredMs
        self.cached = cached
    }
}

/// Slow probes (guest boots, libvirt) are supplied by the caller so this module stays free of VM code paths
/// it cannot test, and so tests can substitute them.
public struct SlowProbes: Sendable {
    public var kvm: @Sendable () -> DoctorCheck
    public var tcg: @Sendable () -> DoctorCheck
    public var libvirt: @Sendable () -> [DoctorCheck]
    public init(
        kvm: @escaping @Sendable () -> DoctorCheck, tcg: @escaping @Sendable () -> DoctorCheck,
        libvirt: @escaping @Sendable () -> [DoctorCheck]
    ) {
        self.kvm = kvm
        self.tcg = tcg
        self.libvirt = libvirt
    }
}

public struct Doctor: Sendable {
    public let paths: BoxbenchPaths
    public init(paths: BoxbenchPaths = BoxbenchPaths()) { self.paths = paths }

    /// Runs every check; slow ones come from the cache for this boot unless `refresh`.
    public func run(slow: SlowProbes, refresh: Bool) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        checks.append(kvmDevice())
        let bootID = HostFacts.read().bootID
        let cached = refresh ? nil : loadCache(bootID: bootID)
        let slowChecks: [DoctorCheck]
        if let cached {
            slowChecks = cached.map {
                var c = $0
                c.cached = true
                return c
            }
        } else {
            slowChecks = [slow.kvm(), slow.tcg()] + slow.libvirt()
            saveCache(slowChecks, bootID: bootID)
        }
        checks += slowChecks
        checks.append(cgroups())
        checks.append(seccomp())
        checks.append(userNamespaces())
        checks.append(overlayfs())
        checks.append(guestKernel())
        checks.append(workloadKit())
        checks += peerEngines()
        checks.append(benchNetwork())
        return checks
    }

    func kvmDevice() -> DoctorCheck {
        if access("/dev/kvm", R_OK | W_OK) == 0 {
            return DoctorCheck(name: "kvm-device", status: .ok, detail: "/dev/kvm present and writable")
        }
        return DoctorCheck(
            name: "kvm-device", status: .missing, detail: "/dev/kvm: \(String(cString: strerror(errno)))",
            action: "enable virtualization (VT-x/AMD-V, nested virt) or run VMs under TCG")
    }

    public func cgroups() -> DoctorCheck {
        let layout = CgroupLayout.detect()
        let parts = layout.hierarchies.map { h in
            "v\(h.version) \(h.mountPoint): \(h.controllers.isEmpty ? "(none)" : h.controllers.joined(separator: ","))"
        }
        let detail = "mode \(layout.mode.rawValue); " + parts.joined(separator: "; ")
        let needed = ["memory", "cpu", "pids"]
        let usable = needed.filter { c in layout.v1MountPoint(for: c) != nil || layout.v2Controllers.contains(c) }
        if layout.mode == .none {
            return DoctorCheck(
                name: "cgroups", status: .missing, detail: "no cgroup hierarchy mounted",
                action: "mount cgroup2 on /sys/fs/cgroup")
        }
        if usable.count < needed.count {
            return DoctorCheck(
                name: "cgroups", status: .degraded, detail: detail,
                action: "missing controllers: \(Set(needed).subtracting(usable).sorted().joined(separator: ","))")
        }
        return DoctorCheck(
            name: "cgroups", status: layout.mode == .hybrid ? .degraded : .ok, detail: detail,
            action: layout.mode == .hybrid
                ? "hybrid layout: boxbench uses the v1 controllers; crun refuses this layout (the crun arm uses a private-mount workaround)"
                : nil)
    }

    func seccomp() -> DoctorCheck {
        let v = seccomp_version()
        let lib = v.map { "libseccomp \($0.pointee.major).\($0.pointee.minor).\($0.pointee.micro)" } ?? "libseccomp ?"
        let status = (try? readTextFile("/proc/self/status")) ?? ""
        guard status.contains("Seccomp:") else {
            return DoctorCheck(
                name: "seccomp", status: .missing, detail: "\(lib); kernel lacks CONFIG_SECCOMP",
                action: "use a kernel with CONFIG_SECCOMP_FILTER")
        }
        do {
            let filter = try SeccompProfile.compile(SeccompProfile.dockerDefaultAllowList())
            return DoctorCheck(
                name: "seccomp", status: .ok,
                detail:
                    "\(lib); kernel filter mode available; default profile compiles to \(filter.bytes.count / 8) BPF instructions"
            )
        } catch {
            return DoctorCheck(
                name: "seccomp", status: .missing, detail: "\(lib); \(error)", action: "install libseccomp ≥ 2.5")
        }
    }

    func userNamespaces() -> DoctorCheck {
        let rc = cshim_probe_userns()
        if rc == 0 { return DoctorCheck(name: "user-namespaces", status: .ok, detail: "clone(CLONE_NEWUSER) works") }
        return DoctorCheck(
            name: "user-namespaces", status: .degraded,
            detail: "clone(CLONE_NEWUSER): \(String(cString: strerror(rc)))",
            action: "sysctl user.max_user_namespaces > 0; rootless bundles will not run")
    }

    func overlayfs() -> DoctorCheck {
        var template = Array("/tmp/boxbench-doctor.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            return DoctorCheck(
                name: "overlayfs", status: .missing, detail: "mkdtemp /tmp: \(String(cString: strerror(errno)))")
        }
        let dir = String(cString: p)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["l1", "l2", "u", "w", "m"] { mkdir("\(dir)/\(sub)", 0o755) }
        let rc = cshim_probe_overlay(dir)
        if rc == 0 {
            return DoctorCheck(
                name: "overlayfs", status: .ok, detail: "2 lowerdirs + upperdir mounted in a private mount namespace")
        }
        return DoctorCheck(
            name: "overlayfs", status: .missing, detail: "mount overlay: \(String(cString: strerror(rc)))",
            action: "modprobe overlay; the container arm needs it for image layers")
    }

    func guestKernel() -> DoctorCheck {
        guard FileManager.default.isReadableFile(atPath: paths.kernelImage) else {
            return DoctorCheck(
                name: "guest-kernel", status: .missing, detail: "\(paths.kernelImage) not found",
                action: "run scripts/setup (fetches Debian's cloud kernel)")
        }
        let version = ((try? String(contentsOfFile: paths.kernelDir + "/version", encoding: .utf8)) ?? "?")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let size = (try? FileManager.default.attributesOfItem(atPath: paths.kernelImage)[.size] as? Int) ?? 0
        return DoctorCheck(
            name: "guest-kernel", status: .ok, detail: "\(version), \(size / 1024) KiB at \(paths.kernelImage)")
    }

    func workloadKit() -> DoctorCheck {
        let missing = [paths.guestInit, paths.workloadBinary].filter { (path: String) in access(path, X_OK) != 0 }
        if missing.isEmpty {
            return DoctorCheck(name: "workload-kit", status: .ok, detail: "static kit in \(paths.kitDir)")
        }
        return DoctorCheck(
            name: "workload-kit", status: .missing, detail: "missing: \(missing.joined(separator: ", "))",
            action: "run scripts/setup (builds Benchmarks/kit)")
    }

    /// Network workloads: the CNI plugins, and a real bench network made and removed (a bridge, veths, addresses,
    /// all inside namespaces of its own) — the same code the runs use.
    func benchNetwork() -> DoctorCheck {
        let missing = CNI.missingPlugins()
        guard missing.isEmpty else {
            return DoctorCheck(
                name: "bench-network", status: .missing,
                detail: "CNI plugins missing in \(CNI.pluginDirectory): \(missing.joined(separator: ", "))",
                action: "run scripts/setup (containernetworking-plugins); network workloads fail without them")
        }
        let vhost =
            access("/dev/vhost-net", R_OK | W_OK) == 0
            ? "vhost-net usable" : "no /dev/vhost-net (QEMU's userspace virtio-net)"
        do {
            let t0 = monotonicNanos()
            let net = try BenchNetwork.create(subnet: "10.231.255.0/24")
            _ = try net.attach("doctor")
            net.teardown()
            let ms = Double(monotonicNanos() - t0) / 1e6
            return DoctorCheck(
                name: "bench-network", status: .ok,
                detail: String(
                    format: "CNI bridge + host-local + loopback in private namespaces: made and removed in %.0f ms; ",
                    ms) + vhost)
        } catch {
            return DoctorCheck(
                name: "bench-network", status: .missing, detail: "\(error)",
                action: "network workloads cannot run here")
        }
    }

    func peerEngines() -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        for (name, path) in [
            ("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun"), ("podman", "/usr/bin/podman"),
            ("skopeo", "/usr/bin/skopeo"), ("qemu-system-x86_64", "/usr/bin/qemu-system-x86_64"),
            ("hyperfine", "/usr/bin/hyperfine"),
        ] {
            if access(path, X_OK) == 0 {
                var detail = "\(path)" + (programVersion(path).map { ": \($0)" } ?? "")
                if name == "podman" && CgroupLayout.detect().mode == .hybrid {
                    detail += "; hybrid cgroups: the podman arm runs podman with runc and cgroupfs"
                }
                if name == "crun" && CgroupLayout.detect().mode == .hybrid {
                    detail += "; hybrid cgroups: runs in a private mount namespace without the v2 mount"
                }
                checks.append(DoctorCheck(name: name, status: .ok, detail: detail))
            } else {
                checks.append(
                    DoctorCheck(
                        name: name, status: .missing, detail: "\(path) not found",
                        action: "run scripts/setup; without it that peer arm is skipped with this reason"))
            }
        }
        return checks
    }

    // MARK: - per-boot cache

    struct Cache: Codable {
        var bootID: String
        var checks: [DoctorCheck]
    }

    func loadCache(bootID: String) -> [DoctorCheck]? {
        guard let data = FileManager.default.contents(atPath: paths.doctorCache),
            let cache = try? JSONDecoder().decode(Cache.self, from: data), cache.bootID == bootID
        else { return nil }
        return cache.checks
    }

    func saveCache(_ checks: [DoctorCheck], bootID: String) {
        guard let data = try? JSONEncoder().encode(Cache(bootID: bootID, checks: checks)) else { return }
        try? FileManager.default.createDirectory(atPath: paths.cache, withIntermediateDirectories: true)
        let tmp = paths.doctorCache + ".tmp.\(getpid())"
        if FileManager.default.createFile(atPath: tmp, contents: data) { rename(tmp, paths.doctorCache) }
    }
}

extension Array where Element == DoctorCheck {
    public func renderTable() -> String {
        let nameWidth = (map(\.name.count).max() ?? 4) + 2
        var lines: [String] = []
        for c in self {
            let status = c.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            var line = c.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + status + c.detail
            if let ms = c.measuredMs { line += String(format: " (%.0f ms)", ms) }
            if c.cached { line += " [cached this boot; --refresh re-measures]" }
            lines.append(line)
            if let action = c.action { lines.append(String(repeating: " ", count: nameWidth + 9) + "→ " + action) }
        }
        return lines.joined(separator: "\n")
    }

    public func renderJSON() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data("[]".utf8), as: UTF8.self)
    }
}
