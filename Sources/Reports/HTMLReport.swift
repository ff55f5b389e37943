import Foundation
import Results
import Stats

/// One self-contained HTML page: inline CSS and SVG, no scripts, no network.
enum HTMLReport {
    static let style = """
        body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111827;background:#fff}
        h1{font-size:24px}h2{margin-top:32px;border-bottom:1px solid #e5e7eb}h3{margin-top:20px}
        table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left}
        th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .caveat{background:#fef3c7;border-left:4px solid #d97706;padding:4px 10px;margin:4px 0}
        .holds{color:#15803d;font-weight:bold}.does-not-hold{color:#b91c1c;font-weight:bold}.inconclusive{color:#a16207;font-weight:bold}
        .context{color:#4b5563;font-style:italic}figure{margin:16px 0}ul{margin:4px 0}
        """

    static func render(_ analysis: ReportAnalysis) -> String {
        let doc = analysis.document
        let claims = analysis.claims
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        out += "<title>boxbench report: \(HTMLText.escape(doc.suite))</title><style>\(style)</style></head><body>\n"
        out += "<h1>boxbench report: \(HTMLText.escape(doc.suite))</h1>\n<ul>"
        out += analysis.headerLines.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>\n"
        let caveats = analysis.setupCaveats
        if !caveats.isEmpty {
            out +=
                "<h2>Setup caveats</h2>\n"
                + caveats.map { "<div class=\"caveat\">\(HTMLText.escape($0.text))</div>" }.joined() + "\n"
        }

        out +=
            "<h2>Claims</h2>\n<p>Verdicts follow the rule stated with each claim. Reference figures are published context, not measured here.</p>\n"
        out +=
            "<table><thead><tr><th>claim</th><th>verdict</th><th>measured (95% CI)</th><th>metric</th></tr></thead><tbody>"
        for claim in claims {
            out +=
                "<tr><td>\(claim.id)</td><td class=\"\(cssClass(claim.verdict))\">\(HTMLText.escape(claim.verdictText))</td>"
            out += "<td>\(HTMLText.escape(claim.measured))</td><td>\(HTMLText.escape(claim.metric))</td></tr>"
        }
        out += "</tbody></table>\n"
        for claim in claims {
            out += "<h3>\(claim.id): \(HTMLText.escape(claim.claim))</h3><ul>"
            out +=
                "<li>Verdict: <span class=\"\(cssClass(claim.verdict))\">\(HTMLText.escape(claim.verdictText))</span>"
            out += claim.notMeasured ? "" : " — \(HTMLText.escape(claim.reason))"
            out += "</li><li>Measured: \(HTMLText.escape(claim.measured)) — \(HTMLText.escape(claim.metric))</li>"
            out += "<li>Rule: \(HTMLText.escape(claim.rule))</li>"
            out += claim.caveats.map { "<li class=\"caveat\">Caveat: \(HTMLText.escape($0))</li>" }.joined()
            out += claim.evidence.map { "<li>\(HTMLText.escape($0))</li>" }.joined()
            out += claim.references.map {
                "<li class=\"context\">Context (published, not measured here): \(HTMLText.escape($0))</li>"
            }.joined()
            out += "</ul>\n"
        }

        out += "<h2>Charts</h2>\n"
        out +=
            ladderCharts(analysis) + startupCharts(analysis) + phaseChart(analysis) + memoryCharts(analysis)
            + serviceCharts(analysis)
            + imageChart(analysis) + densityChart(analysis)

        out += "<h2>Results per workload</h2>\n"
        for workload in analysis.workloads {
            out +=
                "<h3>\(HTMLText.escape(workload))</h3><p>\(HTMLText.escape(analysis.workloadRunsLine(workload)))</p>\n"
            out += analysis.statsTable(workload).html()
            if let ratios = analysis.ratioTable(workload) { out += "<p>Ratios of medians [95% CI]</p>" + ratios.html() }
        }
        if let phases = analysis.phaseTable { out += "<h2>VM boot phases</h2>\n" + phases.html() }
        if let images = analysis.imageTable { out += "<h2>Image sizes</h2>\n" + images.html() }
        if let density = analysis.densityTable { out += "<h2>Density</h2>\n" + density.html() }
        if let failures = analysis.failuresTable {
            out += "<h2>Failures (excluded from statistics)</h2>\n" + failures.html()
        }
        if !doc.notes.isEmpty {
            out += "<h2>Notes</h2><ul>" + doc.notes.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>\n"
        }
        return out + "</body></html>\n"
    }

    static func cssClass(_ verdict: Verdict) -> String {
        switch verdict {
        case .holds: "holds"
        case .doesNotHold: "does-not-hold"
        case .inconclusive: "inconclusive"
        }
    }

    static func figure(_ svg: String) -> String { "<figure>\(svg)</figure>\n" }

    static func startupCharts(_ analysis: ReportAnalysis) -> String {
        var out = ""
        for workload in analysis.workloads {
            for metric in [Metric.startupExitMs, Metric.startupFirstOutputMs] {
                let groups = analysis.arms.compactMap { arm -> (String, String, [Double])? in
                    guard let stats = analysis.stats(workload: workload, armKey: arm, metric: metric.name) else {
                        return nil
                    }
                    return (analysis.armLabel(arm), arm, stats.sortedValues)
                }
                guard !groups.isEmpty else { continue }
                out += figure(
                    SVGChart.distributions(
                        title: "\(workload): startup \(metric.title) per arm", unit: metric.unit,
                        groups: groups.map { (label: $0.0, armKey: $0.1, values: $0.2) }))
                break  // one startup chart per workload: launch → exit when recorded
            }
        }
        return out
    }

    /// The ladder (issue 21): every arm of one workload, sorted, from a bare process to a full VM — launch → first
    /// output, then host memory per instance — each median with its 95% interval. The workload is the one most arms
    /// ran (`hello` on ties), so every engine stands on one rung.
    static func ladderCharts(_ analysis: ReportAnalysis) -> String {
        guard let workload = analysis.ladderWorkload else { return "" }
        var out = ""
        for metrics in [[Metric.startupFirstOutputMs], [.memoryPeakBytes, .pssPeakBytes]] {
            let rungs = analysis.ladder(workload: workload, metrics: metrics)
            guard rungs.count >= 2 else { continue }
            let bars = rungs.map { rung in
                (
                    label: "\(analysis.armLabel(rung.arm)) · \(analysis.engineLabel(rung.arm))",
                    segments: [
                        (
                            name: "", value: rung.stats.summary.median,
                            colour: SVGChart.color(rung.arm, index: analysis.arms.firstIndex(of: rung.arm) ?? 0)
                        )
                    ],
                    interval: rung.stats.medianInterval
                )
            }
            out += figure(
                SVGChart.bars(
                    title: "Ladder, \(workload): \(metrics[0].title) per arm, sorted (median, 95% CI)",
                    unit: metrics[0].unit, bars: bars))
        }
        return out
    }

    static let phaseColours = ["#fdba74", "#fb923c", "#f97316", "#ea580c", "#c2410c", "#9a3412", "#7c2d12", "#431407"]

    static func phaseChart(_ analysis: ReportAnalysis) -> String {
        var bars:
            [(label: String, segments: [(name: String, value: Double, colour: String)], interval: ConfidenceInterval?)] =
                []
        var colourByPhase: [String: String] = [:]
        for workload in analysis.workloads {
            for vm in analysis.arms(ofKind: "vm") {
                let phases = analysis.phaseMedians(workload: workload, armKey: vm)
                guard !phases.isEmpty else { continue }
                var previous = 0.0
                var segments: [(name: String, value: Double, colour: String)] = []
                for phase in phases {
                    let colour = colourByPhase[phase.name] ?? phaseColours[colourByPhase.count % phaseColours.count]
                    colourByPhase[phase.name] = colour
                    segments.append((phase.name, max(0, phase.ms - previous), colour))
                    previous = phase.ms
                }
                bars.append(("\(workload) (\(analysis.armLabel(vm)))", segments, nil))
            }
        }
        guard !bars.isEmpty else { return "" }
        return figure(SVGChart.bars(title: "VM boot-phase breakdown (medians, ms from launch)", unit: "ms", bars: bars))
    }

    /// The service metrics (issue 20 / C9): one chart per service workload × metric, each arm's median with its
    /// 95% interval.
    static let serviceMetrics = [
        "work_service_ready_ms", "work_service_p50_ms", "work_service_p99_ms", "work_service_requests_per_s",
        "work_service_cpu_per_request_ns",
    ]

    static func serviceCharts(_ analysis: ReportAnalysis) -> String {
        var out = ""
        for workload in analysis.workloads {
            for name in serviceMetrics {
                let metric = Metric.named(name)
                let bars = analysis.arms.enumerated().compactMap {
                    (index, arm) -> (
                        label: String, segments: [(name: String, value: Double, colour: String)],
                        interval: ConfidenceInterval?
                    )? in
                    guard let stats = analysis.stats(workload: workload, armKey: arm, metric: name) else { return nil }
                    return (
                        analysis.armLabel(arm), [("", stats.summary.median, SVGChart.color(arm, index: index))],
                        stats.medianInterval
                    )
                }
                guard !bars.isEmpty else { continue }
                out += figure(
                    SVGChart.bars(
                        title: "\(workload): \(metric.title) per arm (median, 95% CI)", unit: metric.unit, bars: bars))
            }
        }
        return out
    }

    static func memoryCharts(_ analysis: ReportAnalysis) -> String {
        var out = ""
        for workload in analysis.workloads {
            var bars:
                [(
                    label: String, segments: [(name: String, value: Double, colour: String)],
                    interval: ConfidenceInterval?
                )] = []
            for (index, arm) in analysis.arms.enumerated() {
                // Host-side memory: the cgroup peak where recorded, else QEMU PSS / RSS.
                let candidates = [Metric.memoryPeakBytes, .pssPeakBytes, .rssPeakBytes, .maxRSSBytes]
                guard
                    let metric = candidates.first(where: {
                        analysis.stats(workload: workload, armKey: arm, metric: $0.name) != nil
                    }),
                    let stats = analysis.stats(workload: workload, armKey: arm, metric: metric.name)
                else { continue }
                bars.append(
                    (
                        "\(analysis.armLabel(arm)) · \(metric.name)",
                        [("", stats.summary.median, SVGChart.color(arm, index: index))], stats.medianInterval
                    ))
            }
            guard bars.count >= 2 else { continue }
            out += figure(
                SVGChart.bars(title: "\(workload): host memory per instance (median, 95% CI)", unit: "B", bars: bars))
        }
        return out
    }

    static func imageChart(_ analysis: ReportAnalysis) -> String {
        var bars:
            [(label: String, segments: [(name: String, value: Double, colour: String)], interval: ConfidenceInterval?)] =
                []
        let componentColours = ["kernel": "#ea580c", "initramfs": "#fb923c", "disk-allocated": "#fdba74"]
        for image in analysis.imageBytes {
            if let compressed = image.containerCompressed {
                bars.append(
                    (
                        "\(image.image) container compressed",
                        [("container compressed", Double(compressed), "#93c5fd")], nil
                    ))
            }
            if let uncompressed = image.containerUncompressed {
                bars.append(
                    (
                        "\(image.image) container uncompressed",
                        [("container uncompressed", Double(uncompressed), "#2563eb")], nil
                    ))
            }
            for vm in image.vms where !vm.components.isEmpty {
                // The disk split by where its bytes come from: the image's files, the OS layer, the filesystem.
                var segments: [(name: String, value: Double, colour: String)] = []
                for c in vm.components {
                    guard c.component == "disk-allocated", let files = image.containerUncompressed else {
                        segments.append((c.component, Double(c.bytes), componentColours[c.component] ?? "#9a3412"))
                        continue
                    }
                    let os = vm.osLayerUncompressed ?? 0
                    let rest = c.bytes > files + os ? c.bytes - files - os : 0
                    segments.append(("disk: image layers", Double(min(files, c.bytes)), "#fdba74"))
                    if os > 0 { segments.append(("disk: OS layer (systemd)", Double(os), "#c2410c")) }
                    if rest > 0 { segments.append(("disk: filesystem", Double(rest), "#fed7aa")) }
                }
                bars.append(("\(image.image) VM \(vm.armKey) (\(vm.guest))", segments, nil))
            }
        }
        guard !bars.isEmpty else { return "" }
        return figure(SVGChart.bars(title: "Image size: container layers vs VM artifacts", unit: "B", bars: bars))
    }

    static func densityChart(_ analysis: ReportAnalysis) -> String {
        let density = analysis.document.density
        guard !density.isEmpty else { return "" }
        let arms = ReportAnalysis.ordered([], present: Set(density.map(\.armKey)), preferred: analysis.arms)
        let series = arms.map { arm in
            (
                label: analysis.armLabel(arm), armKey: arm,
                points: density.filter { $0.armKey == arm }.map { (Double($0.instances), $0.memoryPerInstanceBytes) }
            )
        }
        return figure(
            SVGChart.lines(
                title: "Density: host memory per instance vs concurrent idle instances", xLabel: "instances (N)",
                yUnit: "B",
                series: series))
    }
}
