import Containers
import Foundation
import Images
import Machines
import Probes
import Reports
import Results
import Testing

@testable import Suites

/// A Debian image as users write them — the slim base made here with mmdebstrap, an apt-installed package, a
/// multi-stage `COPY --from` — built and run in the native, container and VM arms; and RUN's network choice.
/// Needs root, mmdebstrap and the Debian mirror the host's apt uses (package downloads go through the host's
/// network, as apt's do).
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: RUN steps run in containers, and VMs boot"),
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap")
            && FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage),
        "needs mmdebstrap and the guest kernel (scripts/setup)"))
struct RealImageTests {
    /// Benchmarks/examples/debian-multistage/Dockerfile, the example Benchmarks/README.md shows.
    static var dockerfile: String {
        get throws {
            try String(
                contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().path + "/Benchmarks/examples/debian-multistage/Dockerfile",
                encoding: .utf8)
        }
    }

    /// A temporary directory with the example as `ctx/Dockerfile`; the caller removes it.
    static func suiteDirectory(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "boxbench-\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/ctx", withIntermediateDirectories: true)
        try (try dockerfile).write(toFile: dir + "/ctx/Dockerfile", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func aDebianImageWithAnAptPackageAndCopyFromRunsInEveryArm() throws {
        let dir = try Self.suiteDirectory("realimage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let suite = try Suite.parse(
            """
            name: real-image
            repetitions: 2
            warmups: 0
            timeout: 120
            arms:
              - kind: native
              - kind: container
              - kind: vm
                accel: tcg
                memory: 512
            workloads:
              - name: jqdemo
                dockerfile: ctx/Dockerfile
                context: ctx
            """, path: dir + "/suite.yaml")
        // The slim base is made once per store (mmdebstrap) when the store lacks it.
        let images = WorkloadImages()
        let engines: [any Engine] = [
            NativeEngine(arm: suite.arms[0]), BoxbenchContainerEngine(arm: suite.arms[1]),
            suite.arms[2].makeEngine(vmURI: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot)),
        ]
        let runner = SuiteRunner(
            suite: suite, engines: engines, images: { try images.prepare($0) }, resultsPath: dir + "/results.json",
            seed: 5, progress: SilentProgress(), tool: ToolInfo(version: "test", commit: "test"))
        let doc = runner.run()
        #expect(doc.samples.count == 3 * 2)
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.arm): \(s.failure ?? "")")
        }
        // The same bytes behave the same everywhere: jq read the artifact the build stage wrote.
        #expect(Set(doc.samples.compactMap(\.outputDigest)).count == 1)
        let store = try ImageStore(root: BoxbenchPaths().imageStore, layerCache: BoxbenchPaths().layerCache)
        let base = try store.resolve("debian:bookworm-slim")
        #expect(base.manifest.layers.count == 1)
        #expect(base.config.history?.first?.created_by?.contains("mmdebstrap") == true)
    }

    /// `guest: full-os`: the image gets an OS layer (systemd-sysv from its own apt sources), boots from a disk with
    /// systemd as PID 1, which starts the workload as a unit; the same output as the container and the minimal
    /// guest; every boot starts from the same disk (writes go to a throw-away overlay); C4 shows both VM images.
    @Test func aFullOSGuestBootsSystemdAndRunsTheWorkloadAsAUnit() throws {
        let dir = try Self.suiteDirectory("fullos")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
            name: full-os
            repetitions: 1
            warmups: 0
            timeout: 180
            arms:
              - kind: container
              - kind: vm
                accel: tcg
                memory: 512
              - kind: vm
                name: vm-full-os
                guest: full-os
                accel: tcg
                memory: 512
            workloads:
              - name: jqdemo
                dockerfile: ctx/Dockerfile
                context: ctx
            """
        #expect(try Suite.parse(yaml, path: dir + "/suite.yaml").needsFullOSImages)
        let doc = try runTestSuite(yaml, path: dir + "/suite.yaml", seed: 5)
        #expect(doc.samples.count == 3)
        for s in doc.samples { #expect(s.status == .ok, "\(s.arm): \(s.failure ?? "")") }
        #expect(Set(doc.samples.compactMap(\.outputDigest)).count == 1)
        // systemd ran between the init's hand-over and the unit's start.
        let full = try #require(doc.samples.first { $0.arm == "vm-full-os" })
        let phase = { (name: String) in full.phases.first { $0.name == name }?.ms }
        let osInit = try #require(phase("os-init"))
        let unitStart = try #require(phase("unit-start"))
        let workloadStart = try #require(phase("workload-start"))
        #expect(osInit < unitStart && unitStart <= workloadStart)
        #expect(doc.arms.first { $0.key == "vm-full-os" }?.guest == "full-os")
        // C4 shows both VM images, the full OS deciding, with the OS layer it carries.
        let bytes = try #require(ReportAnalysis(doc).imageBytes.first)
        #expect(bytes.vms.map(\.guest) == ["minimal", "full-os"])
        #expect(bytes.decidingVM?.guest == "full-os")
        #expect((bytes.vms.last?.osLayerUncompressed ?? 0) > 1 << 20)
        // The cached disk was not written by the boot (libvirt's transient overlay took the writes, then went).
        let disks = try FileManager.default.contentsOfDirectory(atPath: BoxbenchPaths().guestArtifacts)
            .map { BoxbenchPaths().guestArtifacts + "/" + $0 }
        for d in disks {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
            #expect(!entries.contains { $0.contains("TRANSIENT") }, "\(d): \(entries)")
        }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let started = try #require(iso.date(from: full.startedAt))
        let fullDisk = try #require(
            disks.compactMap { d -> (String, Date)? in
                guard let json = FileManager.default.contents(atPath: d + "/artifacts.json"),
                    let a = try? JSONDecoder().decode(GuestArtifacts.self, from: json), a.guest == .fullOS,
                    let attrs = try? FileManager.default.attributesOfItem(atPath: d + "/disk.raw"),
                    let modified = attrs[.modificationDate] as? Date
                else { return nil }
                return (d, modified)
            }.max { $0.1 < $1.1 })
        #expect(fullDisk.1 < started, "\(fullDisk.0)/disk.raw changed during the boot")
    }

    /// RUN with the host's network sees the host's interfaces; with `none`, only loopback. Nothing is sent.
    @Test func runStepsGetTheNetworkAskedFor() throws {
        let dir = NSTemporaryDirectory() + "boxbench-buildnet-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/ctx", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "FROM boxbench/busybox\nRUN cat /proc/net/dev > /netdev; cat /etc/resolv.conf > /resolv 2>/dev/null; true\n"
            .write(toFile: dir + "/ctx/Dockerfile", atomically: true, encoding: .utf8)
        let store = try ImageStore(root: dir + "/store", layerCache: dir + "/layers")
        _ = try store.ensureBusyboxBase()
        func interfaces(_ network: BuildNetwork) throws -> (names: Set<String>, resolv: String) {
            let image = try ImageBuilder(store: store).build(
                BuildOptions(
                    context: dir + "/ctx", noCache: true, executor: ContainerRunStepExecutor(), network: network))
            let flat = dir + "/flat-\(network.rawValue)"
            try store.flatten(image, into: flat)
            let text = try String(contentsOfFile: flat + "/netdev", encoding: .utf8)
            let names = text.split(separator: "\n").dropFirst(2).compactMap {
                $0.split(separator: ":").first.map { $0.trimmingCharacters(in: .whitespaces) }
            }
            return (Set(names), (try? String(contentsOfFile: flat + "/resolv", encoding: .utf8)) ?? "")
        }
        let host = try interfaces(.host)
        let none = try interfaces(.none)
        #expect(none.names == ["lo"], "\(none.names)")
        let hostNames = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []))
        #expect(host.names == hostNames, "\(host.names) vs \(hostNames)")
        // The host's resolver configuration, read-only, and not left in the step's layer.
        let hostResolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        #expect(host.resolv == hostResolv)
    }
}
