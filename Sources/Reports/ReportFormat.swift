import Foundation
import Results

public enum ReportFormat: String, CaseIterable, Sendable {
    case terminal, markdown, html, csv, json
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
    }
}

/// The claims section alone, as terminal text (what `boxbench run` prints at the end).
public func renderClaimsTable(_ doc: ResultsDocument) -> String {
    let analysis = ReportAnalysis(doc)
    var out = ""
    let caveats = analysis.setupCaveats
    if !caveats.isEmpty {
        out += "Setup caveats\n" + caveats.map { "  ! \($0.text)" }.joined(separator: "\n") + "\n\n"
    }
    return out + TerminalReport.claimsText(analysis)
}
