import ArgumentParser
import Containers
import Foundation
import History
import Images
import Machines
import Networks
import Probes
import Reports
import Results
import Suites

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a suite (default: the embedded default suite) in every arm; write results and reports.")

    @Argument(help: "Suite YAML file (default: Benchmarks/default.yaml).") var suite: String?
    @Option(help: "Override the suite's repetitions.") var repetitions: Int?
    @Option(help: "Comma-separated subset of the suite's arms.") var arms: String?
    @Option(help: "Comma-separated subset of the suite's workloads.") var workloads: String?
    @Option(
        name: [.short, .long],
        help:
            "Directory for the results and reports (default: results/runs/<suite>-<time>); never replaced unless --force."
    ) var output: String?
    @Flag(help: "Replace the results and reports already in --output.") var force = false
    @Flag(name: [.short, .long], help: "Print the full report on stdout, not only the claims and failures.")
    var verbose = false
    @Option(help: "Seed for the run order (default: the suite's, else random; always recorded).") var seed: UInt64?
    @Option(name: .customLong("vm-uri"), help: "libvirt URI for VM arms (default: the embedded driver).") var vmURI:
        String?
    @Flag(help: "No progress line.") var quiet = false
    @Flag(help: "Also check the harness's own overhead: native hello vs hyperfine -N on the same binary.")
    var calibrate = false
    @OptionGroup var history: HistoryOption
    @Flag(name: .customLong("no-history"), help: "Do not append this run to the history database.")
    var noHistory = false
    @Option(help: "The commit or label under test, stored with the run in the history (e.g. $GITHUB_SHA).")
    var label: String?

    func run() throws {
        let paths = BoxbenchPaths()
        installCancellationHandlers(
            extra: { VMRunner.cancelAll() },
            sweep: {
                // What the main thread had in flight (image preparation, native scratch, bundles): its names carry
                // this pid, so the janitor, told only this pid is gone, finds exactly those.
                let me = getpid()
                // Twice: what the main thread had in flight at the first pass (a run directory it was still
                // unmounting or removing) is settled by the second.
                _ = Janitor(paths: paths, isAlive: { $0 != me }).clean()
                usleep(50_000)
                _ = Janitor(paths: paths, isAlive: { $0 != me }).clean()
                ImageStore.removeTemporaries(
                    root: paths.imageStore, layerCache: paths.layerCache, rootfsCache: paths.state + "/rootfs", pid: me)
            })
        let path = suite ?? Self.defaultSuitePath()
        var parsed: Suite
        do {
            parsed = try Suite.load(path: path)
            parsed = try parsed.selecting(
                arms: arms.map { $0.split(separator: ",").map(String.init) },
                workloads: workloads.map { $0.split(separator: ",").map(String.init) }, repetitions: repetitions)
        } catch {
            throw CLIError.badInput("\(error)")
        }
        // An arm's engine must be on this host: said before anything runs, not as a failed sample per run.
        if let missing = parsed.missingPrograms().first {
            throw CLIError.badInput(
                "\(path): arm \(missing.arm) runs \(missing.path), which is not installed or not executable "
                    + "(scripts/setup installs the peers)")
        }
        // A network workload needs the CNI plugins: said before anything runs, not as a failed sample per run.
        if parsed.workloads.contains(where: \.usesNetwork), !CNI.missingPlugins().isEmpty {
            throw CLIError.badInput(
                "\(path): network workloads need the CNI plugins \(CNI.missingPlugins().joined(separator: ", ")) in "
                    + "\(CNI.pluginDirectory) (scripts/setup installs containernetworking-plugins)")
        }
        if let w = parsed.workloads.first(where: { $0.client?.first == "iperf3" }), access("/usr/bin/iperf3", X_OK) != 0
        {
            throw CLIError.badInput(
                "\(path): workload \(w.name) runs Debian's iperf3 as its client: /usr/bin/iperf3 is missing "
                    + "(scripts/setup installs it)")
        }
        // A service's load client is a host program: missing, it is exit 2 before any run.
        for w in parsed.workloads {
            guard let program = w.service?.load.first, let binary = ServiceSpec.loadPrograms[program],
                access(binary, X_OK) != 0
            else { continue }
            throw CLIError.badInput(
                "\(path): workload \(w.name) loads its service with Debian's \(program): \(binary) is missing "
                    + "(scripts/setup installs it)")
        }
        // Leftovers of earlier runs that died without tearing down (kill -9): removed, and said so.
        for item in Janitor().clean() { FileHandle.standardError.write(Data("cleaned: \(item)\n".utf8)) }
        // A second pass before this run ends: what was still busy at the start (a killed run's QEMU exiting keeps
        // libvirt's machine groups busy) is gone by the time a CI job checks after this run.
        defer { for item in Janitor().clean() { FileHandle.standardError.write(Data("cleaned: \(item)\n".utf8)) } }
        for path in ImageStore.removeTemporariesOfDeadProcesses(
            root: paths.imageStore, layerCache: paths.layerCache, rootfsCache: paths.state + "/rootfs")
        {
            FileHandle.standardError.write(Data("cleaned: image temp \(path) (its build was killed)\n".utf8))
        }
        // Opened before the run: a bad history path is exit 2 now, not after an hour of measuring.
        let historyStore = noHistory ? nil : try blockingAwait { try await history.open() }
        defer { if let historyStore { blockingAwait { await historyStore.close() } } }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let outDir = output ?? "results/runs/\(parsed.name)-\(stamp)"
        // A results document is a measurement: never replaced by accident.
        if !force, FileManager.default.fileExists(atPath: outDir + "/results.json") {
            throw CLIError.badInput(
                "--output \(outDir) already holds results.json: choose another directory or add --force to replace it")
        }
        do { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) } catch {
            throw CLIError.badInput("--output \(outDir): \(error.localizedDescription)")
        }
        let resultsPath = outDir + "/results.json"
        let progress = TerminalProgress(quiet: quiet)
        let images = WorkloadImages(progress: { progress.update($0, final: false) })

        var engines: [any Engine] = []
        var notes: [String] = []
        for arm in parsed.arms {
            if arm.kind == .vm { progress.update("probing accel for \(arm.name)…", final: false) }
            let engine = arm.makeEngine(vmURI: vmURI)
            if let vm = engine as? VMEngine, let reason = vm.accelReason { notes.append(reason) }
            engines.append(engine)
        }
        let runner = SuiteRunner(
            suite: parsed, engines: engines,
            images: { [parsed] in try images.prepare($0, fullOS: parsed.needsFullOSImage(for: $0.name)) },
            resultsPath: resultsPath, seed: seed,
            progress: progress, tool: ToolInfo(version: BoxbenchVersion.string, commit: BoxbenchVersion.commit))
        var doc = runner.run(notes: notes, layerSharing: { images.layerSharing(for: $0, workload: $1) })
        if calibrate {
            if let c = Calibrator.run(images: images, suite: parsed) {
                doc.calibration = c
                try? ResultsStore.write(doc, to: resultsPath)
            } else {
                doc.notes.append(
                    "calibration skipped: hyperfine or the hello workload is not available, or one of its runs failed")
            }
        }
        // One analysis for every output.
        let analysis = ReportAnalysis(doc)
        for format in [ReportFormat.markdown, .html] {
            let file = "\(outDir)/report.\(format == .markdown ? "md" : "html")"
            try? ResultsStore.writeAtomically(Data(renderReport(analysis, format: format).utf8), to: file)
        }
        print(verbose ? renderReport(analysis, format: .terminal) : renderRunSummary(analysis))
        print("results: \(resultsPath)")
        print("reports: \(outDir)/report.md, \(outDir)/report.html")
        if let historyStore {
            let finished = doc
            switch try blockingAwait({
                try await historyCall { () async throws(HistoryError) in
                    try await historyStore.append(finished, label: label, source: resultsPath)
                }
            }) {
            case .added(let id, _), .alreadyStored(let id): print("history: run \(id) in \(historyStore.location)")
            }
        }
        let failed = doc.samples.filter { $0.status != .ok }.count
        if failed > 0 {
            print("note: \(failed) of \(doc.samples.count) runs did not succeed (see the report's failures)")
        }
        // An arm × workload without a single successful sample has no figure at all: CI must notice (exit 1).
        let succeeded = Set(doc.samples.filter { $0.status == .ok }.map { "\($0.arm)\u{0}\($0.workload)" })
        // The planned pairs only: an arm's `workloads:` list leaves the others out on purpose.
        let empty = parsed.arms.flatMap { arm in
            parsed.workloads.filter { arm.runs($0.name) }.map { (arm.name, $0.name) }
        }
        .filter { !succeeded.contains("\($0.0)\u{0}\($0.1)") }
        if !empty.isEmpty {
            let list = empty.map { "\($0.0) × \($0.1)" }.joined(separator: ", ")
            FileHandle.standardError.write(Data("boxbench run: no successful sample for \(list)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The suite shipped next to the binary's source tree, found from the working directory or the executable.
    static func defaultSuitePath() -> String {
        let candidates = [
            "Benchmarks/default.yaml",
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("../../../Benchmarks/default.yaml").standardized.path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }
}
