import Foundation
import Probes
import Testing

@testable import Machines

/// What real boots need; nil when the host has it all.
let bootRequirementsMissing: String? = {
    let paths = BoxbenchPaths()
    if getuid() != 0 { return "not root" }
    if access("/usr/bin/qemu-system-x86_64", X_OK) != 0 { return "qemu-system-x86_64 missing" }
    if access(paths.kernelImage, R_OK) != 0 { return "guest kernel missing (scripts/setup)" }
    if access(paths.guestInit, X_OK) != 0 { return "boxbench-init missing (make -C Benchmarks/kit)" }
    if access("/bin/busybox", X_OK) != 0 { return "busybox-static missing" }
    if access(paths.workloadBinary, X_OK) != 0 { return "bbwork missing (make -C Benchmarks/kit)" }
    return nil
}()

/// Real boots under TCG through the embedded driver (root only); each is ~2–3 s.
@Suite(
    .serialized,
    .enabled(
        if: bootRequirementsMissing == nil,
        "needs root, qemu-system-x86_64, busybox-static, the guest kernel and the static kit (scripts/setup)"))
struct BootTests {
    static let paths = BoxbenchPaths()
    /// A separate embedded root so a concurrently running `boxbench doctor` does not contend for ours.
    static let testRoot = BoxbenchPaths().libvirtTestEmbedRoot

    /// A busybox rootfs: /bin/busybox plus sh, sleep, echo links.
    static func makeRootfs() throws -> String {
        let dir =
            FileManager.default.temporaryDirectory.path
            + "/machines-rootfs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: dir + "/bin/busybox")
        for tool in ["sh", "sleep", "echo", "cat", "true"] {
            try FileManager.default.createSymbolicLink(atPath: dir + "/bin/" + tool, withDestinationPath: "busybox")
        }
        return dir
    }

    static func qemuProcesses(named name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
                return nil
            }
            let s = String(decoding: cmd.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return s.contains("qemu") && s.contains(name) ? pid : nil
        }
    }

    func boot(
        _ argv: [String], mode: RootfsMode = .initramfs, timeout: Duration = .seconds(60), paused: Bool = false,
        uid: UInt32? = nil
    ) async throws -> VMRunResult {
        let rootfs = try Self.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let builder = GuestArtifactBuilder(paths: Self.paths)
        let artifacts = try builder.prepare(
            rootfsDir: rootfs, workload: GuestWorkload(argv: argv, uid: uid, gid: uid),
            cacheKey: "machines-test-busybox",
            mode: mode)
        defer { builder.remove(artifacts) }
        let runner = VMRunner(uri: LibvirtConnection.embedURI(root: Self.testRoot), paths: Self.paths)
        defer { runner.close() }
        let r = try await runner.run(
            artifacts, config: VMConfig(accel: .tcg, timeout: timeout, startPaused: paused))
        #expect(Self.qemuProcesses(named: r.domainName).isEmpty, "QEMU left behind for \(r.domainName)")
        #expect(!FileManager.default.fileExists(atPath: Self.paths.run + "/vm/" + r.domainName))
        return r
    }

    static func expectOrdered(_ r: VMRunResult) {
        let ms = r.phases.map(\.ms)
        #expect(ms == ms.sorted(), "phases out of order: \(r.phases)")
    }

    @Test func initramfsOutputAndExitCode() async throws {
        let r = try await boot(["/bin/sh", "-c", "echo hi; exit 3"])
        print("initramfs boot:", r.phases.map { "\($0.name)=\(Int($0.ms))ms" }.joined(separator: " "))
        #expect(r.failure == nil, "\(r.failure ?? "") \(r.consoleTail ?? "")")
        #expect(r.output == "hi\n")
        #expect(r.exitCode == 3)
        #expect(r.accel == .tcg)
        #expect(!r.timedOut)
        for p in [
            "create-returned", "qemu-alive", "guest-init", "workload-start", "first-output", "workload-exit",
            "domain-gone",
        ] {
            #expect(r.phaseMs(p) != nil, "missing phase \(p)")
        }
        Self.expectOrdered(r)
        #expect((r.memory.qemuPeakPssBytes ?? 0) > 50 << 20)
        #expect((r.memory.guestMemTotalKiB ?? 0) > 100_000)
        #expect(r.sizes.initrdBytes > 100_000 && r.sizes.kernelBytes > 1_000_000)
    }

    /// The image's USER is honoured in the guest too: boxbench-init switches to it before exec.
    @Test func theWorkloadRunsAsTheImageUser() async throws {
        var r = try await boot(["/bin/sh", "-c", "id -u; id -g"], uid: 1000)
        if r.timedOut {
            // Seen once in four full CI-size runs: the guest printed its output and then never powered off (a TCG
            // stall under load, not the uid switch: the output was right). One retry; a second stall fails the test.
            print("note: first boot stalled after its workload (output \(r.output.debugDescription)); retrying once")
            r = try await boot(["/bin/sh", "-c", "id -u; id -g"], uid: 1000)
        }
        #expect(r.failure == nil, "\(r.failure ?? "") \(r.consoleTail ?? "")")
        #expect(r.output == "1000\n1000\n")
    }

    @Test func diskModeAndPausedSplit() async throws {
        let r = try await boot(
            ["/bin/sh", "-c", "cat /etc/boxbench/workload >/dev/null; echo disk; exit 0"], mode: .disk,
            paused: true)
        print("disk boot:", r.phases.map { "\($0.name)=\(Int($0.ms))ms" }.joined(separator: " "))
        #expect(r.failure == nil, "\(r.failure ?? "") \(r.consoleTail ?? "")")
        #expect(r.output == "disk\n")
        #expect(r.exitCode == 0)
        #expect(r.phaseMs("resume-returned") != nil)
        #expect((r.sizes.diskVirtualBytes ?? 0) >= 64 << 20)
        Self.expectOrdered(r)
    }

    @Test func neverPoweringOffIsDestroyedAtTimeout() async throws {
        let r = try await boot(["/bin/sleep", "1000"], timeout: .seconds(6))
        print("timeout boot:", r.phases.map { "\($0.name)=\(Int($0.ms))ms" }.joined(separator: " "))
        #expect(r.timedOut)
        #expect(r.exitCode == nil)
        #expect(r.failure?.contains("timed out") == true)
        #expect(r.phaseMs("workload-start") != nil)
        #expect((r.phaseMs("domain-gone") ?? 0) >= 6000)
    }

    @Test func cancelAllMidBootLeavesNothing() async throws {
        let canceller = Task.detached {
            try await Task.sleep(for: .milliseconds(1500))
            VMRunner.cancelAll()
        }
        defer { ActiveRuns.shared.resetAfterCancel() }
        let r = try await boot(["/bin/sleep", "1000"], timeout: .seconds(60))
        _ = try await canceller.value
        print("cancelled boot:", r.phases.map { "\($0.name)=\(Int($0.ms))ms" }.joined(separator: " "))
        #expect(r.cancelled)
        #expect(!r.timedOut)
        #expect((r.phaseMs("domain-gone") ?? 99_999) < 10_000)
    }
}
