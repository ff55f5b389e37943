import Containers
import Foundation
import Machines
import Probes
import Reports
import Results
import Testing

@testable import Suites

/// What the peer arms refuse at load, without running anything.
@Suite struct PeerArmParsingTests {
    @Test(arguments: [
        // A network workload in a direct-QEMU arm: no NIC there.
        (
            "arms: [{kind: vm, launcher: qemu}]\nworkloads:\n  - name: s\n    client: [netrr, \"{address}\", \"7100\"]\n",
            "arms[0]", "launcher qemu has no bench-network NIC"
        ),
        // An overlay volume in a podman arm: its writable layer is podman's.
        (
            "arms: [{kind: container, engine: podman}]\nworkloads:\n  - name: s\n    volume: {path: /d, on: overlay}\n",
            "arms[0]", "podman keeps its writable layer"
        ),
        ("arms: [{kind: vm, machine: microvm, rootfs: disk}]\nworkloads: [{name: s}]\n", "arms[0].machine", "microvm"),
    ])
    func armsRefuseWhatTheirEngineCannotRun(yaml: String, key: String, message: String) {
        do {
            _ = try Suite.parse(yaml, path: "s.yaml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.key == key && error.line == 1, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func peersGetTheirDefaultNamesAndEngines() throws {
        let s = try Suite.parse(
            """
            arms:
              - {kind: container, engine: podman}
              - {kind: vm, launcher: qemu, machine: microvm}
              - {name: qemu-pc, kind: vm, launcher: qemu}
            workloads: [{name: hello}]
            """, path: "/b/s.yaml")
        #expect(s.arms.map(\.name) == ["container-podman", "vm", "qemu-pc"])
        #expect(s.arms.map(\.record.engine) == ["podman", "qemu", "qemu"])
        #expect(s.arms[0].makeEngine().engineName == "podman")
        #expect(s.arms[1].makeEngine().engineName == "qemu")
    }

    @Test func aMissingPeerProgramIsNamedBeforeAnyRun() throws {
        let s = try Suite.parse(
            """
            arms:
              - {kind: native}
              - {name: old, kind: container, engine: podman, path: /bin/sh}
              - {name: gone, kind: vm, launcher: qemu, path: /bin/sh}
            workloads: [{name: hello}]
            """, path: "/b/s.yaml")
        #expect(s.missingPrograms().isEmpty)
        var broken = s
        broken.arms[1].config = .container(ContainerArm(engine: .podman, path: "/nonexistent/podman"))
        #expect(broken.missingPrograms().map(\.arm) == ["old"])
    }
}

/// podman and QEMU without libvirt through the real runner, beside the arms they are compared with: the same image,
/// the same answer, each engine's own figures, the ladder in the report, nothing left behind.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: containers, cgroups, VMs"),
    .enabled(
        if: access("/usr/bin/podman", X_OK) == 0 && access("/usr/bin/skopeo", X_OK) == 0
            && access("/usr/bin/qemu-system-x86_64", X_OK) == 0,
        "needs podman, skopeo and QEMU (scripts/setup)"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage)
            && FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary),
        "needs the guest kernel and the kit (scripts/setup)"))
struct PeerArmTests {
    @Test func podmanAndDirectQemuRunTheSameImage() throws {
        let yaml = """
            name: peers-small
            repetitions: 1
            warmups: 0
            timeout: 120
            arms:
              - kind: native
              - kind: container
                engine: podman
              - name: qemu-microvm
                kind: vm
                launcher: qemu
                accel: tcg
                machine: microvm
              - name: qemu-pc
                kind: vm
                launcher: qemu
                accel: tcg
              - name: libvirt-pc
                kind: vm
                accel: tcg
                workloads: [hello]
            workloads:
              - name: hello
              - name: idle
                args: ["1"]
            density:
              workload: idle
              levels: [2]
              arms: [container-podman, qemu-microvm]
            """
        var doc = try runTestSuite(yaml, path: RealSuiteTests.repoRoot + "/Benchmarks/peers-small.yaml", seed: 5)
        // Density beside the runs: two idle podman containers (each with its conmon) and two direct microVMs.
        let density = Dictionary(uniqueKeysWithValues: doc.density.map { ($0.armKey, $0) })
        #expect(density["container-podman"]?.instances == 2 && density["qemu-microvm"]?.instances == 2, "\(doc.notes)")
        #expect((density["container-podman"]?.memoryPerInstanceBytes ?? 0) > 0)
        #expect(
            (density["qemu-microvm"]?.memoryPerInstanceBytes ?? 0)
                > (density["container-podman"]?.memoryPerInstanceBytes ?? 0))
        doc.samples.removeAll { $0.workload == "idle" }
        #expect(doc.samples.count == 5)
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.arm): \(s.failure ?? "")")
            #expect((s.metrics["startup_first_output_ms"] ?? 0) > 0, "\(s.arm)")
            #expect((s.metrics["memory_peak_bytes"] ?? 0) > 0, "\(s.arm): \(s.metrics.keys.sorted())")
        }
        #expect(Set(doc.samples.compactMap(\.outputDigest)).count == 1, "every arm printed the same")
        for arm in ["qemu-microvm", "qemu-pc"] {
            let phases = doc.samples.first { $0.arm == arm }?.measurements.phases.map(\.name) ?? []
            #expect(
                phases.contains("qemu-alive") && phases.contains("guest-init") && phases.last == "qemu-exit",
                "\(arm): \(phases)")
            #expect(
                doc.samples.first { $0.arm == arm }?.measurements.vm.machineType
                    == (arm == "qemu-pc" ? "pc" : "microvm"))
        }
        let records = Dictionary(uniqueKeysWithValues: doc.arms.map { ($0.key, $0) })
        #expect(records["container-podman"]?.engineVersion?.contains("podman version") == true, "\(records)")
        #expect(records["qemu-pc"]?.engine == "qemu" && records["libvirt-pc"]?.engine == "libvirt")
        // The ladder: every arm on one chart, sorted.
        let html = renderReport(doc, format: .html)
        #expect(html.contains("Ladder, hello: launch → first output per arm, sorted"), "no ladder chart")
        for arm in ["native", "container-podman", "qemu-microvm", "qemu-pc", "libvirt-pc"] {
            #expect(html.contains(">\(arm)"), "\(arm) missing from the report")
        }
        // The same ladder as a table in the Markdown report, fastest first.
        let markdown = renderReport(doc, format: .markdown)
        #expect(markdown.contains("## Ladder (hello): every arm, from a bare process to a full VM"))
        let table = markdown.components(separatedBy: "## Ladder")[1].components(separatedBy: "\n## ")[0]
            .split(separator: "\n").filter {
                $0.hasPrefix("| ") && !$0.hasPrefix("| arm")
            }
        #expect(table.count == 5 && table.first?.hasPrefix("| native") == true, "\(table)")
        // Nothing left: no QEMU of ours, no podman container of ours, no cgroup of ours.
        let me = getpid()
        #expect(Janitor().qemuProcesses().filter { OwnedName.owner(of: $0.1) == me }.isEmpty)
        let ps = try HostProcess.run(
            HostProcessRequest(
                path: "/usr/bin/podman",
                args: [
                    "podman", "--root", BoxbenchPaths().state + "/podman/storage", "--runroot",
                    BoxbenchPaths().run + "/podman", "ps", "--all", "--format", "{{.Names}}",
                ], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], timeout: .seconds(60)))
        let ours = String(decoding: ps.stdout, as: UTF8.self).split(separator: "\n").filter {
            OwnedName.owner(of: String($0)) == me
        }
        #expect(ours.isEmpty, "podman containers left: \(ours)")
        let groups = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/boxbench")) ?? []
        #expect(groups.filter { OwnedName.owner(of: $0) == me }.isEmpty, "cgroups left: \(groups)")
    }
}
