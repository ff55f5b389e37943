import Foundation
import Results

public enum ReportFormat: String, CaseIterable, Sendable {
    case terminal, markdown, html, csv, json
    /// github-action-benchmark's `customSmallerIsBetter` entries (one per workload × arm × metric median).
    case githubBenchmark = "github-benchmark"
}

/// Renders one results document in one format. Statistics are seeded from the document's seed,
/// so the same document always renders the same text.
public func renderReport(_ doc: ResultsDocument, format: ReportFormat) -> String {
    if format == .csv { return CSVExport.render(doc) }
    return renderReport(ReportAnalysis(doc), format: format)
}

/// Renders an analysis already computed (several formats from one analysis cost one analysis).
public func renderReport(_ analysis: ReportAnalysis, format: ReportFormat) -> String {
    switch format {
    case .terminal: TerminalReport.render(analysis)
    case .markdown: MarkdownReport.render(analysis)
    case .html: HTMLReport.render(analysis)
    case .csv: CSVExport.render(analysis.document)
    case .json: JSONSummary(analysis).render()
    case .githubBenchmark: githubActionBenchmarkJSON(analysis)
    }
}

/// What `boxbench run` prints by default, about a screen: the run in two lines, the setup caveats once, the claims
/// table (one row per claim, and per pair of arms where several were compared) and the failures, if any. The full
/// report is in the files (and on stdout with `--verbose`).
public func renderRunSummary(_ analysis: ReportAnalysis) -> String {
    var out = analysis.headerLines.prefix(1).joined() + "\n"
    out +=
        "arms: " + analysis.arms.map(analysis.armLabel).joined(separator: ", ")
        + "; samples: \(analysis.document.samples.count), failed: \(analysis.failedSampleCount)\n"
    let caveats = analysis.setupCaveats
    if !caveats.isEmpty {
        out += "\nSetup caveats\n" + caveats.map { "  ! \($0.text)" }.joined(separator: "\n") + "\n"
    }
    out += "\nClaims (rules, evidence and published context: see the report)\n"
    out += analysis.claimsSummaryTable.plain(indent: "  ")
    for line in analysis.notMeasuredLines { out += "  \(line)\n" }
    if let failures = analysis.failuresTable {
        out += "\nFailures\n" + failures.plain(indent: "  ")
    }
    return out
}
