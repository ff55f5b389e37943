import Containers
import Foundation
import Machines
import Probes
import Results
import Testing

@testable import Suites

/// A small real suite — hello + syscall, 2 repetitions, native, container and VM — as CI runs it here.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: containers, cgroups and libvirt's embedded driver"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary)
            && FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage),
        "needs the workload kit and guest kernel (scripts/setup)"))
struct RealSuiteTests {
    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    @Test func threeArmsProduceAValidResultsFileWithProvenance() throws {
        let yaml = """
            name: ci-small
            repetitions: 2
            warmups: 0
            timeout: 90
            arms:
              - kind: native
              - kind: container
              - kind: vm
                accel: tcg
                memory: 256
            workloads:
              - name: hello
              - name: syscall
                args: ["20000"]
            """
        let suite = try Suite.parse(yaml, path: Self.repoRoot + "/Benchmarks/ci-small.yaml")
        let dir = NSTemporaryDirectory() + "boxbench-realsuite-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = WorkloadImages()
        let engines: [any Engine] = [
            NativeEngine(arm: suite.arms[0]), BoxbenchContainerEngine(arm: suite.arms[1]),
            // One embedded driver per process: share the root the Machines tests use in this test process.
            suite.arms[2].makeEngine(vmURI: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot)),
        ]
        let runner = SuiteRunner(
            suite: suite, engines: engines, images: { try images.prepare($0) }, resultsPath: dir + "/results.json",
            seed: 11, progress: SilentProgress(), tool: ToolInfo(version: "test", commit: "test"))
        let doc = runner.run(layerSharing: { images.layerSharing(for: $0, workload: $1) })
        let reread = try ResultsStore.read(dir + "/results.json")
        #expect(reread == doc)
        #expect(doc.complete)
        #expect(doc.samples.count == 3 * 2 * 2)
        #expect(!doc.host.kernel.isEmpty && !doc.host.cpuModel.isEmpty && !doc.host.cgroupMode.isEmpty)
        #expect(doc.seed == 11 && doc.plan.cacheMode == "warm")
        // The container arm records the seccomp profile it ran under; the others have none.
        #expect(doc.arms.map { $0.seccomp != nil } == [false, true, false])
        #expect(doc.arm("container")?.seccomp == defaultSeccompProvenance)
        // The VM arm says which libvirt and QEMU ran it.
        #expect(doc.arm("vm")?.engineVersion?.contains("libvirt") == true, "\(doc.arms)")
        #expect(doc.arm("vm")?.engineVersion?.contains("QEMU") == true, "\(doc.arms)")
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.arm) \(s.workload): \(s.failure ?? "")")
            #expect(!s.startedAt.isEmpty)
            let p = s.measurements.vm
            #expect((s.metrics["startup_exit_ms"] ?? 0) > 0)
            #expect(s.metrics["startup_first_output_ms"] != nil)
            if s.arm == "vm" {
                #expect(p.accel == "tcg")
                #expect(p.machineType == "pc")
                #expect((s.metrics["pss_peak_bytes"] ?? 0) > 50_000_000)
                #expect(s.phases.map(\.name).contains("guest-init"))
            } else {
                #expect(p.accel == nil)
                #expect((s.metrics["memory_peak_bytes"] ?? 0) > 0)
            }
        }
        // The same bytes behave the same in every arm (C7).
        for w in ["hello", "syscall"] {
            let digests = Set(doc.samples.filter { $0.workload == w }.compactMap(\.outputDigest))
            #expect(digests.count == 1, "\(w): \(digests)")
        }
        #expect(doc.images.contains { $0.component == "kernel" && $0.armKey == "vm" })
        #expect(doc.images.contains { $0.component == "layers-compressed" })
        let sharing = try #require(doc.layerSharing.first)
        #expect(sharing.bytesToPullGivenBase < sharing.imageCompressedBytes)
        #expect(sharing.newLayersOnLastStepRebuild == 1)
        // C5 over the wire (a loopback docker-registry): the same layers the store arithmetic counts, plus a few KiB
        // of config and manifests; a last-step change sends one layer; the registry is gone afterwards.
        let wire = try #require(sharing.wire, "C5's transfer through the loopback registry was not measured")
        #expect(wire.pushGivenBaseBytes < wire.pushAloneBytes)
        for bytes in [wire.pushGivenBaseBytes, wire.pullGivenBaseBytes] {
            #expect(bytes >= sharing.bytesToPullGivenBase && bytes < sharing.bytesToPullGivenBase + 16_384, "\(wire)")
        }
        #expect(wire.pushAloneBytes >= sharing.imageCompressedBytes)
        #expect(wire.layersSentAfterLastStepChange == 1)
        #expect((wire.pushAfterLastStepChangeBytes ?? .max) < 64 * 1024)
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? [])
            .filter { $0.hasPrefix(OwnedName.registry.name()) }
        #expect(leftovers.isEmpty, "\(leftovers)")
        let registries = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "")
                .contains(OwnedName.registry.name())
        }
        #expect(registries.isEmpty, "docker-registry still running: \(registries)")
        #expect(doc.arms.map(\.kind) == [.native, .container, .vm])
        // Every arm says what its memory figure counts; the VM's is its machine cgroup, like the containers'.
        #expect(doc.arms.allSatisfy { $0.memoryFigure != nil })
        #expect(doc.arms.last?.memoryFigure?.contains("machine cgroup") == true)
        for s in doc.samples where s.arm == "vm" && s.status == .ok {
            #expect((s.metrics["memory_peak_bytes"] ?? 0) > 50_000_000)
        }
    }

    /// crun and runc run the same layers with a writable upper as boxbench's arm, in a cgroup boxbench owns and
    /// reads: every container arm has memory and CPU figures, and nothing is left mounted or grouped.
    @Test(.enabled(if: getuid() == 0 && PeerRuntime.allCases.allSatisfy(\.isInstalled)))
    func peerArmsHaveMemoryAndCPUFigures() throws {
        let yaml = """
            name: peers
            repetitions: 2
            warmups: 0
            timeout: 60
            arms:
              - name: box
                kind: container
              - name: cr
                kind: container
                engine: crun
              - name: rc
                kind: container
                engine: runc
            workloads:
              - name: hello
            """
        let suite = try Suite.parse(yaml, path: Self.repoRoot + "/Benchmarks/peers.yaml")
        let dir = NSTemporaryDirectory() + "boxbench-peers-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = WorkloadImages()
        let engines: [any Engine] = [
            BoxbenchContainerEngine(arm: suite.arms[0]), PeerContainerEngine(arm: suite.arms[1], peer: .crun),
            PeerContainerEngine(arm: suite.arms[2], peer: .runc),
        ]
        let runner = SuiteRunner(
            suite: suite, engines: engines, images: { try images.prepare($0) }, resultsPath: dir + "/results.json",
            seed: 3, progress: SilentProgress(), tool: ToolInfo(version: "test", commit: "test"))
        let doc = runner.run(layerSharing: { _, _ in nil })
        #expect(doc.samples.count == 6)
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.arm): \(s.failure ?? "")")
            #expect((s.metrics["memory_peak_bytes"] ?? 0) > 0, "\(s.arm) has no memory peak")
            #expect((s.metrics["cpu_ns"] ?? 0) > 0, "\(s.arm) has no CPU time")
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains("/bundles/crun-\(getpid())") && !mounts.contains("/bundles/runc-\(getpid())"))
        let layout = CgroupLayout.detect()
        for mount in layout.hierarchies.map(\.mountPoint) + CgroupLayout.namedHierarchyMountPoints() {
            for peer in ["crun", "runc"] {
                let group = "\(mount)/boxbench/\(peer)-\(getpid())-hello"
                #expect(!FileManager.default.fileExists(atPath: group), "left: \(group)")
            }
        }
        // Nor the shared parent runc made in the hierarchies boxbench does not manage (name=systemd), unless another
        // suite of this test process still has a group in it.
        for mount in CgroupLayout.namedHierarchyMountPoints() {
            let parent = mount + "/boxbench"
            guard let children = try? FileManager.default.contentsOfDirectory(atPath: parent) else { continue }
            let groups = children.filter { child in
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: parent + "/" + child, isDirectory: &isDir)
                    && isDir.boolValue
            }
            #expect(!groups.isEmpty, "left empty: \(parent)")
        }
    }
}
