import ArgumentParser
import Foundation
import Images
import Machines
import Probes

/// `boxbench vm …`: boot the same rootfs as a VM through libvirt (embedded QEMU driver by default).
struct VMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm", abstract: "Run workloads in virtual machines (libvirt → QEMU).",
        subcommands: [VMRunCommand.self])
}

extension AccelChoice: ExpressibleByArgument {}
extension RootfsMode: ExpressibleByArgument {}
extension GuestKind: ExpressibleByArgument {}
extension DomainSpec.Machine: ExpressibleByArgument {}

struct VMRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a rootfs directory as a VM, run ARGV as its workload, print its output, exit code and phases.",
        discussion: "Exits with the guest workload's exit code; 1 when the guest never reported one (timeout, crash).")

    @Option(name: .customLong("rootfs-dir"), help: "Flattened root filesystem (instead of IMAGE).")
    var rootfsDir: String?

    @Argument(help: "Image in boxbench's store (name[:tag] or digest); its entrypoint+cmd, env and workdir are used.")
    var image: String?

    @Option(help: "auto (KVM only if a probe guest boots under it, else TCG), kvm or tcg.")
    var accel: AccelChoice = .auto

    @Option(help: "Guest memory in MiB.")
    var memory: Int = 256

    @Option(help: "Guest vCPUs.")
    var vcpus: Int = 1

    @Option(help: "Machine type: pc, q35 or microvm.")
    var machine: DomainSpec.Machine = .pc

    @Option(help: "How the rootfs reaches the guest: initramfs or disk (ext4 on virtio-blk).")
    var rootfs: RootfsMode = .initramfs

    @Option(
        help:
            "minimal (boxbench-init runs the workload) or full-os (the image's systemd starts it as a unit; needs --rootfs disk)."
    )
    var guest: GuestKind = .minimal

    @Option(help: "libvirt URI (default: qemu:///embed?root=<state>/libvirt).")
    var uri: String?

    @Option(help: "Seconds from launch until a guest that has not powered off is destroyed.")
    var timeout: Double = 60

    @Option(name: .customLong("env"), help: "KEY=VALUE for the workload (repeatable).")
    var env: [String] = []

    @Option(help: "Working directory of the workload inside the guest.")
    var workdir: String = "/"

    @Option(
        name: .customLong("cache-key"),
        help: "Artifact cache key (an image digest); default: a fingerprint of the directory.")
    var cacheKey: String?

    @Flag(help: "Create the domain paused, then resume it (records both phases).")
    var paused = false

    @Flag(inversion: .prefixedNo, help: "virtio memballoon with stats (pc/q35; microvm never has one).")
    var balloon = true

    /// json: the whole result as JSON on stdout after the workload's output.
    @OptionGroup var output: MachineFormatOption

    @Argument(parsing: .postTerminator, help: "The workload's argv (after --).")
    var argv: [String] = []

    func validate() throws {
        guard (image == nil) != (rootfsDir == nil) else { throw ValidationError("give either IMAGE or --rootfs-dir") }
        guard !argv.isEmpty || image != nil else {
            throw ValidationError("give the workload after --, e.g. -- /bin/sh -c 'echo hi'")
        }
        guard memory >= 32 else { throw ValidationError("--memory must be at least 32 MiB") }
        guard vcpus >= 1 else { throw ValidationError("--vcpus must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        installCancellationHandlers(extra: { VMRunner.cancelAll() })
        if let problem = KVMDevice.qemuAccessProblem() {
            FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
        }
        var rootfsDir = self.rootfsDir ?? ""
        var argv = self.argv
        var workloadEnv = GuestWorkload(argv: argv).env
        var workdir = self.workdir
        var key = cacheKey ?? ""
        if let image {
            // The same bytes as the container arm: the image's layers flattened once per digest.
            let resolved: ResolvedImageRootfs
            do { resolved = try resolveImageRootfs(image) } catch { throw CLIError.badInput("\(error)") }
            rootfsDir = resolved.rootfs
            if argv.isEmpty { argv = resolved.argv }
            workloadEnv = resolved.env
            if workdir == "/" { workdir = resolved.workdir }
            if key.isEmpty { key = resolved.digest + "-" + argv.joined(separator: " ") }
        }
        workloadEnv += env
        let workload = GuestWorkload(argv: argv, env: workloadEnv, cwd: workdir)
        if key.isEmpty { key = GuestArtifactBuilder.directoryFingerprint(rootfsDir) }
        let artifacts: GuestArtifacts
        do {
            artifacts = try GuestArtifactBuilder().prepare(
                rootfsDir: rootfsDir, workload: workload, cacheKey: key, mode: rootfs, guest: guest)
        } catch {
            if case .invalidInput = error { throw CLIError.badInput(error.description) }
            throw CLIError.failed(error.description)
        }
        let (chosen, probe) = AccelProbe(uri: uri).resolve(accel)
        let runner = VMRunner(uri: uri)
        defer { runner.close() }
        let config = VMConfig(
            accel: chosen, machine: machine, memoryMiB: memory, vcpus: vcpus,
            timeout: .milliseconds(Int64(timeout * 1000)), startPaused: paused, balloon: balloon && machine != .microvm,
            onOutput: { bytes in FileHandle.standardOutput.write(Data(bytes)) })
        let result: VMRunResult
        do { result = try await runner.run(artifacts, config: config) } catch {
            throw CLIError.failed(error.description)
        }
        var lines: [String] = []
        var accelLine = "accel: \(result.accel.rawValue)"
        if let probe { accelLine += " (auto: kvm probe: \(probe.reason))" }
        lines.append(
            accelLine + ", machine: \(result.machine.rawValue), rootfs: \(result.rootfsMode.rawValue)"
                + ", artifacts: \(artifacts.cached ? "cached" : "built in \(Int(artifacts.buildMs)) ms")")
        lines.append("exit code: " + (result.exitCode.map(String.init) ?? "none"))
        if let f = result.failure { lines.append("failure: \(f)") }
        lines.append(
            "phases (ms from launch): "
                + result.phases.map { "\($0.name)=\(String(format: "%.1f", $0.ms))" }
                .joined(separator: " "))
        let m = result.memory
        let mib = { (b: UInt64?) in b.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "n/a" }
        lines.append(
            "memory: qemu peak pss \(mib(m.qemuPeakPssBytes)), peak rss \(mib(m.qemuPeakRssBytes)), "
                + "pss at workload start \(mib(m.qemuPssAtWorkloadStartBytes)), cgroup peak \(mib(m.cgroupPeakBytes)), "
                + "guest MemTotal \(mib(m.guestMemTotalKiB.map { UInt64($0) * 1024 }))")
        lines.append(
            "cpu: libvirt cpu.time \(result.cpu.libvirtCpuTimeNs.map { String(format: "%.1f ms", Double($0) / 1e6) } ?? "n/a")"
        )
        lines.append(
            "sizes: kernel \(humanBytes(Int64(result.sizes.kernelBytes))), initrd \(humanBytes(Int64(result.sizes.initrdBytes)))"
                + (result.sizes.diskVirtualBytes.map {
                    ", disk \(humanBytes(Int64($0))) virtual / \(humanBytes(Int64(result.sizes.diskAllocatedBytes ?? 0))) allocated"
                } ?? ""))
        if let tail = result.consoleTail { lines.append("console tail:\n" + tail) }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        if try output.wantsJSON() {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandle.standardOutput.write(try enc.encode(result) + Data("\n".utf8))
        }
        guard let code = result.exitCode else { throw ExitCode(1) }
        throw ExitCode(code)
    }
}

struct ResolvedImageRootfs {
    var rootfs: String
    var argv: [String]
    var env: [String]
    var workdir: String
    var digest: String
}

/// Flattens an image from the store into `<state>/rootfs/<digest>` (once) for the VM arm.
func resolveImageRootfs(_ ref: String) throws -> ResolvedImageRootfs {
    let paths = BoxbenchPaths()
    let store = try ImageStore(root: paths.imageStore, layerCache: paths.layerCache)
    let image = try store.resolve(ref)
    let rootfs = try store.flattenedRootfs(image, under: paths.state + "/rootfs")
    return ResolvedImageRootfs(
        rootfs: rootfs, argv: image.argv, env: image.env, workdir: image.workdir, digest: image.digest.description)
}
