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
            VMEngine(arm: suite.arms[2], uri: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot)),
        ]
        let runner = SuiteRunner(
            suite: suite, engines: engines, images: { try images.prepare($0) }, resultsPath: dir + "/results.json",
            seed: 11, progress: SilentProgress(), tool: ToolInfo(version: "test", commit: "test"))
        let doc = runner.run(layerSharing: { images.layerSharing(for: $0, workload: $1) })
        let reread = try ResultsStore.read(dir + "/results.json")
        #expect(reread == doc)
        #expect(doc.complete)
        #expect(doc.samples.count == 3 * 2 * 2)
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.armKey) \(s.workload): \(s.failure ?? "")")
            let p = s.provenance
            #expect(!p.kernel.isEmpty && !p.cpuModel.isEmpty && !p.cgroupMode.isEmpty && !p.startedAt.isEmpty)
            #expect(p.seed == 11 && p.cacheMode == "warm")
            // The container arm records the seccomp profile it ran under; the others have none.
            #expect((p.seccomp != nil) == (s.armKey == "container"), "\(s.armKey): \(p.seccomp ?? "none")")
            if s.armKey == "container" { #expect(p.seccomp == defaultSeccompProvenance) }
            #expect((s.metrics["startup_exit_ms"] ?? 0) > 0)
            #expect(s.metrics["startup_first_output_ms"] != nil)
            if s.armKey == "vm" {
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
    }
}
