import Containers
import Foundation
import Machines
import Probes
import Testing

/// Resource limits hold under load: many instances at once, each with its own limit, all cleaned up.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/bin/busybox"), "needs root and busybox"))
struct ConcurrencyTests {
    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        var results: [String: Result<ContainerResult, ContainerError>] = [:]
        func set(_ id: String, _ r: Result<ContainerResult, ContainerError>) {
            lock.lock()
            results[id] = r
            lock.unlock()
        }
    }

    @Test func fiftyConcurrentContainersEachHeldToItsOwnMemoryLimit() throws {
        let s = Scratch("concurrent")
        defer { s.cleanup() }
        try makeBusyboxBundle(s.path)
        try FileManager.default.createSymbolicLink(atPath: s.path + "/rootfs/bin/head", withDestinationPath: "busybox")
        try FileManager.default.createSymbolicLink(atPath: s.path + "/rootfs/bin/tr", withDestinationPath: "busybox")
        let stateRoot = s.path + "/state"
        let runtime = ContainerRuntime(stateRoot: stateRoot)
        let outcomes = Outcomes()
        let ids = (0..<50).map { "conc-\(getpid())-\($0)" }
        let group = DispatchGroup()
        for (i, id) in ids.enumerated() {
            // Every 5th instance tries to hold 48 MiB against its 24 MiB limit; the others hold 4 MiB.
            let bytes = i % 5 == 0 ? 48 << 20 : 4 << 20
            var spec = RuntimeSpec.defaultSpec(
                args: ["sh", "-c", "x=$(head -c \(bytes) /dev/zero | tr '\\0' a); sleep 1; echo held ${#x}"],
                rootPath: s.path + "/rootfs")
            spec.root?.readonly = true
            let request = ContainerRequest(
                id: id, bundle: s.path, spec: spec, io: .capture, timeout: .seconds(120),
                limitsOverride: CgroupLimits(memoryBytes: 24 << 20, pidsMax: 32))
            group.enter()
            Thread {
                defer { group.leave() }
                do throws(ContainerError) { outcomes.set(id, .success(try runtime.run(request))) } catch {
                    outcomes.set(id, .failure(error))
                }
            }.start()
        }
        group.wait()
        for (i, id) in ids.enumerated() {
            guard case .success(let r) = outcomes.results[id] else {
                Issue.record("\(id): \(String(describing: outcomes.results[id]))")
                continue
            }
            if i % 5 == 0 {
                #expect(r.oomKilled, "\(id) should be OOM-killed: \(r.status)")
            } else {
                #expect(r.exit == .exited(0), "\(id): \(r.status) \(String(decoding: r.stderr, as: UTF8.self))")
                #expect(String(decoding: r.stdout, as: UTF8.self) == "held \(4 << 20)\n")
                #expect((r.stats.memory?.peakBytes ?? 0) <= 24 << 20)
            }
        }
        let left = HostLeftovers.count(stateRoot: stateRoot, ids: Set(ids))
        #expect(left.isEmpty, "\(left)")
    }

    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage)
                && FileManager.default.fileExists(atPath: BoxbenchPaths().guestInit),
            "needs the guest kernel and boxbench-init (scripts/setup)"))
    func fourConcurrentTCGGuestsAllCleanedUp() throws {
        let s = Scratch("concurrent-vm")
        defer { s.cleanup() }
        try makeBusyboxBundle(s.path)
        let artifacts = try GuestArtifactBuilder().prepare(
            rootfsDir: s.path + "/rootfs", workload: GuestWorkload(argv: ["/bin/sh", "-c", "sleep 2; echo up"]),
            cacheKey: "concurrency-test", mode: .initramfs)
        // One embedded driver per process: the Machines tests' root.
        let runner = VMRunner(uri: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot))
        defer { runner.close() }
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var results: [Result<VMRunResult, MachineError>] = []
        }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                let r: Result<VMRunResult, MachineError>
                do throws(MachineError) {
                    r = .success(
                        try runner.runBlocking(artifacts, config: VMConfig(accel: .tcg, timeout: .seconds(150))))
                } catch { r = .failure(error) }
                box.lock.lock()
                box.results.append(r)
                box.lock.unlock()
            }.start()
        }
        group.wait()
        #expect(box.results.count == 4)
        var names: [String] = []
        for r in box.results {
            guard case .success(let run) = r else {
                Issue.record("VM failed: \(r)")
                continue
            }
            names.append(run.domainName)
            #expect(run.exitCode == 0, "\(run.failure ?? "") \(run.consoleTail ?? "")")
            #expect(run.output.contains("up"))
        }
        #expect(Set(names).count == names.count, "domain names must be unique")
        let qemus = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { e in
            guard Int32(e) != nil, let cmd = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else {
                return false
            }
            let text = String(decoding: cmd, as: UTF8.self)
            return names.contains { text.contains($0) }
        }
        #expect(qemus.isEmpty, "QEMU left: \(qemus)")
    }
}
