import ArgumentParser
import Foundation
import History
import Results
import Stats

/// `--history` on `run` and every `history` command.
struct HistoryOption: ParsableArguments {
    @Option(
        name: .customLong("history"),
        help:
            "History database: a SQLite file or a postgres:// URL (default: $BOXBENCH_HISTORY, else results/history.sqlite)."
    )
    var path: String?

    var resolved: String {
        path ?? ProcessInfo.processInfo.environment["BOXBENCH_HISTORY"] ?? "results/history.sqlite"
    }

    func open() async throws -> any HistoryDatabase {
        let location = resolved
        return try await historyCall { () async throws(HistoryError) in try await HistoryDatabases.open(location) }
    }

    /// Opens the store, runs `body`, and closes the store on every path (a PostgreSQL connection must be closed).
    func with<T>(_ body: (any HistoryDatabase) async throws -> T) async throws -> T {
        let store = try await open()
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every run kept per host: list, trends, change points and a regression gate for CI.",
        subcommands: [
            HistoryImport.self, HistoryList.self, HistoryShow.self, HistoryTrend.self, HistoryReport.self,
            HistoryCheck.self, HistoryDetectorCheck.self,
        ])
}

/// Store errors as the CLI reports them: the user's (exit 2) or the machine's (exit 1).
func historyCall<T>(_ body: () async throws(HistoryError) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        switch error {
        case .badInput(let m): throw CLIError.badInput(m)
        case .database: throw CLIError.failed("\(error)")
        }
    }
}

struct HistoryImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Load results documents (v1 or v2, files or run directories) into the history."
    )
    @OptionGroup var history: HistoryOption
    @Option(help: "The commit or label under test, stored with every imported run.") var label: String?
    @Argument(help: "results.json files or run directories.") var files: [String]

    func run() async throws {
        try await history.with { store in
            // Read everything first: a bad file is exit 2 before anything is written.
            let docs = try files.map { (resultsPath($0), try readResults($0)) }
            for (path, doc) in docs {
                switch try await historyCall({ () async throws(HistoryError) in
                    try await store.append(doc, label: label, source: path)
                }) {
                case .added(let id, let values): print("run \(id): \(path) (\(values) values)")
                case .alreadyStored(let id): print("run \(id): \(path) already stored")
                }
            }
        }
    }
}

struct HistoryList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The stored runs, oldest first.")
    @OptionGroup var history: HistoryOption
    @Option(help: "Only this host (fingerprint or its prefix).") var host: String?
    @Option(help: "Only this suite.") var suite: String?
    @OptionGroup var format: MachineFormatOption

    func run() async throws {
        try await history.with { store in
            let runs = try await historyCall { () async throws(HistoryError) in
                try await store.runs(host: host, suite: suite)
            }
            if try format.wantsJSON() {
                print(try encodeJSON(runs))
                return
            }
            if runs.isEmpty { print("no runs in \(history.resolved)") }
            for r in runs {
                let label = r.label.map { " [\($0)]" } ?? ""
                print(
                    "\(r.id)  \(r.startedAt)  \(r.suite)\(label)  host \(r.hostFingerprint)  \(r.okSamples) ok"
                        + (r.failedSamples > 0 ? ", \(r.failedSamples) failed" : "")
                        + (r.complete ? "" : "  (incomplete)")
                        + "  boxbench \(r.boxbenchVersion)")
            }
        }
    }
}

func encodeJSON<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try ResultsStore.encoder().encode(value), as: UTF8.self)
}

struct HistoryShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One stored run: where it ran and the median of every series.")
    @OptionGroup var history: HistoryOption
    @Argument(help: "Run id (from `history list`).") var id: Int64
    @OptionGroup var format: MachineFormatOption

    struct Row: Encodable {
        var arm: String
        var workload: String
        var metric: String
        var n: Int
        var median: Double
    }

    func run() async throws {
        try await history.with { store in
            guard let r = try await historyCall({ () async throws(HistoryError) in try await store.run(id: id) }) else {
                throw CLIError.badInput("history \(history.resolved): no run \(id) (see `boxbench history list`)")
            }
            var rows: [Row] = []
            for key in try await historyCall({ () async throws(HistoryError) in
                try await store.series(host: r.hostFingerprint, suite: r.suite)
            }) {
                let points = try await historyCall { () async throws(HistoryError) in try await store.points(key) }
                guard let p = points.first(where: { $0.runID == id }) else { continue }
                rows.append(
                    Row(
                        arm: key.arm, workload: key.workload, metric: key.metric, n: p.values.count,
                        median: median(sorted: p.values.sorted())))
            }
            if try format.wantsJSON() {
                struct Shown: Encodable {
                    var run: StoredRun
                    var series: [Row]
                }
                print(try encodeJSON(Shown(run: r, series: rows)))
                return
            }
            print("run \(r.id): suite \(r.suite), started \(r.startedAt)\(r.label.map { ", label \($0)" } ?? "")")
            print("host \(r.hostFingerprint): \(r.host.summary); boxbench \(r.boxbenchVersion) (\(r.boxbenchCommit))")
            print(
                "\(r.okSamples) successful samples, \(r.failedSamples) failed\(r.complete ? "" : "; the run was interrupted")"
            )
            for row in rows {
                print(
                    "  \(row.arm) · \(row.workload) · \(row.metric): median \(String(format: "%.4g", row.median)) (n=\(row.n))"
                )
            }
        }
    }
}

struct HistoryTrend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trend", abstract: "A metric over the stored runs, with intervals and change points.")
    @OptionGroup var history: HistoryOption
    @Argument(help: "Metric name (e.g. startup_first_output_ms).") var metric: String
    @Option(help: "Only this arm.") var arm: String?
    @Option(help: "Only this workload.") var workload: String?
    @Option(help: "Only this host (fingerprint or its prefix).") var host: String?
    @Option(help: "Only this suite.") var suite: String?
    @Option(help: "terminal (default), json, csv or html.") var format: String?
    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.") var output: String?

    func run() async throws {
        let chosen =
            format ?? ((output as NSString?)?.pathExtension.lowercased()).flatMap {
                ["html", "json", "csv"].contains($0) ? $0 : nil
            } ?? "terminal"
        guard ["terminal", "json", "csv", "html"].contains(chosen) else {
            throw CLIError.badInput("--format \(chosen): use terminal, json, csv or html")
        }
        try await history.with { store in
            let keys = try await historyCall { () async throws(HistoryError) in
                try await store.series(metric: metric, arm: arm, workload: workload, host: host, suite: suite)
            }
            if keys.isEmpty {
                throw CLIError.badInput(
                    "history \(history.resolved): no series of metric \(metric)"
                        + [
                            arm.map { " arm \($0)" }, workload.map { " workload \($0)" }, host.map { " host \($0)" },
                            suite.map { " suite \($0)" },
                        ].compactMap { $0 }.joined())
            }
            let trends = try await trendsOf(keys, in: store)
            let text: String
            switch chosen {
            case "json": text = TrendRendering.json(trends)
            case "csv": text = TrendRendering.csv(trends)
            case "html":
                text = TrendRendering.html(
                    trends, title: "boxbench trend: \(metric)", hosts: try await hostTable(store))
            default: text = TrendRendering.terminal(trends)
            }
            try emit(text, to: output)
        }
    }
}

func trendsOf(_ keys: [SeriesKey], in store: any HistoryDatabase) async throws -> [Trend] {
    var trends: [Trend] = []
    for key in keys {
        let points = try await historyCall { () async throws(HistoryError) in try await store.points(key) }
        trends.append(Trend(key: key, points: points))
    }
    return trends
}

func hostTable(_ store: any HistoryDatabase) async throws -> [String: HostKey] {
    var hosts: [String: HostKey] = [:]
    for r in try await historyCall({ () async throws(HistoryError) in try await store.runs() }) {
        hosts[r.hostFingerprint] = r.host
    }
    return hosts
}

func emit(_ text: String, to output: String?) throws {
    guard let output else {
        print(text, terminator: "")
        return
    }
    try writeOutput(text, to: output)
}

struct HistoryReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "An offline HTML page with an SVG trend chart per series.")
    @OptionGroup var history: HistoryOption
    @Option(help: "Only this host (fingerprint or its prefix).") var host: String?
    @Option(help: "Only this suite.") var suite: String?
    @Option(help: "Only these metrics (comma-separated; default: all).") var metrics: String?
    @Option(name: .shortAndLong, help: "The HTML file to write.") var output: String

    func run() async throws {
        try await history.with { store in
            let wanted = metrics.map { Set($0.split(separator: ",").map(String.init)) }
            let keys = try await historyCall { () async throws(HistoryError) in
                try await store.series(host: host, suite: suite)
            }
            .filter { wanted?.contains($0.metric) ?? true }
            let trends = try await trendsOf(keys, in: store)
            try emit(
                TrendRendering.html(trends, title: "boxbench history", hosts: try await hostTable(store)), to: output)
            print("\(output): \(trends.count) series, \(trends.reduce(0) { $0 + $1.changePoints.count }) change points")
        }
    }
}

struct HistoryCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Gate for CI: exit 1 when the newest run holds a confirmed regression, 0 otherwise, 2 on bad input.",
        discussion: """
            Each series the newest run (of the newest host and suite, or --run) took part in is judged: its newest \
            --confirm runs against the runs since the series' last change point (at most 10), by a permutation test \
            of the medians of their samples. A regression is a change beyond --threshold in the worse direction \
            (higher times and bytes, lower throughputs) with p < --alpha in each confirming run. Improvements are \
            reported too.
            """)
    @OptionGroup var history: HistoryOption
    @Option(name: .customLong("run"), help: "The run to judge (default: the newest stored run).") var runID: Int64?
    @Option(help: "Smallest relative change that counts, in percent.") var threshold: Double = 10
    @Option(help: "Permutation-test p-value below which a change is real.") var alpha: Double = 0.01
    @Option(help: "How many newest runs must each show the change.") var confirm: Int = 1
    @Option(help: "Only these metrics (comma-separated; default: all).") var metrics: String?
    @OptionGroup var format: MachineFormatOption

    func run() async throws {
        guard threshold >= 0, threshold < 1000 else { throw CLIError.badInput("--threshold \(threshold): 0…1000 %") }
        guard alpha > 0, alpha < 1 else { throw CLIError.badInput("--alpha \(alpha): between 0 and 1") }
        guard confirm >= 1, confirm <= 100 else { throw CLIError.badInput("--confirm \(confirm): 1…100") }
        let json = try format.wantsJSON()
        try await history.with { store in
            let all = try await historyCall { () async throws(HistoryError) in try await store.runs() }
            guard let target = runID.map({ id in all.first { $0.id == id } }) ?? all.last else {
                if let runID { throw CLIError.badInput("history \(history.resolved): no run \(runID)") }
                throw CLIError.badInput("history \(history.resolved): no runs stored yet")
            }
            // The confirming runs: the target and the runs just before it of the same host and suite.
            let sameSeries = all.filter { $0.hostFingerprint == target.hostFingerprint && $0.suite == target.suite }
            let upTo = sameSeries.prefix { $0.id != target.id } + [target]
            let newest = Set(upTo.suffix(confirm).map(\.id))
            let judgedRuns = Set(upTo.map(\.id))
            let wanted = metrics.map { Set($0.split(separator: ",").map(String.init)) }
            let options = GateOptions(threshold: threshold / 100, alpha: alpha, confirm: confirm)
            var findings: [GateFinding] = []
            for key in try await historyCall({ () async throws(HistoryError) in
                try await store.series(host: target.hostFingerprint, suite: target.suite)
            }) where wanted?.contains(key.metric) ?? true {
                let raw = try await historyCall { () async throws(HistoryError) in try await store.points(key) }
                    .filter { judgedRuns.contains($0.runID) }
                if let f = Gate.evaluate(key, raw: raw, newestRunIDs: newest, options: options) {
                    findings.append(f)
                }
            }
            let regressions = findings.filter { $0.verdict == .regression }
            if json {
                print(try encodeJSON(findings))
            } else {
                let judged = findings.filter { $0.verdict != .noBaseline }
                print(
                    "run \(target.id) (\(target.suite), host \(target.hostFingerprint)): \(judged.count) series judged "
                        + "against their baseline, threshold \(threshold) %, p < \(alpha), \(confirm) confirming run(s)"
                )
                if judged.isEmpty { print("  no earlier runs of this suite on this host: nothing to compare") }
                for f in findings where f.verdict == .regression || f.verdict == .improvement {
                    let change = f.relativeChanges.map { String(format: "%+.1f%%", $0 * 100) }.joined(separator: ", ")
                    print(
                        "  \(f.verdict == .regression ? "REGRESSION" : "improvement") \(f.key.arm) · \(f.key.workload) · "
                            + "\(f.key.metric): \(change) vs median \(String(format: "%.4g", f.baselineMedian ?? 0)) of "
                            + "runs \(f.baselineRuns.map(String.init).joined(separator: ",")) (p ≤ \(f.pValue.map { String(format: "%.2g", $0) } ?? "?"))"
                    )
                }
                let underpowered = judged.filter(\.underpowered).count
                if underpowered > 0 {
                    print(
                        "  warning: \(underpowered) series have too few samples to ever reach p < \(alpha) "
                            + "(raise the suite's repetitions or --confirm): they cannot fail this gate")
                }
                print(regressions.isEmpty ? "no confirmed regression" : "\(regressions.count) confirmed regression(s)")
            }
            if !regressions.isEmpty { throw ExitCode(1) }
        }
    }
}

struct HistoryDetectorCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detector-check",
        abstract: "Measure the change-point detector on synthetic series with known steps (precision and recall).")
    @Option(help: "Number of synthetic series.") var series: Int = 300
    @Option(help: "Seed of the synthetic set.") var seed: UInt64 = 20_261_202
    @Option(help: "Step sizes in percent of the level, as LOW-HIGH.") var steps: String = "8-40"
    @Option(help: "Noise (coefficient of variation) in percent, as LOW-HIGH.") var noise: String = "1-4"

    func range(_ text: String, _ name: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: "-").compactMap { Double($0) }
        guard parts.count == 2, parts[0] >= 0, parts[0] <= parts[1], parts[1] <= 500 else {
            throw CLIError.badInput("--\(name) \(text): expected LOW-HIGH in percent, e.g. 8-40")
        }
        return (parts[0] / 100)...(parts[1] / 100)
    }

    func run() async throws {
        guard series >= 1, series <= 100_000 else { throw CLIError.badInput("--series \(series): 1…100000") }
        let e = DetectorEvaluation.run(
            series: series, seed: seed, steps: try range(steps, "steps"), noise: try range(noise, "noise"))
        print(e.description)
        print(
            "true steps \(e.trueSteps), reported \(e.reported), correct \(e.truePositives): precision "
                + String(format: "%.3f", e.precision) + ", recall " + String(format: "%.3f", e.recall))
    }
}
