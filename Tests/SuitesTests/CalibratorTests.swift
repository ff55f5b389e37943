import Foundation
import Probes
import Testing

@testable import Suites

/// The calibration interleaves harness blocks and hyperfine runs and stores what it compared. (Whether the two
/// medians agree within 10 % is a property of the host's load, measured by `boxbench run --calibrate`, not
/// asserted here.)
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: the native arm's accounting cgroup"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary)
            && access("/usr/bin/hyperfine", X_OK) == 0,
        "needs the workload kit and hyperfine (scripts/setup)"))
struct CalibratorTests {
    @Test func interleavedRoundsAreRecorded() throws {
        let suite = try Suite.parse(
            "arms: [{kind: native}]\nworkloads: [{name: hello}]\n",
            path: RealSuiteTests.repoRoot + "/Benchmarks/calibrate-test.yaml")
        let c = try #require(Calibrator.run(images: WorkloadImages(), suite: suite, rounds: 2, runsPerBlock: 3))
        #expect(c.rounds == 2 && c.runsPerSide == 6 && c.roundRatios?.count == 2)
        #expect(c.harnessMedianMs > 0 && c.hyperfineMedianMs > 0)
        #expect(abs((c.pooledRatio ?? 0) - c.harnessMedianMs / c.hyperfineMedianMs) < 1e-12)
        let rounds = try #require(c.roundRatios)
        #expect(abs(c.ratio - (rounds[0] + rounds[1]) / 2) < 1e-12)
        #expect(c.withinTolerance == (abs(c.ratio - 1) <= 0.10))
    }
}
