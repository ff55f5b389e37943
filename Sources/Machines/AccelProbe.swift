import Crypto
import Foundation
import Logging
import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// Whether a probe guest (the cloud kernel + an initramfs whose init runs `bbwork hello`) really boots
/// under an accelerator. A KVM device can exist and still hang every guest (nested/PVM hosts).
public struct AccelProbeResult: Sendable, Codable, Equatable {
    public var accel: Accel
    public var booted: Bool
    /// Launch call → guest init marker seen on the host.
    public var bootMs: Double?
    /// A sentence a person can act on: what happened and, when it failed, why.
    public var reason: String
    public var timeoutSeconds: Double
    /// Host boot id the probe ran under (for per-boot caching).
    public var bootID: String
    /// The probe guest's libvirt domain, when one was created.
    public var domainName: String? = nil
}

public struct AccelProbe: Sendable {
    public var paths: BoxbenchPaths
    public var uri: String?
    public var kvmTimeout: Duration
    public var tcgTimeout: Duration
    public var logger: Logger?

    public init(
        paths: BoxbenchPaths = BoxbenchPaths(), uri: String? = nil, kvmTimeout: Duration = .seconds(8),
        tcgTimeout: Duration = .seconds(30), logger: Logger? = nil
    ) {
        self.paths = paths
        self.uri = uri
        self.kvmTimeout = kvmTimeout
        self.tcgTimeout = tcgTimeout
        self.logger = logger
    }

    /// Boots the probe guest under `accel`; blocking (run it on your own thread). Never throws: every failure is
    /// a definite `booted: false` with its reason, and the probe domain is always destroyed.
    public func probe(_ accel: Accel) -> AccelProbeResult {
        let timeout = accel == .kvm ? kvmTimeout : tcgTimeout
        let secs = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let bootID = HostFacts.read().bootID
        func fail(_ reason: String, domain: String? = nil) -> AccelProbeResult {
            AccelProbeResult(
                accel: accel, booted: false, bootMs: nil, reason: reason, timeoutSeconds: secs, bootID: bootID,
                domainName: domain)
        }
        if accel == .kvm {
            if access("/dev/kvm", F_OK) != 0 { return fail("/dev/kvm is missing (no KVM module, or not exposed here)") }
            if let problem = KVMDevice.qemuAccessProblem() { return fail(problem) }
        }
        let artifacts: GuestArtifacts
        do { artifacts = try probeArtifacts() } catch { return fail("cannot build the probe guest: \(error)") }
        let runner = VMRunner(uri: uri, paths: paths, logger: logger)
        defer { runner.close() }
        let r: VMRunResult
        do {
            r = try runner.runBlocking(artifacts, config: VMConfig(accel: accel, timeout: timeout, balloon: false))
        } catch {
            return fail("the probe guest could not be started: \(error)")
        }
        if let ms = r.phaseMs("guest-init") {
            return AccelProbeResult(
                accel: accel, booted: true, bootMs: ms,
                reason: "probe guest reached init in \(Int(ms)) ms", timeoutSeconds: secs, bootID: bootID,
                domainName: r.domainName)
        }
        var why =
            r.timedOut
            ? "/dev/kvm present but the probe guest did not boot within \(Int(secs)) s (nested/PVM host?); destroyed"
            : "the probe guest stopped before reaching init"
        if accel == .tcg { why = why.replacingOccurrences(of: "/dev/kvm present but the", with: "the") }
        if let log = VMRunner.tail(paths.libvirtEmbedRoot + "/log/qemu/\(r.domainName).log", lines: 40),
            let err = log.split(separator: "\n").last(where: { $0.contains("error") || $0.contains("KVM") })
        {
            why += ": " + err
        }
        return fail(why, domain: r.domainName)
    }

    /// `auto`: KVM if the probe guest boots under it (cached per host boot), else TCG; explicit choices as given.
    public func resolve(_ choice: AccelChoice, refresh: Bool = false) -> (accel: Accel, probe: AccelProbeResult?) {
        switch choice {
        case .kvm: return (.kvm, nil)
        case .tcg: return (.tcg, nil)
        case .auto:
            let bootID = HostFacts.read().bootID
            let cacheFile = paths.cache + "/accel-probe.json"
            if !refresh, let d = FileManager.default.contents(atPath: cacheFile),
                let cached = try? JSONDecoder().decode(AccelProbeResult.self, from: d), cached.bootID == bootID
            {
                return (cached.booted ? .kvm : .tcg, cached)
            }
            let r = probe(.kvm)
            if let data = try? JSONEncoder().encode(r) {
                try? GuestArtifactBuilder.mkdirs(paths.cache)
                _ = FileManager.default.createFile(atPath: cacheFile + ".tmp", contents: data)
                rename(cacheFile + ".tmp", cacheFile)
            }
            return (r.booted ? .kvm : .tcg, r)
        }
    }

    /// Cached probe guest: `/bbwork hello` from the workload kit.
    func probeArtifacts() throws(MachineError) -> GuestArtifacts {
        guard let bbwork = FileManager.default.contents(atPath: paths.workloadBinary) else {
            throw .artifacts("\(paths.workloadBinary) is missing: run scripts/setup (make -C Benchmarks/kit)")
        }
        let digest = SHA256.hash(data: bbwork).map { String(format: "%02x", $0) }.joined()
        let dir = paths.run + "/" + OwnedName.accelProbe.name(String(UInt32.random(in: 0...UInt32.max)))
        try GuestArtifactBuilder.mkdirs(dir)
        defer { GuestArtifactBuilder.removeTree(dir) }
        guard
            FileManager.default.createFile(
                atPath: dir + "/bbwork", contents: bbwork, attributes: [.posixPermissions: 0o755])
        else { throw .system(operation: "write \(dir)/bbwork", errno: errno) }
        return try GuestArtifactBuilder(paths: paths, logger: logger).prepare(
            rootfsDir: dir, workload: GuestWorkload(argv: ["/bbwork", "hello"]), cacheKey: "accel-probe:" + digest,
            mode: .initramfs)
    }
}

/// /dev/kvm as QEMU sees it: libvirt runs QEMU as `libvirt-qemu` even from the embedded driver.
public enum KVMDevice {
    /// nil when libvirt-qemu can open /dev/kvm read-write; else why not and the fix.
    /// (A root-only /dev/kvm also makes libvirt re-probe QEMU's capabilities on every call: ~7 s per create.)
    public static func qemuAccessProblem(user: String = "libvirt-qemu") -> String? {
        var st = stat()
        guard stat("/dev/kvm", &st) == 0 else { return nil }
        guard let pw = getpwnam(user) else { return nil }
        let uid = pw.pointee.pw_uid
        var groups = [gid_t](repeating: 0, count: 64)
        var n = Int32(groups.count)
        _ = getgrouplist(pw.pointee.pw_name, pw.pointee.pw_gid, &groups, &n)
        let gids = Set(groups.prefix(Int(max(0, n))))
        let mode = st.st_mode
        let ok =
            (st.st_uid == uid && mode & 0o600 == 0o600) || (gids.contains(st.st_gid) && mode & 0o060 == 0o060)
            || mode & 0o006 == 0o006
        if ok { return nil }
        return
            "/dev/kvm (mode \(String(mode & 0o777, radix: 8)), uid \(st.st_uid), gid \(st.st_gid)) is not usable by \(user), "
            + "so QEMU cannot use KVM and libvirt re-probes QEMU on every call; fix as Debian's udev rule does: "
            + "chgrp kvm /dev/kvm && chmod 0660 /dev/kvm"
    }
}
