import Foundation
import Machines
import Testing

@testable import Suites

@Suite struct SuiteParsingTests {
    static let valid = """
        name: demo
        repetitions: 3
        warmups: 1
        timeout: 30
        cache: warm
        seed: 7
        arms:
          - kind: native
          - kind: container
          - kind: container
            engine: runc
          - kind: vm
            accel: tcg
            memory: 256
            machine: pc
        workloads:
          - name: hello
          - name: memory
            args: ["32"]
            memory_limit: 64MiB
        density:
          workload: hello
          levels: [1, 2]
          arms: [container]
        """

    @Test func validSuite() throws {
        let s = try Suite.parse(Self.valid, path: "/s/demo.yaml")
        #expect(s.name == "demo")
        #expect(s.repetitions == 3)
        #expect(s.seed == 7)
        #expect(s.arms.map(\.name) == ["native", "container", "container-runc", "vm"])
        #expect(s.arms[0].config == .native)
        #expect(s.arms[2].config == .container(ContainerArm(engine: .runc)))
        #expect(s.arms[3].config == .vm(VMArm(launcher: .libvirt, accel: .tcg, machine: .pc, memoryMiB: 256)))
        #expect(s.workloads[0].dockerfile == "/s/workloads/hello/Dockerfile")
        #expect(s.workloads[1].memoryLimitBytes == 64 << 20)
        #expect(s.workloads[1].args == ["32"])
        #expect(s.density == DensitySpec(workload: "hello", levels: [1, 2], arms: ["container"]))
    }

    @Test(arguments: [
        ("name: x\nrepetitions: 3\nrepetitons: 4\narms: [{kind: native}]\nworkloads: [{name: a}]\n", 3, "repetitons"),
        ("arms:\n  - kind: native\n  - kind: vm\n    accel: turbo\nworkloads: [{name: a}]\n", 4, "arms[1].accel"),
        ("arms:\n  - kind: native\n    engine: runc\nworkloads: [{name: a}]\n", 3, "arms[0].engine"),
        ("arms:\n  - kind: native\nworkloads:\n  - name: a\n    memory_limit: lots\n", 5, "workloads[0].memory_limit"),
        ("repetitions: -1\narms: [{kind: native}]\nworkloads: [{name: a}]\n", 1, "repetitions"),
        ("arms: [{kind: native}]\nworkloads: [{name: a}]\ndensity:\n  workload: b\n", 4, "density.workload"),
        ("arms: [{kind: native}, {kind: native}]\nworkloads: [{name: a}]\n", 1, "arms[1].name"),
        ("arms:\n  - kind: hypervisor\nworkloads: [{name: a}]\n", 2, "arms[0].kind"),
        ("arms:\n  - kind: container\n    vcpus: 2\nworkloads: [{name: a}]\n", 3, "arms[0].vcpus"),
        ("arms:\n  - kind: vm\n    launcher: firecracker\nworkloads: [{name: a}]\n", 3, "arms[0].launcher"),
        ("arms:\n  - kind: vm\n    machine: isapc\nworkloads: [{name: a}]\n", 3, "arms[0].machine"),
        ("arms:\n  - kind: vm\n    guest: windows\nworkloads: [{name: a}]\n", 3, "arms[0].guest"),
        (
            "arms:\n  - kind: vm\n    rootfs: initramfs\n    guest: full-os\nworkloads: [{name: a}]\n", 4,
            "arms[0].guest"
        ),
        ("arms:\n  - kind: container\n    guest: full-os\nworkloads: [{name: a}]\n", 3, "arms[0].guest"),
        (
            "arms:\n  - kind: native\n  - kind: vm\n    workloads: [a, b]\nworkloads: [{name: a}]\n", 4,
            "arms[1].workloads"
        ),
    ])
    func errorsNameKeyAndLine(yaml: String, line: Int, key: String) {
        do {
            _ = try Suite.parse(yaml, path: "bad.yaml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(line): \(key): "))
        }
    }

    /// `guest: full-os` alone implies the disk it boots from; the default stays the minimal guest.
    @Test func fullOSGuestBootsFromADisk() throws {
        let s = try Suite.parse(
            "arms:\n  - kind: vm\n  - kind: vm\n    name: full\n    guest: full-os\nworkloads: [{name: a}]\n",
            path: "/s/g.yaml")
        #expect(s.arms[0].config == .vm(VMArm()))
        #expect(s.arms[1].config == .vm(VMArm(rootfs: .disk, guest: .fullOS)))
        #expect(s.arms[1].record.guest == "full-os")
        #expect(s.needsFullOSImages)
    }

    /// An arm's `workloads:` list: only those pairs are planned (and the full-OS image only for them).
    @Test func armsCanRunASubsetOfTheWorkloads() throws {
        let s = try Suite.parse(
            """
            arms:
              - kind: native
              - kind: vm
                name: os
                guest: full-os
                workloads: [b]
            workloads: [{name: a}, {name: b}]
            """, path: "/s/w.yaml")
        #expect(s.arms[0].workloads == nil && s.arms[1].workloads == ["b"])
        #expect(s.arms[0].runs("a") && !s.arms[1].runs("a") && s.arms[1].runs("b"))
        #expect(!s.needsFullOSImage(for: "a") && s.needsFullOSImage(for: "b"))
        let plan = planRuns(
            arms: s.arms.map(\.name), workloads: ["a", "b"], repetitions: 2, warmups: 0, seed: 1,
            includes: { a, w in s.arms.first { $0.name == a }!.runs(w) })
        #expect(Set(plan.map { "\($0.arm)/\($0.workload)" }) == ["native/a", "native/b", "os/b"])
        #expect(plan.count == 6)
    }

    @Test func brokenYAMLNamesTheLine() {
        do {
            _ = try Suite.parse("arms:\n  - kind: native\n   bad: [\n", path: "b.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.line != nil)
            #expect(error.description.hasPrefix("b.yaml:"))
        }
    }

    @Test func selectingSubsets() throws {
        let s = try Suite.parse(Self.valid, path: "/s/demo.yaml")
        let sub = try s.selecting(arms: ["native", "vm"], workloads: ["memory"], repetitions: 2)
        #expect(sub.arms.map(\.name) == ["native", "vm"])
        #expect(sub.workloads.map(\.name) == ["memory"])
        #expect(sub.repetitions == 2)
        #expect(sub.density == nil)
        #expect(throws: SuiteError.self) { try s.selecting(arms: ["nope"], workloads: nil, repetitions: nil) }
    }

    @Test func shippedSuitesParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        for name in ["default.yaml", "full.yaml", "services.yaml", "network.yaml"] {
            let path = "\(root)/Benchmarks/\(name)"
            let suite = try Suite.load(path: path)
            for w in suite.workloads {
                #expect(FileManager.default.fileExists(atPath: w.dockerfile), "\(name): \(w.dockerfile)")
            }
        }
    }
}

@Suite struct PlannerTests {
    @Test func interleavedAndReproducible() {
        let a = planRuns(arms: ["n", "c", "v"], workloads: ["h", "s"], repetitions: 4, warmups: 1, seed: 42)
        let b = planRuns(arms: ["n", "c", "v"], workloads: ["h", "s"], repetitions: 4, warmups: 1, seed: 42)
        let c = planRuns(arms: ["n", "c", "v"], workloads: ["h", "s"], repetitions: 4, warmups: 1, seed: 43)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 5 * 6)
        #expect(a.prefix(6).allSatisfy { $0.isWarmup })
        // Each repetition holds every arm × workload exactly once, so arms interleave.
        for rep in 0..<4 {
            let round = a.filter { $0.repetition == rep }
            #expect(round.count == 6)
            #expect(Set(round.map { "\($0.arm)/\($0.workload)" }).count == 6)
        }
        // Shuffled: not every round in the same order.
        let orders = Set((0..<4).map { rep in a.filter { $0.repetition == rep }.map { "\($0.arm)/\($0.workload)" } })
        #expect(orders.count > 1)
    }
}
