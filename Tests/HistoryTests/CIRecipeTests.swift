import Foundation
import Testing

@testable import History

/// docs/examples/boxbench-ci.sh as written, twice (two commits), with a small suite: every command in the CI recipe
/// runs for real and leaves what the recipe promises. Needs root (the suite's container arm).
@Suite(.serialized, .enabled(if: getuid() == 0, "the recipe's suite runs a container arm: needs root"))
struct CIRecipeTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func theRecipeRunsRecordsGatesAndExports() throws {
        let dir = (temporaryPath("x") as NSString).deletingLastPathComponent
        let suite = dir + "/ci.yaml"
        try """
        name: ci
        repetitions: 6
        warmups: 1
        arms:
          - kind: native
          - kind: container
        workloads:
          - name: hello
            dockerfile: \(Self.repo)/Benchmarks/workloads/hello/Dockerfile
        """.write(toFile: suite, atomically: true, encoding: .utf8)
        for label in ["c1", "c2"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = [Self.repo + "/docs/examples/boxbench-ci.sh"]
            p.currentDirectoryURL = URL(fileURLWithPath: Self.repo)
            p.environment = ProcessInfo.processInfo.environment.merging([
                "BOXBENCH": boxbench, "SUITE": suite, "BOXBENCH_HISTORY": dir + "/history.sqlite", "LABEL": label,
                "OUT": "\(dir)/ci/\(label)",
            ]) { $1 }
            let log = dir + "/\(label).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: log)
            p.standardError = FileHandle(forWritingAtPath: log)
            try p.run()
            p.waitUntilExit()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            // 0: no regression; 1 would be a confirmed regression between two runs of the same code (a false alarm).
            #expect(p.terminationStatus == 0, "\(label): exit \(p.terminationStatus)\n\(text)")
            let out = "\(dir)/ci/\(label)"
            for file in [
                "results.json", "report.md", "github-benchmark.json", "history.html", "trend.csv", "gate.json",
            ] {
                #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(label): no \(file)\n\(text)")
            }
            #expect(FileManager.default.fileExists(atPath: "\(dir)/ci/doctor-\(label).json"))
            let bench = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(out)/github-benchmark.json")))
            #expect((bench as? [[String: Any]])?.isEmpty == false, "github-action-benchmark entries")
        }
        let store = try HistoryStore(path: dir + "/history.sqlite")
        #expect(try store.runsNow().map(\.label) == ["c1", "c2"])
        let gate = try JSONDecoder().decode(
            [GateFinding].self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/ci/c2/gate.json")))
        #expect(gate.contains { $0.verdict != .noBaseline }, "the second run was judged against the first")
    }

    @Test func theWorkflowsCallTheRecipe() throws {
        for file in ["github-actions.yml", "gitlab-ci.yml"] {
            let text = try String(contentsOfFile: Self.repo + "/docs/examples/" + file, encoding: .utf8)
            #expect(text.contains("bash docs/examples/boxbench-ci.sh"), "\(file)")
            #expect(text.contains("scripts/setup") && text.contains("swift build -c release"), "\(file)")
        }
    }
}
