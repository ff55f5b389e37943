import Containers
import Crypto
import Foundation
import Logging
import Machines
import Probes
import Results
import Synchronization

/// The VM arm: the image's flattened rootfs booted by a launcher (libvirt's embedded QEMU driver by default).
public final class VMEngine: Engine, DensityCapable, Sendable {
    public let arm: ArmSpec
    public let vm: VMArm
    public var engineName: String { vm.launcher.rawValue }
    /// The launcher's and the emulator's: "libvirt 9.0.0, QEMU emulator version 7.2.19".
    public func engineVersion() -> String? {
        let qemu = programVersion(vm.path ?? "/usr/bin/qemu-system-x86_64")
        let parts = [launcher.managementVersion(), qemu].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
    public var memoryFigure: String {
        "peak of libvirt's machine cgroup of the QEMU process (guest RAM it touched + QEMU itself); pss_peak_bytes: QEMU's PSS"
    }
    let launcher: any VMLauncher
    let builder: GuestArtifactBuilder
    public let accel: Accel
    /// Why auto picked this accel (the probe's finding), for the results' notes.
    public let accelReason: String?
    private let artifacts = Mutex<[String: GuestArtifacts]>([:])

    /// The arm as configured: the accel probe resolves `auto`, the launcher is libvirt's.
    public convenience init(
        name: String, vm: VMArm, uri: String? = nil, paths: BoxbenchPaths = BoxbenchPaths(), logger: Logger? = nil
    ) {
        let resolved = AccelProbe(paths: paths, uri: uri, logger: logger).resolve(vm.accel)
        let launcher: any VMLauncher =
            switch vm.launcher {
            case .libvirt: VMRunner(uri: uri, paths: paths, logger: logger)
            case .qemu: QemuLauncher(paths: paths, emulator: vm.path)
            }
        self.init(
            name: name, vm: vm, launcher: launcher,
            builder: GuestArtifactBuilder(paths: paths, logger: logger), accel: resolved.accel,
            accelReason: resolved.probe.map {
                "\(name): accel \(vm.accel.rawValue) → \(resolved.accel.rawValue) (\($0.reason))"
            })
    }

    /// Everything injected: tests hand in a launcher that boots nothing.
    public init(
        name: String, vm: VMArm, launcher: any VMLauncher, builder: GuestArtifactBuilder, accel: Accel,
        accelReason: String? = nil
    ) {
        self.arm = ArmSpec(name: name, config: .vm(vm))
        self.vm = vm
        self.launcher = launcher
        self.builder = builder
        self.accel = accel
        self.accelReason = accelReason
    }

    deinit { launcher.close() }

    func key(_ workload: WorkloadSpec, argv: [String], network: RunNetwork?) -> String {
        "\(workload.name)|\(argv.joined(separator: "\u{0}"))|\(network?.guestAddress ?? "")"
    }

    /// What this arm boots: the workload's image, or for a full-OS guest the image with systemd.
    func bootImage(_ image: PreparedImage, workload: WorkloadSpec) throws -> (rootfs: String, digest: String) {
        guard vm.guest == .fullOS else { return (image.rootfs, image.digest) }
        guard let os = image.fullOS else {
            throw EngineUnavailable(
                reason: image.fullOSUnavailable
                    ?? "\(arm.name): guest full-os, but no full-OS image of \(workload.name) was prepared")
        }
        return (os.rootfs, os.digest)
    }

    func artifactsFor(_ image: PreparedImage, workload: WorkloadSpec, argv: [String], network: RunNetwork? = nil)
        throws -> GuestArtifacts
    {
        let k = key(workload, argv: argv, network: network)
        if let a = artifacts.withLock({ $0[k] }) { return a }
        let argvHash = SHA256.hash(data: Data(argv.joined(separator: "\u{0}").utf8)).prefix(8).map {
            String(format: "%02x", $0)
        }.joined()
        var guest = GuestWorkload(
            argv: argv, env: image.env, cwd: image.workdir.isEmpty ? "/" : image.workdir, uid: image.user?.uid,
            gid: image.user?.gid)
        guest.network = network?.guestAddress
        // The data disk follows the root disk when there is one.
        guest.volume = workload.volume.map { "\(vm.rootfs == .disk ? "/dev/vdb" : "/dev/vda") \($0.path)" }
        let boot = try bootImage(image, workload: workload)
        let a = try builder.prepare(
            rootfsDir: boot.rootfs, workload: guest, cacheKey: "\(boot.digest)-\(argvHash)", mode: vm.rootfs,
            guest: vm.guest)
        artifacts.withLock { $0[k] = a }
        return a
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] {
        try prepare(image, workload: workload, network: nil)
    }

    public func prepare(_ image: PreparedImage, workload: WorkloadSpec, network: RunNetwork?) throws -> [ArtifactSize] {
        let a = try artifactsFor(image, workload: workload, argv: image.argv, network: network)
        var sizes = [
            ArtifactSize(image: image.name, armKey: arm.name, component: "kernel", bytes: a.kernelBytes),
            ArtifactSize(image: image.name, armKey: arm.name, component: "initramfs", bytes: a.initrdBytes),
        ]
        if let d = a.diskAllocatedBytes {
            sizes.append(ArtifactSize(image: image.name, armKey: arm.name, component: "disk-allocated", bytes: d))
        }
        if let d = a.diskVirtualBytes {
            sizes.append(ArtifactSize(image: image.name, armKey: arm.name, component: "disk-virtual", bytes: d))
        }
        // Where a full-OS image's bytes come from beyond the workload's layers: the OS layer that added systemd.
        if vm.guest == .fullOS, let os = image.fullOS {
            sizes.append(
                ArtifactSize(
                    image: image.name, armKey: arm.name, component: "os-layer-compressed",
                    bytes: os.osLayerCompressedBytes))
            sizes.append(
                ArtifactSize(
                    image: image.name, armKey: arm.name, component: "os-layer-uncompressed",
                    bytes: os.osLayerUncompressedBytes))
        }
        return sizes
    }

    func config(timeout: Duration, network: RunNetwork? = nil) -> VMConfig {
        // Paused create then resume: the report compares VM create/resume with container create/start.
        var c = VMConfig(
            accel: accel, machine: vm.machine, memoryMiB: vm.memoryMiB, vcpus: vm.vcpus, timeout: timeout,
            startPaused: true, emulator: vm.path)
        c.bridge = network?.bridge
        // 52:54:00 (QEMU's prefix) + the address's last three bytes: the same MAC for the same address every boot.
        c.mac = network.flatMap { n in
            let octets = n.address.split(separator: ".").compactMap { UInt8($0) }
            return octets.count == 4
                ? "52:54:00:" + octets[1...].map { String(format: "%02x", $0) }.joined(separator: ":") : nil
        }
        c.networkNamespace = network?.bridge == nil ? nil : network?.namespace
        // A network workload's server side: the vCPUs where the other arms' servers run (the client is elsewhere).
        if network != nil { c.cpuset = NetworkCPUs.vmCPUSet }
        return c
    }

    public func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        do {
            let a = try artifactsFor(image, workload: workload, argv: image.argv, network: limits.network)
            var config = config(timeout: timeout, network: limits.network)
            if let spec = workload.volume {
                let volume = RunVolume(spec, arm: arm.name, workload: workload.name)
                try volume.reset(vm: true)
                config.dataDisk = volume.diskFile
            }
            var r = try launcher.runBlocking(a, config: config)
            // A guest that never reached init from an initramfs: usually the image unpacked into RAM did not fit.
            if let failure = r.failure, !r.timedOut, r.rootfsMode == .initramfs, r.phaseMs("guest-init") == nil {
                r.failure =
                    failure + " (the initramfs is \(a.initrdBytes >> 20) MiB compressed and unpacks into the "
                    + "guest's \(vm.memoryMiB) MiB: a large image needs more memory, or rootfs: disk)"
            }
            return Self.outcome(r, accel: accel, machine: vm.machine.rawValue)
        } catch {
            return RunOutcome(
                status: .failed, failure: "\(error)",
                measurements: Measurements(vm: VMMeasurements(accel: accel.rawValue, machineType: vm.machine.rawValue)))
        }
    }

    static func outcome(_ r: VMRunResult, accel: Accel, machine: String) -> RunOutcome {
        var m = Measurements(
            firstOutputMs: r.phaseMs("first-output"), exitMs: r.phaseMs("workload-exit"),
            createMs: r.phaseMs("create-returned"), cpuNs: r.cpu.libvirtCpuTimeNs.map { Double($0) },
            phases: r.phases.map { Phase(name: $0.name, ms: $0.ms) })
        if let created = m.createMs, let exit = m.exitMs {
            m.startMs = exit - (r.phaseMs("resume-returned") ?? created)
        }
        // Measured like the containers: the peak and current of the instance's cgroup (libvirt's machine group of
        // the QEMU process); QEMU's PSS stays as the second view. Without the group's figures, PSS stands in.
        m.memoryPeakBytes = (r.memory.cgroupPeakBytes ?? r.memory.qemuPeakPssBytes).map { Double($0) }
        m.memoryCurrentBytes = (r.memory.cgroupCurrentBytes ?? r.memory.qemuPssAtWorkloadStartBytes).map { Double($0) }
        m.vm = VMMeasurements(
            accel: accel.rawValue, machineType: machine, pssPeakBytes: r.memory.qemuPeakPssBytes.map { Double($0) },
            rssPeakBytes: r.memory.qemuPeakRssBytes.map { Double($0) },
            guestMemTotalBytes: r.memory.guestMemTotalKiB.map { Double($0 * 1024) },
            guestMemAvailableBytes: r.memory.guestMemAvailableKiB.map { Double($0 * 1024) })
        let status: SampleStatus
        var failure = r.failure
        if r.timedOut {
            status = .timeout
        } else if let code = r.exitCode {
            status = code == 0 ? .ok : .nonZeroExit
            if code != 0 && failure == nil { failure = "exit \(code)" }
        } else {
            status = .failed
        }
        if !r.guestErrors.isEmpty { failure = ([failure].compactMap { $0 } + r.guestErrors).joined(separator: "; ") }
        // What the guest printed last says why (the workload's own message, a kernel panic): kept with the failure.
        if status != .ok, let tail = r.consoleTail?.split(separator: "\n").suffix(6).joined(separator: " | "),
            !tail.isEmpty
        {
            failure = [failure, "console: " + tail].compactMap { $0 }.joined(separator: "; ")
        }
        return RunOutcome(status: status, failure: failure, exitCode: r.exitCode, measurements: m, stdout: r.output)
    }

    public func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {
        workload.volume.map { RunVolume($0, arm: arm.name, workload: workload.name).remove() }
    }

    /// N idle guests at once, each on its own thread; memory per instance is QEMU's peak PSS.
    public func density(_ image: PreparedImage, workload: WorkloadSpec, instances: Int, timeout: Duration) throws
        -> DensityPoint
    {
        // Idle long enough that every guest is up while the others boot (TCG boots take seconds each).
        let argv = image.entrypoint + ["\(4 + 3 * instances)"]
        let a = try artifactsFor(image, workload: workload, argv: argv)
        let results = ResultBox(count: instances)
        let group = DispatchGroup()
        for i in 0..<instances {
            group.enter()
            let t = Thread { [launcher] in
                defer { group.leave() }
                results.set(
                    i,
                    Result {
                        try launcher.runBlocking(
                            a, config: self.config(timeout: timeout + .seconds(Int64(6 * instances))))
                    })
            }
            t.start()
        }
        group.wait()
        var pss: [Double] = []
        var starts: [Double] = []
        for r in results.all() {
            let run = try r.get()
            guard let p = run.memory.qemuPeakPssBytes, let s = run.phaseMs("first-output") else {
                throw EngineUnavailable(reason: "a density guest reported no memory or output: \(run.failure ?? "?")")
            }
            pss.append(Double(p))
            starts.append(s)
        }
        starts.sort()
        return DensityPoint(
            armKey: arm.name, accel: accel.rawValue, instances: instances,
            memoryPerInstanceBytes: pss.reduce(0, +) / Double(instances), startMsMedian: starts[starts.count / 2])
    }
}

final class ResultBox: Sendable {
    private let items: Mutex<[Result<VMRunResult, any Error>?]>
    init(count: Int) { items = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ r: Result<VMRunResult, any Error>) { items.withLock { $0[i] = r } }
    func all() -> [Result<VMRunResult, any Error>] {
        items.withLock { $0.map { $0 ?? .failure(EngineUnavailable(reason: "no result")) } }
    }
}
