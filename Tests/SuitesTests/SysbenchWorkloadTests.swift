import Foundation
import Probes
import Testing

@testable import Suites

/// sysbench's report becomes `sysbench_*` workload values; its timings do not change the behaviour digest.
@Suite struct SysbenchReportTests {
    static func report(eventsPerSecond: String, totalTime: String, latency: String) -> String {
        """
        sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)

        Running the test with following options:
        Number of threads: 1
        Initializing random number generator from current time


        Prime numbers limit: 2000

        Initializing worker threads...

        Threads started!

        CPU speed:
            events per second: \(eventsPerSecond)

        General statistics:
            total time:                          \(totalTime)s
            total number of events:              2000

        Latency (ms):
                 min:                                    0.04
                 avg:                                    \(latency)
                 max:                                    4.22
                 95th percentile:                        0.05
                 sum:                                   86.64

        Threads fairness:
            events (avg/stddev):           2000.0000/0.00
            execution time (avg/stddev):   0.0866/0.00

        """
    }

    @Test func cpuReportLines() {
        let m = WorkloadOutput(Self.report(eventsPerSecond: "22128.30", totalTime: "0.0885", latency: "0.04")).values
        #expect(m["sysbench_events_per_s"] == 22128.30)
        #expect(m["sysbench_total_time_ms"] == 88.5)
        #expect(m["sysbench_latency_avg_ms"] == 0.04)
        #expect(m["sysbench_latency_p95_ms"] == 0.05)
        #expect(m["sysbench_latency_sum_ms"] == 86.64)
        #expect(m.count == 7)
        let a = behaviourDigest(Self.report(eventsPerSecond: "22128.30", totalTime: "0.0885", latency: "0.04"))
        #expect(a == behaviourDigest(Self.report(eventsPerSecond: "5360.91", totalTime: "0.3686", latency: "0.18")))
        // A different amount of work is different behaviour.
        #expect(
            a
                != behaviourDigest(
                    Self.report(eventsPerSecond: "1", totalTime: "1", latency: "1").replacingOccurrences(
                        of: "events:              2000", with: "events:              1000")))
    }

    @Test func memoryReportLines() {
        let m = WorkloadOutput(
            "sysbench 1.0.20 (using system LuaJIT 2.1.0-beta3)\n\nTotal operations: 16384 (2163593.78 per second)\n\n"
                + "64.00 MiB transferred (8451.54 MiB/sec)\n\n\nGeneral statistics:\n    total time:    0.0060s\n"
        ).values
        #expect(m["sysbench_operations_per_s"] == 2163593.78)
        #expect(m["sysbench_transfer_bytes_per_s"] == 8451.54 * 1_048_576)
        #expect(m["sysbench_total_time_ms"] == 6)
    }

    @Test func sysbenchLinesCountOnlyInASysbenchReport() {
        #expect(WorkloadOutput("total time: 5s\n    min: 1\n").values.isEmpty)
    }
}

/// The sysbench image (Debian's binary + its ldd closure and loader from the kit) runs natively and in the
/// container arm, and its report parses in both.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: image builds, containers and cgroups"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().kitDir + "/sysbench/usr/bin/sysbench"),
        "needs the staged sysbench in the kit (scripts/setup)"))
struct SysbenchWorkloadTests {
    @Test func runsNativelyAndInTheContainerArm() throws {
        let suite = try Suite.parse(
            """
            arms: [{kind: native}, {kind: container}]
            workloads:
              - name: sysbench
                args: ["cpu", "--cpu-max-prime=1000", "--events=200", "--time=0", "run"]
            """, path: RealSuiteTests.repoRoot + "/Benchmarks/sysbench-test.yaml")
        let workload = try #require(suite.workloads.first)
        let image = try WorkloadImages().prepare(workload)
        #expect(image.argv.first == "/usr/bin/sysbench")
        let engines: [any Engine] = [NativeEngine(arm: suite.arms[0]), BoxbenchContainerEngine(arm: suite.arms[1])]
        var digests: Set<String> = []
        for engine in engines {
            let o = engine.run(image, workload: workload, limits: RunLimits(), timeout: .seconds(60), runIndex: 0)
            #expect(o.status == .ok, "\(engine.arm.name): \(o.failure ?? "")")
            let values = WorkloadOutput(o.stdout).values
            #expect((values["sysbench_events_per_s"] ?? 0) > 0, "\(engine.arm.name): \(o.stdout)")
            #expect((values["sysbench_total_time_ms"] ?? 0) > 0)
            digests.insert(behaviourDigest(o.stdout))
        }
        #expect(digests.count == 1)
    }
}
