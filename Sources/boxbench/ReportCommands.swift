import ArgumentParser
import Foundation
import Reports
import Results

/// Problems with the user's input: printed plainly, exit status 2.
private func failInput(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("boxbench: \(message)\n".utf8))
    return ExitCode(2)
}

/// A run directory stands for the results document in it.
func resultsPath(_ given: String) -> String {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: given, isDirectory: &isDirectory) && isDirectory.boolValue
        ? given + "/results.json" : given
}

/// The results document at `given` (a file or a run directory); unreadable input is exit 2 naming the path.
func readResults(_ given: String) throws -> ResultsDocument {
    let path = resultsPath(given)
    do {
        return try ResultsStore.read(path)
    } catch let error as ResultsError {
        throw failInput(error.description)
    } catch {
        throw failInput("read results \(path): \(error)")
    }
}

/// Temp file + rename: a failed run never leaves half a report behind.
func writeOutput(_ text: String, to path: String) throws {
    do {
        try ResultsStore.writeAtomically(text, to: path)
    } catch let error as ResultsError {
        throw failInput(error.description)
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a results file: per-arm medians with intervals, ratios, and claim verdicts.")

    @Argument(help: "Results JSON written by `boxbench run`, or the run's directory.")
    var results: String

    @Option(
        help:
            "Output format: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default: from -o's extension, else terminal)."
    )
    var format: String?

    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
    var output: String?

    /// --format, else the output file's extension (.html, .md, .csv, .json), else terminal.
    var chosenFormat: String {
        if let format { return format }
        switch (output as NSString?)?.pathExtension.lowercased() {
        case "html", "htm": return ReportFormat.html.rawValue
        case "md", "markdown": return ReportFormat.markdown.rawValue
        case "csv": return ReportFormat.csv.rawValue
        case "json": return ReportFormat.json.rawValue
        default: return ReportFormat.terminal.rawValue
        }
    }

    func run() throws {
        let format = chosenFormat
        guard let format = ReportFormat(rawValue: format.lowercased()) else {
            throw failInput(
                "unknown report format \"\(format)\"; use one of \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        // SIGINT/SIGTERM while the output is written: the handler waits for the rename, so FILE is the old or the
        // complete new one and no temp file stays.
        installCancellationHandlers()
        let document = try readResults(results)
        let text = renderReport(document, format: format)
        if let output {
            try writeOutput(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract:
            "Compare a new results file against a baseline, or two arms of one run (A/B); exit 1 on a significant regression.",
        discussion: """
            Two files: matches workload × arm × metric; a regression is a change of the median in the worse \
            direction beyond --threshold with Mann–Whitney p < 0.05. One file with --arm A --arm B (two builds run \
            as two arms of one interleaved suite, e.g. `path:`): B against A per workload × metric, by a \
            permutation test of the medians, p < 0.01. Exit status: 0 no regression, 1 regression, 2 incompatible \
            or unreadable inputs (different schema or host class, unknown arm).
            """)

    @Argument(help: "Baseline results JSON (or the only results file, with --arm A --arm B).")
    var baseline: String

    @Argument(help: "New results JSON.")
    var new: String?

    @Option(name: .customLong("arm"), help: "With one results file: the baseline arm, then the candidate arm.")
    var arms: [String] = []

    @Option(help: "Smallest relative change that counts: \"10%\" or \"0.10\".")
    var threshold: String = "10%"

    @Option(name: .customLong("metric"), help: "Compare only this metric (repeatable).")
    var metrics: [String] = []

    @Option(help: "Output format: markdown (for a CI job summary), terminal or json.")
    var format: String = "markdown"

    @Flag(help: "Exit 2 when a comparison cannot reach significance with its sample counts (a gate that cannot fail).")
    var strict = false

    @Option(
        name: .customLong("github-json"),
        help: "Also write the new run as github-action-benchmark customSmallerIsBetter JSON to FILE.")
    var githubJSON: String?

    /// "10%" → 0.10; "0.1" → 0.1. A bare number above 1 is ambiguous and refused.
    static func parseThreshold(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast()), percent >= 0 else { return nil }
            return percent / 100
        }
        guard let fraction = Double(trimmed), fraction >= 0, fraction <= 1 else { return nil }
        return fraction
    }

    func run() throws {
        guard let threshold = Self.parseThreshold(threshold) else {
            throw failInput("threshold \"\(threshold)\" is not a percentage like 10% or a fraction like 0.10")
        }
        guard ["markdown", "terminal", "json"].contains(format) else {
            throw failInput("unknown compare format \"\(format)\"; use markdown, terminal or json")
        }
        installCancellationHandlers()
        let baselineDocument = try readResults(baseline)
        let newDocument: ResultsDocument
        let outcome: CompareOutcome
        switch (new, arms.count) {
        case (nil, 2):
            newDocument = baselineDocument
            do {
                outcome = try compareArms(
                    baselineDocument, baseline: arms[0], candidate: arms[1],
                    options: CompareOptions(
                        threshold: threshold, metrics: metrics.isEmpty ? nil : metrics, significance: 0.01,
                        test: .permutation))
            } catch let error as CompareError {
                throw failInput("\(baseline): \(error.description)")
            }
        case (let new?, 0):
            newDocument = try readResults(new)
            do {
                outcome = try compareResults(
                    baseline: baselineDocument, new: newDocument,
                    options: CompareOptions(threshold: threshold, metrics: metrics.isEmpty ? nil : metrics))
            } catch let error as CompareError {
                throw failInput("\(baseline) vs \(new): \(error.description)")
            }
        default:
            throw failInput("compare takes BASELINE NEW, or one results file with --arm A --arm B (exactly two)")
        }
        if let githubJSON {
            try writeOutput(githubActionBenchmarkJSON(newDocument), to: githubJSON)
        }
        print(
            format == "terminal" ? outcome.terminal : format == "json" ? outcome.json : outcome.markdown, terminator: ""
        )
        if strict && !outcome.underpowered.isEmpty {
            throw failInput(
                "--strict: \(outcome.underpowered.count) of the comparisons can never be significant with their sample counts"
            )
        }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }
}
