import Containers
import Foundation
import Results
import Synchronization
import Testing

@testable import Machines
@testable import Suites

/// How each engine maps what it observed to a sample, without root, containers or guests.
@Suite struct EngineOutcomeTests {
    @Test(arguments: [
        (ContainerExit.exited(0), false, false, SampleStatus.ok, Int32?.some(0)),
        (.exited(3), false, false, .nonZeroExit, 3),
        (.signaled(9), false, false, .signaled, 137),
        (.signaled(9), false, true, .oomKilled, nil),
        (.exited(0), true, false, .timeout, nil),
    ])
    func processExitMapsToStatus(
        exit: ContainerExit, timedOut: Bool, oomKilled: Bool, status: SampleStatus, code: Int32?
    ) {
        let o = processOutcome(
            exit: exit, timedOut: timedOut, oomKilled: oomKilled, stdout: Array("bbwork: ops_per_s=12.5\n".utf8),
            stderr: Array("boom\n".utf8), stats: nil, exitNs: 5_000_000, firstOutputNs: 2_000_000)
        #expect(o.status == status)
        #expect(o.exitCode == code)
        #expect(o.measurements.exitMs == 5)
        #expect(o.measurements.firstOutputMs == 2)
        // The workload's values are read from stdout once, by the runner.
        #expect(o.measurements.workload.isEmpty)
        #expect(WorkloadOutput(o.stdout).values == ["ops_per_s": 12.5])
        if case .exited(3) = exit { #expect(o.failure == "exit 3: boom") }
    }

    /// A launcher that boots nothing: returns the result it was given and counts calls.
    final class ScriptedLauncher: VMLauncher {
        let result: VMRunResult
        let calls = Mutex(0)
        init(_ result: VMRunResult) { self.result = result }
        func runBlocking(_ artifacts: GuestArtifacts, config: VMConfig) throws(MachineError) -> VMRunResult {
            calls.withLock { $0 += 1 }
            return result
        }
        func close() {}
    }

    static func bootResult(exitCode: Int32?, timedOut: Bool = false) -> VMRunResult {
        var memory = VMRunResult.Memory()
        memory.qemuPeakPssBytes = 90 << 20
        memory.cgroupPeakBytes = 120 << 20
        memory.cgroupCurrentBytes = 100 << 20
        return VMRunResult(
            domainName: "boxbench-t", uri: "test:///", accel: .tcg, machine: .microvm, rootfsMode: .initramfs,
            memoryMiB: 128, vcpus: 2, startPaused: true, exitCode: exitCode, exitSignal: nil,
            output: "hello\nbbwork: ops_per_s=3\n",
            phases: [
                .init(name: "create-returned", ms: 40), .init(name: "resume-returned", ms: 45),
                .init(name: "first-output", ms: 900), .init(name: "workload-exit", ms: 950),
            ], lifecycle: [], guestBootToInitMs: nil, guestWorkloadMs: nil, memory: memory,
            cpu: VMRunResult.CPU(libvirtCpuTimeNs: 7_000_000, qemuCpuMs: nil),
            sizes: VMRunResult.Sizes(kernelPath: "/k", initrdPath: "/i", kernelBytes: 1, initrdBytes: 1), qemuPid: 1,
            timedOut: timedOut, cancelled: false, failure: timedOut ? "timed out" : nil, guestErrors: [],
            guestWarnings: [], consoleTail: nil)
    }

    @Test func vmOutcomeCarriesTheMachineGroupPeakAndPhases() {
        let o = VMEngine.outcome(Self.bootResult(exitCode: 0), accel: .tcg, machine: "microvm")
        #expect(o.status == .ok)
        let m = o.measurements
        #expect(m.vm.accel == "tcg")
        #expect(m.vm.machineType == "microvm")
        #expect(m.memoryPeakBytes == Double(120 << 20))
        #expect(m.vm.pssPeakBytes == Double(90 << 20))
        #expect(m.firstOutputMs == 900)
        #expect(m.createMs == 40)
        #expect(m.startMs == 905)
        #expect(m.cpuNs == 7_000_000)
        #expect(WorkloadOutput(o.stdout).values["ops_per_s"] == 3)
    }

    @Test func vmTimeoutAndExitCodesMapToStatus() {
        #expect(
            VMEngine.outcome(Self.bootResult(exitCode: nil, timedOut: true), accel: .tcg, machine: "pc").status
                == .timeout)
        let failed = VMEngine.outcome(Self.bootResult(exitCode: 2), accel: .tcg, machine: "pc")
        #expect(failed.status == .nonZeroExit)
        #expect(failed.failure == "exit 2")
        #expect(VMEngine.outcome(Self.bootResult(exitCode: nil), accel: .tcg, machine: "pc").status == .failed)
    }

    /// The engine builds its launch configuration from its own typed arm, the launcher injected.
    @Test func vmEngineConfiguresFromItsArm() throws {
        let launcher = ScriptedLauncher(Self.bootResult(exitCode: 0))
        let vm = VMArm(accel: .tcg, machine: .microvm, memoryMiB: 128, vcpus: 2)
        let engine = VMEngine(name: "guest", vm: vm, launcher: launcher, builder: GuestArtifactBuilder(), accel: .tcg)
        #expect(engine.arm.kind == .vm)
        #expect(engine.engineName == "libvirt")
        let config = engine.config(timeout: .seconds(5))
        #expect(config.machine == .microvm && config.vcpus == 2 && config.memoryMiB == 128 && config.startPaused)
        #expect(engine.arm.record.machine == "microvm")
        #expect(engine.arm.record.memoryMiB == 128)
    }
}
