import Containers
import Foundation
import Machines
import Networks
import Probes
import Reports
import Results
import Testing

@testable import Suites

/// `ip` from the host namespace: links, addresses, routes and named namespaces.
func hostNetworkState() throws -> String {
    var out = ""
    for args in [["-o", "link"], ["-o", "addr"], ["route"], ["-6", "route"], ["netns", "list"]] {
        let r = try HostProcess.run(
            HostProcessRequest(path: "/usr/sbin/ip", args: ["ip"] + args, env: [], timeout: .seconds(10)))
        out += String(decoding: r.stdout, as: UTF8.self).replacingOccurrences(
            of: #"valid_lft \S+ preferred_lft \S+"#, with: "", options: .regularExpression)
    }
    return out
}

/// netrr in native, boxbench (bridge and host), crun and VM (TCG, virtio-net on the bench bridge) arms through
/// the real runner: every sample carries the
/// client's latency figures, C8's container half is computed, and the host's network is the same afterwards.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: network namespaces, containers"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary)
            && CNI.missingPlugins().isEmpty && access("/usr/bin/crun", X_OK) == 0,
        "needs the workload kit, the CNI plugins and crun (scripts/setup)"),
    .enabled(if: access("/usr/bin/iperf3", X_OK) == 0, "needs iperf3 (scripts/setup)"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage),
        "needs the guest kernel (scripts/setup)"))
struct NetworkSuiteTests {
    @Test func netrrRunsInEveryArmWithANetworkAndLeavesTheHostAlone() throws {
        let yaml = """
            name: net-small
            repetitions: 3
            warmups: 0
            timeout: 30
            arms:
              - kind: native
              - kind: container
              - kind: container
                name: box-host
                network: host
              - kind: container
                engine: crun
              - kind: vm
                accel: tcg
            workloads:
              - name: netrr
                client: ["netrr", "{address}", "7100", "300", "64", "60000"]
              - name: netstream
                client: ["iperf3", "-c", "{address}", "-p", "5201", "-t", "1", "-J"]
            """
        let suite = try Suite.parse(yaml, path: RealSuiteTests.repoRoot + "/Benchmarks/net-small.yaml")
        let dir = NSTemporaryDirectory() + "boxbench-netsuite-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = try hostNetworkState()
        let images = WorkloadImages()
        // One embedded libvirt driver per process: the root the Machines tests use in this test process.
        let engines: [any Engine] = suite.arms.map {
            $0.makeEngine(vmURI: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot))
        }
        let runner = SuiteRunner(
            suite: suite, engines: engines, images: { try images.prepare($0) }, resultsPath: dir + "/results.json",
            seed: 3, progress: SilentProgress(), tool: ToolInfo(version: "test", commit: "test"))
        let doc = runner.run()
        for arm in ["native", "container", "box-host", "container-crun", "vm"] {
            let samples = doc.samples.filter { $0.arm == arm && $0.workload == "netrr" }
            #expect(samples.count == 3)
            for s in samples {
                #expect(s.status == .ok, "\(arm): \(s.failure ?? "")")
                #expect((s.metrics["work_rr_p50_ns"] ?? 0) > 0, "\(arm): \(s.metrics.keys.sorted())")
                #expect((s.metrics["work_rr_per_s"] ?? 0) > 0)
            }
            // iperf3 through the same path: received bytes per second from the client's JSON.
            for s in doc.samples.filter({ $0.arm == arm && $0.workload == "netstream" }) {
                #expect(s.status == .ok, "\(arm) netstream: \(s.failure ?? "")")
                #expect((s.metrics["work_iperf3_received_bytes_per_s"] ?? 0) > 1e6, "\(arm): \(s.metrics)")
            }
        }
        // The guest's NIC on the bench bridge: its first connection waited for the guest to boot.
        #expect(
            doc.samples.filter { $0.arm == "vm" && $0.workload == "netrr" }.allSatisfy {
                ($0.metrics["work_connect_wait_ns"] ?? 0) > 1e8
            })
        let c8 = try #require(ReportAnalysis(doc).claims.first { $0.id == "C8" })
        #expect(c8.evidence.contains { $0.contains("vm ÷ container") }, "\(c8.evidence)")
        #expect(c8.evidence.contains { $0.contains("container-crun ÷ native") }, "\(c8.evidence)")
        #expect(doc.arms.first { $0.key == "box-host" }?.network == "host")
        #expect(doc.notes.contains { $0.contains("bench network 10.231.0.0/24") })
        #expect(try hostNetworkState() == before, "the host's links, addresses, routes or namespaces changed")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory())) ?? []
        #expect(!left.contains { OwnedName.owner(of: $0) == getpid() }, "namespaces left: \(left)")
    }

    /// What a killed boxbench left of a bench network (its namespaces, its IPAM state) goes with the next Janitor.
    @Test func theJanitorRemovesADeadOwnersNetwork() throws {
        let net = try BenchNetwork.create()
        _ = try net.attach("arm")
        // Pretend the owner died: the Janitor is told this process is gone.
        let me = getpid()
        let cleaned = Janitor(isAlive: { $0 != me }).clean()
        #expect(cleaned.filter { $0.kind == .netns }.count == 3, "\(cleaned.map(\.path))")
        #expect(cleaned.allSatisfy { $0.error == nil }, "\(cleaned.compactMap(\.error))")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory())) ?? []
        #expect(!left.contains { OwnedName.owner(of: $0) == me })
        #expect(!FileManager.default.fileExists(atPath: net.cni.dataDirectory))
    }

    @Test func iperf3ReportsAreRead() {
        let ok =
            #"{"start": {}, "end": {"sum_sent": {"bits_per_second": 8e9, "retransmits": 3}, "sum_received": {"bits_per_second": 4e9}}}"#
        #expect(
            parseIperf3(ok) == [
                "iperf3_sent_bytes_per_s": 1e9, "iperf3_retransmits": 3,
                "iperf3_received_bytes_per_s": 5e8,
            ])
        #expect(iperf3Error(ok) == nil)
        let refused = #"{"start": {}, "end": {}, "error": "unable to connect to server: Connection refused"}"#
        #expect(parseIperf3(refused).isEmpty)
        #expect(iperf3Error(refused) == "unable to connect to server: Connection refused")
    }

    @Test func badNetworkSectionsAreNamed() {
        for (yaml, key) in [
            ("network:\n  subnet: 10.0.0.0/33\narms: [{kind: native}]\nworkloads: [{name: a}]\n", "network.subnet"),
            ("arms:\n  - kind: container\n    network: overlay\nworkloads: [{name: a}]\n", "arms[0].network"),
            ("arms:\n  - kind: native\n    network: host\nworkloads: [{name: a}]\n", "arms[0].network"),
            ("arms: [{kind: native}]\nworkloads:\n  - name: a\n    client: [netperf]\n", "workloads[0].client"),
        ] {
            do {
                _ = try Suite.parse(yaml, path: "n.yaml")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.key == key, "\(error)")
            }
        }
    }
}
