import Foundation
import Machines
import Probes
import Results

@testable import Suites

/// Parses `yaml` as the suite file `path` (relative paths resolve against its directory) and runs it with every
/// arm's real engine — VMs on the embedded libvirt root this test process uses (one driver per process) — writing
/// results into a temporary directory that is removed afterwards.
func runTestSuite(_ yaml: String, path: String, seed: UInt64) throws -> ResultsDocument {
    let suite = try Suite.parse(yaml, path: path)
    let dir = NSTemporaryDirectory() + "boxbench-suite-\(suite.name)-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let images = WorkloadImages()
    let engines: [any Engine] = suite.arms.map {
        $0.makeEngine(vmURI: LibvirtConnection.embedURI(root: BoxbenchPaths().libvirtTestEmbedRoot))
    }
    let runner = SuiteRunner(
        suite: suite, engines: engines,
        images: { try images.prepare($0, fullOS: suite.needsFullOSImage(for: $0.name)) },
        resultsPath: dir + "/results.json", seed: seed, progress: SilentProgress(),
        tool: ToolInfo(version: "test", commit: "test"))
    return runner.run()
}
