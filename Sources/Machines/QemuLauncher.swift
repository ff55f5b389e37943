import CShim
import Containers
import Foundation
import Probes
import Synchronization

/// Boots guests with QEMU alone, no libvirt: the same artifacts, console FIFOs, guest markers, memory figures and
/// cleanup as `VMRunner`, so a report can tell the VMM's own start from libvirt's management. QEMU runs in an
/// accounting cgroup `boxbench/<name>` (its memory peak is the instance's, as libvirt's machine group is), killed
/// with the group on a timeout, a signal, or by the Janitor after a kill -9 (the name carries the owner's pid).
public final class QemuLauncher: VMLauncher, Sendable {
    public let paths: BoxbenchPaths
    public let emulator: String
    let layout: CgroupLayout

    public init(paths: BoxbenchPaths = BoxbenchPaths(), emulator: String? = nil, layout: CgroupLayout = .detect()) {
        self.paths = paths
        self.emulator = emulator ?? "/usr/bin/qemu-system-x86_64"
        self.layout = layout
    }

    public func close() {}

    /// What boots the guest: there is no management layer, only the emulator (its version is the engine's).
    public func managementVersion() -> String? { nil }

    /// The emulator's command line, decided from the artifacts and the config only (tested without booting).
    static func arguments(
        name: String, artifacts: GuestArtifacts, config: VMConfig, console: String, emulator: String,
        hostTSCkHz: Int? = QemuLauncher.hostTSCkHz
    ) throws(MachineError) -> [String] {
        if config.bridge != nil {
            throw .invalidInput("launcher qemu has no bench-network NIC: run network workloads with launcher libvirt")
        }
        if config.machine == .microvm, artifacts.disk != nil {
            throw .invalidInput("machine microvm boots from an initramfs here: use rootfs: initramfs")
        }
        var cmdline = config.cmdline
        // microvm has no HPET or ACPI PM timer: under TCG the guest's TSC calibration against the PIT fails now and
        // then (1 boot in 10 here) and the kernel then hangs; TCG's TSC is the host's, so its rate is given instead.
        if config.machine == .microvm, config.accel == .tcg, let khz = hostTSCkHz {
            cmdline += " tsc_early_khz=\(khz)"
        }
        var args = [
            (emulator as NSString).lastPathComponent, "-name", name,
            "-machine", "\(config.machine.rawValue),accel=\(config.accel.rawValue)",
            "-m", "\(config.memoryMiB)", "-smp", "\(config.vcpus)",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", artifacts.kernel, "-append", cmdline,
            // The FIFO pair `console.in`/`console.out`, as libvirt's `<serial type='pipe'>` gives QEMU. The serial
            // port's own backend: microvm with `-serial chardev:…` never exits at the guest's poweroff (QEMU 7.2).
            "-serial", "pipe:\(console)",
        ]
        args += ["-initrd", artifacts.initrd]
        // microvm's devices sit on virtio-mmio, pc's on PCI.
        let blk = config.machine == .microvm ? "virtio-blk-device" : "virtio-blk-pci"
        var disks: [(id: String, options: String)] = []
        if let disk = artifacts.disk {
            // A full-OS guest writes its journal: to a temporary overlay QEMU drops at exit, as libvirt's
            // <transient/> does; the cached disk never changes.
            disks.append(("root", "file=\(disk),format=raw" + (artifacts.guest == .fullOS ? ",snapshot=on" : "")))
        }
        if let data = config.dataDisk {
            disks.append(("data", "file=\(data),format=raw,cache=none,aio=native"))
        }
        for d in disks {
            args += ["-drive", "\(d.options),if=none,id=\(d.id)", "-device", "\(blk),drive=\(d.id)"]
        }
        for value in args where value.utf8.contains(where: { $0 < 0x20 }) {
            throw .invalidInput("QEMU argument \"\(value)\" holds a control character")
        }
        return args
    }

    /// The host's TSC rate in kHz (`cpu MHz` of /proc/cpuinfo's first CPU), read once.
    static let hostTSCkHz: Int? = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu MHz") }),
            let mhz = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) })
        else { return nil }
        return Int(mhz * 1000)
    }()

    public func runBlocking(_ artifacts: GuestArtifacts, config: VMConfig) throws(MachineError) -> VMRunResult {
        let t0 = monotonicNanos()
        let name = DomainNames.next()
        let runDir = paths.run + "/vm/" + name
        try GuestArtifactBuilder.mkdirs(runDir)
        defer { GuestArtifactBuilder.removeTree(runDir) }
        let args = try Self.arguments(
            name: name, artifacts: artifacts, config: config, console: runDir + "/console", emulator: emulator)
        // QEMU's pipe backend opens both FIFOs O_RDWR itself: only the console's reader is ours.
        let console = try GuestConsole(runDir: runDir, config: config)
        let (sampler, reader) = (console.sampler, console.reader)

        // QEMU's pid comes from its cgroup once it is there: the sampler reads PSS and CPU from it.
        let cgroupName = "boxbench/" + name
        let procs = (layout.v1MountPoint(for: "memory") ?? layout.unifiedMountPoint).map {
            "\($0)/\(cgroupName)/cgroup.procs"
        }
        let found = DispatchSemaphore(value: 0)
        let alive = Mutex<(pid: Int32, ns: UInt64)?>(nil)
        let stopWatching = Atomic<Bool>(false)
        let watcher = Thread {
            defer { found.signal() }
            while !stopWatching.load(ordering: .relaxed) {
                if let procs, let text = try? readTextFile(procs),
                    let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
                {
                    alive.withLock { $0 = (pid, monotonicNanos()) }
                    sampler.start(pid: pid, domain: nil)
                    return
                }
                usleep(500)
            }
        }
        watcher.start()

        let result: HostProcessResult
        do {
            result = try HostProcess.run(
                HostProcessRequest(
                    path: emulator, args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cgroupName: cgroupName,
                    timeout: config.timeout),
                layout: layout)
        } catch {
            stopWatching.store(true, ordering: .relaxed)
            found.wait()
            sampler.stop()
            _ = reader.stop()
            throw .launch("\(emulator): \(error)")
        }
        let exitedNs = monotonicNanos()
        stopWatching.store(true, ordering: .relaxed)
        found.wait()
        sampler.stop()
        let transcript = reader.stop()
        let qemu = alive.withLock { $0 }
        let ordered =
            (qemu.map { [VMRunResult.Phase(name: "qemu-alive", ms: Double($0.ns &- t0) / 1e6)] } ?? [])
            + transcript.guestPhases(since: t0) + [.init(name: "qemu-exit", ms: Double(exitedNs &- t0) / 1e6)]

        var failure: String?
        let stderr = String(decoding: result.stderr.suffix(600), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if result.timedOut {
            failure = "timed out after \(config.timeout): QEMU killed"
        } else if transcript.workloadExitNs == nil {
            failure =
                transcript.initNs == nil
                ? "guest stopped before reaching init" : "QEMU exited before the workload reported its exit"
            if result.exit != .exited(0) { failure! += " (QEMU \(result.exit))" }
            if !stderr.isEmpty { failure! += ": " + stderr }
        }
        if !transcript.errors.isEmpty, failure != nil {
            failure! += "; guest errors: " + transcript.errors.joined(separator: "; ")
        }
        // The group's own figures, read once QEMU is gone: its peak over the whole run.
        var memory = transcript.memory(sampler.result().memory)
        if let peak = result.stats?.memory?.peakBytes { memory.cgroupPeakBytes = peak }
        var cpu = sampler.result().cpu
        cpu.qemuCpuMs = Double(result.cpuNs) / 1e6
        return VMRunResult(
            domainName: name, uri: "qemu-direct:\(emulator)", accel: config.accel, machine: config.machine,
            rootfsMode: artifacts.mode, memoryMiB: config.memoryMiB, vcpus: config.vcpus, startPaused: false,
            exitCode: transcript.exitStatus, exitSignal: transcript.exitSignal,
            output: String(decoding: transcript.output, as: UTF8.self), phases: ordered, lifecycle: [],
            guestBootToInitMs: transcript.guestInitBootNs.map { Double($0) / 1e6 },
            guestWorkloadMs: transcript.guestWorkloadMs, memory: memory, cpu: cpu, sizes: .init(artifacts),
            qemuPid: qemu?.pid, timedOut: result.timedOut, cancelled: false, failure: failure,
            guestErrors: transcript.errors, guestWarnings: transcript.warnings,
            consoleTail: failure == nil && transcript.exitCode == 0 ? nil : transcript.consoleTail())
    }
}
