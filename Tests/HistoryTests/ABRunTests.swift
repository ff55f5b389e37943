import Foundation
import Results
import Testing

/// A/B in one job: two builds of one runtime as two arms of one interleaved run (`path:`), then
/// `compare RESULTS --arm A --arm B`. Needs root (containers) and crun.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0 && access("/usr/bin/crun", X_OK) == 0, "containers need root, and crun"))
struct ABRunTests {
    @Test func twoBuildsOfOneRuntimeRunAsTwoArmsAndCompare() throws {
        let dir = (temporaryPath("x") as NSString).deletingLastPathComponent
        // "Another build": a copy of the binary at another path.
        try FileManager.default.copyItem(atPath: "/usr/bin/crun", toPath: dir + "/crun-b")
        let runtime = (boxbench as NSString).deletingLastPathComponent + "/boxbench-runtime"
        let suite = dir + "/ab.yaml"
        try """
        name: ab
        repetitions: 6
        warmups: 1
        arms:
          - kind: container
            engine: crun
            name: crun-a
          - kind: container
            engine: crun
            name: crun-b
            path: \(dir)/crun-b
          - kind: container
            name: runtime-cli
            path: \(runtime)
        workloads:
          - name: hello
            dockerfile: \(CIRecipeTests.repo)/Benchmarks/workloads/hello/Dockerfile
        """.write(toFile: suite, atomically: true, encoding: .utf8)
        let run = try runBoxbench(["run", suite, "-o", dir + "/out", "--no-history", "--quiet"], dir: dir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let doc = try ResultsStore.read(dir + "/out/results.json")
        let configs = Dictionary(uniqueKeysWithValues: doc.arms.map { ($0.key, $0) })
        #expect(configs["crun-b"]?.path == dir + "/crun-b")
        #expect(configs["crun-a"]?.path == nil)
        #expect(configs["runtime-cli"]?.path == runtime)
        for arm in ["crun-a", "crun-b", "runtime-cli"] {
            let ok = doc.samples.filter { $0.arm == arm && $0.status == .ok }
            #expect(ok.count == 6, "\(arm): \(doc.samples.filter { $0.arm == arm }.map { $0.failure ?? "ok" })")
            #expect(ok.allSatisfy { $0.metrics["memory_peak_bytes"] != nil }, "\(arm): cgroup memory figure")
        }
        #expect(configs["runtime-cli"]?.engine == "boxbench-runtime")
        let ab = try runBoxbench(
            ["compare", dir + "/out", "--arm", "crun-a", "--arm", "crun-b", "--format", "terminal"], dir: dir)
        #expect(ab.status == 0 || ab.status == 1, "\(ab.stderr)")
        #expect(ab.stdout.contains("crun-b vs crun-a"), "\(ab.stdout)")
        let bad = try runBoxbench(["compare", dir + "/out", "--arm", "crun-a", "--arm", "nope"], dir: dir)
        #expect(bad.status == 2 && bad.stderr.contains("no arm nope"), "\(bad.stderr)")
        // A path that is not an executable is an error naming the suite's line, before anything runs.
        try String(contentsOfFile: suite, encoding: .utf8).replacingOccurrences(
            of: dir + "/crun-b", with: dir + "/missing"
        )
        .write(toFile: suite, atomically: true, encoding: .utf8)
        let missing = try runBoxbench(["run", suite, "-o", dir + "/out2", "--no-history"], dir: dir)
        #expect(missing.status == 2 && missing.stderr.contains("ab.yaml:11: arms[1].path"), "\(missing.stderr)")
    }
}
