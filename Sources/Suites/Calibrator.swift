import Containers
import Foundation
import Probes
import Results
import Stats

/// The harness's own overhead, measured: the native arm's `hello` timed by the runner vs `hyperfine -N` on the
/// same binary in the same run. The two medians should agree within 10 %.
///
/// The two sides are interleaved so that drift on a shared host (other work, frequency, page cache) lands on
/// both: `rounds` rounds, each a block of `runsPerBlock` harness runs and one `hyperfine -r runsPerBlock`
/// invocation, the order alternating from round to round (harness first in even rounds). Each block starts with
/// one unrecorded warm-up run on its side (hyperfine's `-w 1`). The ratio judged is the median of the rounds'
/// own ratios (harness median ÷ hyperfine median of the same round: a paired comparison, so load that changes
/// between rounds cancels); both overall medians and their plain ratio are stored next to it.
public enum Calibrator {
    public static let tolerance = 0.10

    public static func run(images: WorkloadImages, suite: Suite, rounds: Int = 50, runsPerBlock: Int = 3)
        -> Calibration?
    {
        guard access("/usr/bin/hyperfine", X_OK) == 0,
            let hello = suite.workloads.first(where: { $0.name == "hello" })
                ?? (try? Suite.parse(
                    "arms: [{kind: native}]\nworkloads: [{name: hello}]\n", path: suite.sourcePath))?.workloads.first,
            let image = try? images.prepare(hello), let program = image.argv.first
        else { return nil }
        let native = NativeEngine(
            arm: ArmSpec(name: "native", config: .native))
        let json = NSTemporaryDirectory() + OwnedName.calibrate.name() + ".json"
        defer { unlink(json) }
        let command = ([image.rootfs + program] + image.argv.dropFirst()).joined(separator: " ")
        var harness: [Double] = []
        var hyperfine: [Double] = []
        var roundRatios: [Double] = []
        var runIndex = 800_000

        func harnessBlock() -> Bool {
            for i in 0...runsPerBlock {
                runIndex += 1
                let r = native.run(
                    image, workload: hello, limits: RunLimits(), timeout: .seconds(30), runIndex: runIndex)
                guard r.status == .ok, let v = r.measurements.exitMs else { return false }
                if i > 0 { harness.append(v) }
            }
            return true
        }
        func hyperfineBlock() -> Bool {
            guard
                let r = try? HostProcess.run(
                    HostProcessRequest(
                        path: "/usr/bin/hyperfine",
                        args: [
                            "hyperfine", "-N", "--style", "none", "-w", "1", "-r", "\(runsPerBlock)", "--export-json",
                            json, command,
                        ],
                        env: ["PATH=/usr/bin:/bin"], timeout: .seconds(300))),
                r.exit == .exited(0), let data = FileManager.default.contents(atPath: json),
                let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let results = obj["results"] as? [[String: Any]], let times = results.first?["times"] as? [Double],
                times.count == runsPerBlock
            else { return false }
            hyperfine += times.map { $0 * 1000 }
            return true
        }

        for round in 0..<rounds {
            let ok = round % 2 == 0 ? harnessBlock() && hyperfineBlock() : hyperfineBlock() && harnessBlock()
            guard ok else { return nil }
            let h = harness.suffix(runsPerBlock).sorted()
            let f = hyperfine.suffix(runsPerBlock).sorted()
            roundRatios.append(median(sorted: h) / median(sorted: f))
        }
        harness.sort()
        hyperfine.sort()
        return Calibration(
            harnessMedianMs: median(sorted: harness), hyperfineMedianMs: median(sorted: hyperfine),
            tolerance: tolerance, rounds: rounds, runsPerSide: harness.count, roundRatios: roundRatios)
    }
}
