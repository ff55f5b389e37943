import Foundation
import Results
import Testing

@testable import Suites

/// A fake engine: scripted outcomes, and it checks that earlier runs are already on disk when it runs.
final class FakeEngine: Engine, @unchecked Sendable {
    let arm: ArmSpec
    var engineName: String { "fake" }
    let resultsPath: String
    let failOn: Set<Int>
    var runs = 0
    var samplesOnDiskAtEachRun: [Int] = []
    var cleaned = false

    init(arm: ArmSpec, resultsPath: String, failOn: Set<Int> = []) {
        self.arm = arm
        self.resultsPath = resultsPath
        self.failOn = failOn
    }

    func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] {
        [ArtifactSize(image: image.name, armKey: arm.name, component: "fake", bytes: 1)]
    }

    func run(_ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int)
        -> RunOutcome
    {
        runs += 1
        samplesOnDiskAtEachRun.append((try? ResultsStore.read(resultsPath))?.samples.count ?? -1)
        if failOn.contains(runs) { return RunOutcome(status: .failed, failure: "scripted failure") }
        return RunOutcome(
            status: .ok, exitCode: 0, measurements: Measurements(exitMs: Double(runs)),
            stdout: "hello\nbbwork: elapsed_ns=\(runs)\n")
    }

    func cleanup(_ image: PreparedImage, workload: WorkloadSpec) { cleaned = true }
}

struct SilentProgress: ProgressSink {
    func update(_ line: String, final: Bool) {}
}

@Suite struct RunnerTests {
    func suite() throws -> Suite {
        try Suite.parse(
            "repetitions: 3\nwarmups: 1\narms: [{kind: native}, {kind: container}]\nworkloads: [{name: hello}]\n",
            path: "/tmp/x.yaml")
    }

    func image(_ w: WorkloadSpec) -> PreparedImage {
        PreparedImage(
            name: w.name, digest: "sha256:0", lowerDirs: [], rootfs: "/", argv: ["/bin/true"], env: [], workdir: "/",
            sizes: [])
    }

    @Test func failuresAreRecordedAndResultsFlushedAfterEveryRun() throws {
        let dir = NSTemporaryDirectory() + "runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/results.json"
        let s = try suite()
        let native = FakeEngine(arm: s.arms[0], resultsPath: path, failOn: [3])
        let container = FakeEngine(arm: s.arms[1], resultsPath: path)
        let runner = SuiteRunner(
            suite: s, engines: [native, container], images: { self.image($0) }, resultsPath: path, seed: 1,
            progress: SilentProgress(), tool: ToolInfo(version: "t", commit: "c"))
        let doc = runner.run()
        #expect(doc.samples.count == 6)
        #expect(doc.complete)
        #expect(doc.samples.filter { $0.status == .failed }.count == 1)
        #expect(doc.samples.first { $0.status == .failed }?.failure == "scripted failure")
        // Warmups ran but were not recorded.
        #expect(native.runs + container.runs == 8)
        // Every run saw all earlier measured runs already on disk.
        let seen = (native.samplesOnDiskAtEachRun + container.samplesOnDiskAtEachRun).sorted()
        #expect(seen == [0, 0, 0, 1, 2, 3, 4, 5])
        #expect(native.cleaned && container.cleaned)
        let reread = try ResultsStore.read(path)
        #expect(reread == doc)
        // Run-level facts once per document and arm, not per sample.
        #expect(doc.seed == 1)
        #expect(!doc.host.kernel.isEmpty && !doc.host.cpuModel.isEmpty)
        #expect(doc.arms.map(\.kind) == [.native, .container])
        for sample in doc.samples {
            #expect(doc.arm(sample.arm) != nil)
            #expect(!sample.startedAt.isEmpty && !sample.finishedAt.isEmpty)
            // The stdout's value joined the engine's measurements (read once, by the runner).
            if sample.status == .ok { #expect(sample.measurements.workload["elapsed_ns"] != nil) }
        }
        // Timing lines are not part of the behaviour digest; equal output ⇒ equal digest across arms.
        let digests = Set(doc.samples.compactMap(\.outputDigest))
        #expect(digests.count == 1)
    }

    @Test func aCrashMidSuiteLeavesALoadableFileWithEveryCompletedRun() throws {
        let dir = NSTemporaryDirectory() + "runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/results.json"
        let s = try suite()
        // The harness "crashes" at the 7th run of 8 (2 warmups + 6): the file is snapshotted as a crash leaves it.
        final class Counter: @unchecked Sendable { var runs = 0 }
        final class CrashingEngine: Engine, @unchecked Sendable {
            let arm: ArmSpec
            let path: String
            let counter: Counter
            var snapshot: Data?
            var engineName: String { "fake" }
            init(arm: ArmSpec, path: String, counter: Counter) {
                self.arm = arm
                self.path = path
                self.counter = counter
            }
            func prepare(_ image: PreparedImage, workload: WorkloadSpec) throws -> [ArtifactSize] { [] }
            func run(
                _ image: PreparedImage, workload: WorkloadSpec, limits: RunLimits, timeout: Duration, runIndex: Int
            ) -> RunOutcome {
                counter.runs += 1
                if counter.runs == 7 { snapshot = FileManager.default.contents(atPath: path) }
                return RunOutcome(status: .ok, measurements: Measurements(exitMs: 1))
            }
            func cleanup(_ image: PreparedImage, workload: WorkloadSpec) {}
        }
        let counter = Counter()
        let engines = s.arms.map { CrashingEngine(arm: $0, path: path, counter: counter) }
        _ = SuiteRunner(
            suite: s, engines: engines, images: { self.image($0) }, resultsPath: path, seed: 9,
            progress: SilentProgress(),
            tool: ToolInfo(version: "t", commit: "c")
        ).run()
        let snap = try #require(engines.compactMap(\.snapshot).first)
        try snap.write(to: URL(fileURLWithPath: dir + "/crashed.json"))
        let crashed = try ResultsStore.read(dir + "/crashed.json")
        #expect(!crashed.complete)
        #expect(crashed.samples.count == 4)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp.\(getpid())"))
    }

    @Test func imageFailureMarksRunsFailedAndTheSuiteGoesOn() throws {
        let dir = NSTemporaryDirectory() + "runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try Suite.parse(
            "repetitions: 2\nwarmups: 0\narms: [{kind: native}]\nworkloads: [{name: good}, {name: bad}]\n",
            path: "/tmp/y.yaml")
        struct Boom: Error {}
        let engine = FakeEngine(arm: s.arms[0], resultsPath: dir + "/r.json")
        let doc = SuiteRunner(
            suite: s, engines: [engine],
            images: { w in
                if w.name == "bad" { throw Boom() }
                return self.image(w)
            }, resultsPath: dir + "/r.json", seed: 3, progress: SilentProgress(),
            tool: ToolInfo(version: "t", commit: "c")
        ).run()
        #expect(doc.samples.filter { $0.workload == "good" && $0.status == .ok }.count == 2)
        #expect(doc.samples.filter { $0.workload == "bad" && $0.status == .failed }.count == 2)
        #expect(doc.samples.first { $0.workload == "bad" }?.failure?.contains("image build failed") == true)
    }

    @Test func workloadMetricLines() {
        let m = WorkloadOutput(
            "hello\nbbwork: elapsed_ns=120 sha256=abc\nbbwork: write_bytes_per_s=3.5e8\nnoise=1\n"
        ).values
        #expect(m == ["elapsed_ns": 120, "write_bytes_per_s": 3.5e8])
        #expect(behaviourDigest("a\nbbwork: elapsed_ns=1\n") == behaviourDigest("a\nbbwork: elapsed_ns=2\n"))
        #expect(behaviourDigest("a\n") != behaviourDigest("b\n"))
    }
}

@Suite struct IsolationRecordTests {
    @Test func probeLinesBecomeRecords() {
        let out = """
            bbwork: probe-info pid=1
            bbwork: probe-info pid1_cmdline=/usr/bin/bbwork,probe
            bbwork: probe name=mount result=blocked errno=EPERM
            bbwork: probe name=sysrq_trigger result=failed errno=ENOENT
            bbwork: probe name=proc1_environ result=succeeded
            bbwork: probe name=bpf result=allowed errno=EINVAL
            """
        let (records, notes) = isolationRecords(arm: "container", probeOutput: out, hostPID1: "/sbin/init")
        #expect(records.map(\.probe) == ["mount", "proc1_environ", "bpf"])
        #expect(records.map(\.blocked) == [true, true, false])
        #expect(notes.count == 1 && notes[0].contains("sysrq_trigger"))
        // Natively the PID 1 seen is the host's: that read is not blocked.
        let native = isolationRecords(
            arm: "native",
            probeOutput:
                "bbwork: probe-info pid1_cmdline=/sbin/init\nbbwork: probe name=proc1_environ result=succeeded\n",
            hostPID1: "/sbin/init")
        #expect(native.records.first?.blocked == false)
    }
}

/// The behaviour digest of an output (the runner's, from its one read of stdout).
func behaviourDigest(_ stdout: String) -> String { WorkloadOutput(stdout).digest }
