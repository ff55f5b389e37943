import Containers
import Foundation
import Results

/// The harness's own overhead, measured: the native arm's `hello` timed by the runner vs `hyperfine -N` on the
/// same binary in the same run. The two medians should agree within 10 %.
public enum Calibrator {
    public static func run(images: WorkloadImages, suite: Suite, runs: Int = 30) -> Calibration? {
        guard access("/usr/bin/hyperfine", X_OK) == 0,
            let hello = suite.workloads.first(where: { $0.name == "hello" })
                ?? (try? Suite.parse(
                    "arms: [{kind: native}]\nworkloads: [{name: hello}]\n", path: suite.sourcePath))?.workloads.first,
            let image = try? images.prepare(hello), let program = image.argv.first
        else { return nil }
        let native = NativeEngine(
            arm: ArmSpec(
                name: "native", kind: .native, engine: .boxbench, accel: "auto", memoryMiB: 0, vcpus: 0, machine: "",
                rootfsMode: ""))
        var harness: [Double] = []
        for i in 0..<(runs + 3) {
            let r = native.run(
                image, workload: hello, limits: RunLimits(), timeout: .seconds(30), runIndex: 800_000 + i)
            if i >= 3, let v = r.metrics[Metric.startupExitMs.name] { harness.append(v) }
        }
        let json = NSTemporaryDirectory() + "boxbench-calibrate-\(getpid()).json"
        defer { unlink(json) }
        let command = ([image.rootfs + program] + image.argv.dropFirst()).joined(separator: " ")
        guard
            let r = try? HostProcess.run(
                HostProcessRequest(
                    path: "/usr/bin/hyperfine",
                    args: ["hyperfine", "-N", "-w", "3", "-r", "\(runs)", "--export-json", json, command],
                    env: ["PATH=/usr/bin:/bin"], timeout: .seconds(300))),
            r.exit == .exited(0), let data = FileManager.default.contents(atPath: json),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let results = obj["results"] as? [[String: Any]], let median = results.first?["median"] as? Double,
            !harness.isEmpty
        else { return nil }
        harness.sort()
        return Calibration(harnessMedianMs: harness[harness.count / 2], hyperfineMedianMs: median * 1000)
    }
}
