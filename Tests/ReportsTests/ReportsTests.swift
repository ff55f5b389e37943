import Foundation
import Results
import Stats
import Testing

@testable import Reports

/// The fixture: 12 repetitions × {hello, idle, cpu, syscall} × {native, container, container-runc,
/// container-crun (always failing: hybrid cgroups), vm (TCG; 2 hello timeouts)}, hybrid cgroups, warm cache.
func loadFixture() throws -> ResultsDocument {
    let url = try #require(
        Bundle.module.url(forResource: "results-tcg", withExtension: "json", subdirectory: "Fixtures"),
        "fixture results-tcg.json missing from the test bundle")
    return try ResultsStore.read(url.path)
}

@Suite("Analysis and claims")
struct AnalysisTests {
    @Test func failedSamplesAreExcludedButCounted() throws {
        let analysis = ReportAnalysis(try loadFixture())
        let vmHello = try #require(analysis.outcome(workload: "hello", armKey: "vm"))
        #expect(vmHello.succeeded == 10 && vmHello.failed == 2)
        #expect(vmHello.failuresByStatus == ["timeout": 2])
        let crun = try #require(analysis.outcome(workload: "cpu", armKey: "container-crun"))
        #expect(crun.succeeded == 0 && crun.failed == 12)
        #expect(analysis.stats(workload: "hello", armKey: "container-crun", metric: "startup_exit_ms") == nil)
        #expect(analysis.stats(workload: "hello", armKey: "vm", metric: "startup_exit_ms")?.summary.count == 10)
        #expect(analysis.failedSampleCount == 48 + 2)
    }

    /// Claims pick arms by kind: the same run with every arm renamed gets the same verdicts and figures, and each
    /// pair of a container arm and a VM arm has its own row.
    @Test func renamingArmsChangesNoVerdict() throws {
        let original = try loadFixture()
        let names = [
            "native": "bare", "container": "box", "container-runc": "rc", "container-crun": "cr", "vm": "guest",
        ]
        func rename(_ key: String) -> String { names[key] ?? key }
        var renamed = original
        renamed.plan.arms = renamed.plan.arms.map(rename)
        for i in renamed.samples.indices { renamed.samples[i].arm = rename(renamed.samples[i].arm) }
        for i in renamed.arms.indices { renamed.arms[i].key = rename(renamed.arms[i].key) }
        for i in renamed.images.indices { renamed.images[i].armKey = rename(renamed.images[i].armKey) }
        for i in renamed.density.indices { renamed.density[i].armKey = rename(renamed.density[i].armKey) }
        for i in renamed.isolation.indices { renamed.isolation[i].armKey = rename(renamed.isolation[i].armKey) }
        let before = ReportAnalysis(original).claims
        let after = ReportAnalysis(renamed).claims
        #expect(before.count == after.count)
        for (a, b) in zip(before, after) {
            #expect(a.verdict == b.verdict, "\(a.id): \(a.verdictText) became \(b.verdictText)")
            #expect(a.notMeasured == b.notMeasured, "\(a.id)")
            #expect(a.measured == b.measured, "\(a.id)")
            #expect(a.pairs.map(\.measured) == b.pairs.map(\.measured), "\(a.id)")
        }
        let c1 = try #require(after.first { $0.id == "C1" })
        #expect(!c1.notMeasured)
        // guest over box and over rc (cr never succeeded): one row each, the first decided.
        #expect(c1.pairs.map { "\($0.numerator)÷\($0.denominator)" } == ["guest÷box", "guest÷rc"])
        #expect(c1.reason.hasPrefix("decided by guest÷box"))
    }

    @Test func outlierIsFlaggedAndKept() throws {
        let analysis = ReportAnalysis(try loadFixture())
        let stats = try #require(
            analysis.stats(workload: "hello", armKey: "container", metric: "startup_first_output_ms"))
        #expect(stats.summary.count == 12)
        #expect(stats.summary.max == 19.5)
        #expect(stats.outlierCount >= 1)
    }

    @Test func ratiosHaveIntervalsAroundThePointEstimate() throws {
        let analysis = ReportAnalysis(try loadFixture())
        let row = try #require(analysis.rows.first { $0.workload == "hello" && $0.metric.name == "startup_exit_ms" })
        // Every arm of one kind over every arm of the other (container-crun has no successful sample).
        #expect(
            row.ratios.map(\.label) == [
                "vm÷container", "vm÷container-runc", "container÷native", "container-runc÷native", "vm÷native",
            ])
        for ratio in row.ratios {
            let interval = try #require(ratio.interval)
            #expect(interval.lower <= ratio.value && ratio.value <= interval.upper, "\(ratio.label)")
        }
        let vmOverContainer = row.ratios[0]
        #expect(vmOverContainer.value > 500 && vmOverContainer.value < 1100)
    }

    /// C8 on synthetic netrr samples: containers at native latency and VMs far above hold; a slow container does not.
    @Test func networkClaimFollowsItsRule() throws {
        func doc(containerUs: Double) throws -> ResultsDocument {
            var d = try loadFixture()
            let template = try #require(d.samples.first { $0.arm == "native" && $0.status == .ok })
            for (arm, us) in [("native", 50.0), ("container", containerUs), ("vm", 160.0)] {
                for i in 0..<12 {
                    var s = template
                    s.arm = arm
                    s.workload = "netrr"
                    s.repetition = i
                    // ±2 % deterministic spread.
                    s.metrics = ["work_rr_p50_ns": us * 1000 * (0.98 + 0.04 * Double(i % 5) / 4)]
                    d.samples.append(s)
                }
            }
            d.plan.workloads.append("netrr")
            return d
        }
        let near = try #require(ReportAnalysis(try doc(containerUs: 50.5)).claims.first { $0.id == "C8" })
        #expect(near.verdict == .holds, "\(near.reason) \(near.evidence)")
        let slow = try #require(ReportAnalysis(try doc(containerUs: 70)).claims.first { $0.id == "C8" })
        #expect(slow.verdict == .doesNotHold, "\(slow.reason)")
    }

    /// C3 on synthetic fio samples alone (the compute workloads dropped): containers at native IOPS and a VM at half
    /// hold, naming the workloads the run did not have; a container at two thirds of native does not hold.
    @Test func overheadClaimSettlesOnIOAlone() throws {
        func doc(containerShare: Double) throws -> ResultsDocument {
            var d = try loadFixture()
            let template = try #require(d.samples.first { $0.arm == "native" && $0.status == .ok })
            d.samples.removeAll { ["cpu", "syscall"].contains($0.workload) }
            // Every arm of the fixture, so no arm is missing fio figures.
            for arm in Set(d.samples.map(\.arm)).sorted() {
                let share = arm == "native" ? 1.0 : arm.hasPrefix("vm") ? 0.5 : containerShare
                for i in 0..<12 {
                    var s = template
                    (s.arm, s.workload, s.repetition) = (arm, "fio", i)
                    let spread = 0.98 + 0.04 * Double(i % 5) / 4
                    s.metrics = [
                        "work_fio_randread_4k_qd16_ops_per_s": 60000 * share * spread,
                        "work_fio_seqwrite_1m_qd4_ops_per_s": 2000 * share * spread,
                    ]
                    d.samples.append(s)
                }
            }
            d.plan.workloads.append("fio")
            return d
        }
        let same = try #require(ReportAnalysis(try doc(containerShare: 0.995)).claims.first { $0.id == "C3" })
        #expect(same.verdict == .holds, "\(same.reason) \(same.evidence) \(same.verdict)")
        #expect(same.reason.contains("cpu not run") && same.reason.contains("fileio not run"), "\(same.reason)")
        #expect(
            same.evidence.contains { $0.contains("fio, slowdown vs native by work_fio_randread_4k_qd16_ops_per_s") })
        #expect(same.evidence.contains { $0.contains("work_fio_seqwrite_1m_qd4_ops_per_s") })
        let slow = try #require(ReportAnalysis(try doc(containerShare: 0.66)).claims.first { $0.id == "C3" })
        #expect(slow.verdict == .doesNotHold, "\(slow.reason)")
        // Without any I/O workload the claim names that too.
        let none = try #require(ReportAnalysis(try loadFixture()).claims.first { $0.id == "C3" })
        #expect(none.reason.contains("an I/O workload (fio) not run"), "\(none.reason)")
    }

    @Test func claimVerdictsFollowTheStatedRules() throws {
        let claims = ReportAnalysis(try loadFixture()).claims
        #expect(claims.map(\.id) == ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"])
        #expect(claims.last!.notMeasured && claims.last!.reason.contains("no service workload"))
        let byID = Dictionary(uniqueKeysWithValues: claims.map { ($0.id, $0) })
        // C8: the fixture has no network workload.
        #expect(byID["C8"]!.notMeasured && byID["C8"]!.reason.contains("no network workload"))
        // C1: vm ÷ container startup ≈ ×750 with a CI far above 2.
        #expect(byID["C1"]!.verdict == .holds)
        #expect(byID["C1"]!.interval!.lower > 2)
        #expect(byID["C1"]!.caveats.contains { $0.contains("TCG software emulation") })
        #expect(byID["C1"]!.caveats.contains { $0.contains("warm page cache") })
        #expect(byID["C1"]!.caveats.contains { $0.contains("single vCPU") })
        #expect(byID["C1"]!.references.contains { $0.contains("Firecracker") })
        #expect(byID["C1"]!.evidence.contains { $0.hasPrefix("vm (tcg) phases of hello") })
        // C2: QEMU PSS ÷ container cgroup peak.
        #expect(byID["C2"]!.verdict == .holds)
        #expect(byID["C2"]!.metric.contains("pss_peak_bytes"))
        #expect(byID["C2"]!.caveats.contains { $0.contains("hybrid cgroups") })
        // C3: cpu and syscall measured, memory and fileio not run ⇒ inconclusive, saying so.
        #expect(byID["C3"]!.verdict == .inconclusive)
        #expect(byID["C3"]!.reason.contains("memory not run"))
        // C4: hello ×4.6 but python-app ×1.76 ⇒ mixed ⇒ inconclusive.
        #expect(byID["C4"]!.verdict == .inconclusive)
        #expect(byID["C5"]!.verdict == .holds)
        #expect(byID["C6"]!.verdict == .holds)
        // C7: crun never ran ⇒ not every arm compared.
        #expect(byID["C7"]!.verdict == .inconclusive)
        #expect(byID["C7"]!.evidence.contains { $0.contains("hybrid mode not supported") })
    }

    /// C5 over the wire: the base already in the registry must save bytes and a last-step change must send one
    /// layer; either failing turns a verdict the store arithmetic alone would give into "does not hold".
    @Test func layerReuseOverTheWireFollowsItsRule() throws {
        var doc = try loadFixture()
        func c5(_ wire: WireTransfer?) -> ClaimAssessment {
            for i in doc.layerSharing.indices { doc.layerSharing[i].wire = wire }
            return ReportAnalysis(doc).claims.first { $0.id == "C5" }!
        }
        let good = WireTransfer(
            registry: "docker-registry test on 127.0.0.1", pushAloneBytes: 1000, pushGivenBaseBytes: 300,
            pullGivenBaseBytes: 300, pushAfterLastStepChangeBytes: 40, layersSentAfterLastStepChange: 1)
        #expect(c5(nil).verdict == .holds)
        #expect(!c5(nil).measured.contains("over the wire"))
        let holds = c5(good)
        #expect(holds.verdict == .holds)
        #expect(holds.measured.contains("over the wire 30.0% pushed"), "\(holds.measured)")
        #expect(holds.evidence.contains { $0.contains("(30.0%)") }, "\(holds.evidence)")
        var savesNothing = good
        savesNothing.pushGivenBaseBytes = 1000
        #expect(c5(savesNothing).verdict == .doesNotHold)
        #expect(c5(savesNothing).reason.contains("as many bytes with the base"))
        var twoLayers = good
        twoLayers.layersSentAfterLastStepChange = 2
        #expect(c5(twoLayers).verdict == .doesNotHold)
        #expect(c5(twoLayers).reason.contains("sent 2 layers"))
    }

    /// C4 with a minimal and a full-OS VM of one image: both listed, the full OS weighed, whatever the arm order.
    @Test func imageSizeWeighsTheFullOSGuest() throws {
        var doc = ResultsDocument(
            suite: "c4", startedAt: "2026-12-02T00:00:00Z", seed: 1,
            host: HostInfo(
                hostname: "h", kernel: "6", cpuModel: "c", cpus: 2, memTotalBytes: 1 << 30, cgroupMode: "v2",
                bootID: "b"),
            tool: ToolInfo(version: "t", commit: "t"),
            plan: PlanSummary(arms: [], workloads: [], repetitions: 1, warmups: 0, timeoutSeconds: 1, cacheMode: "warm")
        )
        doc.arms = [
            ArmRecord(key: "container", kind: .container, engine: "boxbench"),
            ArmRecord(key: "os", kind: .vm, engine: "libvirt", rootfs: "disk", guest: "full-os"),
            ArmRecord(key: "small", kind: .vm, engine: "libvirt", rootfs: "initramfs"),
        ]
        let mib: UInt64 = 1 << 20
        doc.images = [
            ArtifactSize(image: "img", armKey: "container", component: "layers-compressed", bytes: 30 * mib),
            ArtifactSize(image: "img", armKey: "container", component: "layers-uncompressed", bytes: 90 * mib),
            ArtifactSize(image: "img", armKey: "small", component: "kernel", bytes: 14 * mib),
            ArtifactSize(image: "img", armKey: "small", component: "initramfs", bytes: 31 * mib),
            ArtifactSize(image: "img", armKey: "os", component: "kernel", bytes: 14 * mib),
            ArtifactSize(image: "img", armKey: "os", component: "initramfs", bytes: 1 * mib),
            ArtifactSize(image: "img", armKey: "os", component: "disk-allocated", bytes: 200 * mib),
            ArtifactSize(image: "img", armKey: "os", component: "os-layer-uncompressed", bytes: 16 * mib),
        ]
        let analysis = ReportAnalysis(doc)
        let bytes = try #require(analysis.imageBytes.first)
        #expect(bytes.vms.map(\.armKey) == ["small", "os"])
        #expect(bytes.decidingVM?.armKey == "os")
        #expect(bytes.vms.last?.total == 215 * mib)  // the OS layer is inside the disk, not added again
        let c4 = try #require(analysis.claims.first { $0.id == "C4" })
        #expect(c4.verdict == .holds)  // 215 ÷ 90 ≥ 2; the minimal guest alone (45 ÷ 90) would not hold
        #expect(c4.evidence.first?.contains("VM small (minimal)") == true)
        #expect(c4.evidence.first?.contains("VM os (full-os)") == true)
        #expect(c4.evidence.first?.contains("OS layer (systemd) of 16.0 MiB") == true, "\(c4.evidence)")
    }

    @Test func missingDataIsNotMeasuredNeverInvented() throws {
        var doc = try loadFixture()
        doc.samples.removeAll { $0.arm == "vm" }
        doc.images = []
        doc.isolation = []
        doc.layerSharing = []
        let byID = Dictionary(uniqueKeysWithValues: ReportAnalysis(doc).claims.map { ($0.id, $0) })
        for id in ["C1", "C2", "C4", "C5", "C6"] {
            let claim = try #require(byID[id])
            #expect(claim.notMeasured, "\(id)")
            #expect(claim.verdict == .inconclusive)
            #expect(claim.verdictText.hasPrefix("inconclusive — not measured ("), "\(id): \(claim.verdictText)")
            #expect(claim.ratio == nil && claim.measured == "not measured")
        }
        #expect(byID["C1"]!.reason.contains("vm"))
    }

    @Test func tooFewSamplesGiveInconclusive() throws {
        var doc = try loadFixture()
        // Keep only 3 VM samples: no interval, so no verdict either way.
        var kept = 0
        doc.samples.removeAll { sample in
            guard sample.arm == "vm", sample.status == .ok else { return false }
            kept += 1
            return kept > 3
        }
        let c1 = try #require(ReportAnalysis(doc).claims.first { $0.id == "C1" })
        #expect(c1.verdict == .inconclusive)
        #expect(c1.interval == nil)
        #expect(!c1.notMeasured)
    }

    @Test func slowContainerMakesC3NotHold() throws {
        var doc = try loadFixture()
        for index in doc.samples.indices where doc.samples[index].arm == "container" {
            if let rate = doc.samples[index].metrics["work_ops_per_s"] {
                doc.samples[index].metrics["work_ops_per_s"] = rate * 0.5
            }
        }
        let c3 = try #require(ReportAnalysis(doc).claims.first { $0.id == "C3" })
        #expect(c3.verdict == .doesNotHold)
    }

    @Test func sameDocumentRendersIdentically() throws {
        let doc = try loadFixture()
        // BOXBENCH_REPORT_DUMP=DIR keeps every rendering of the fixture for eyeballing.
        let dump = ProcessInfo.processInfo.environment["BOXBENCH_REPORT_DUMP"]
        for format in ReportFormat.allCases {
            let text = renderReport(doc, format: format)
            #expect(text == renderReport(doc, format: format), "\(format)")
            if let dump {
                try text.write(toFile: "\(dump)/fixture-report.\(format.rawValue)", atomically: true, encoding: .utf8)
            }
        }
    }
}

@Suite("Renderers")
struct RendererTests {
    @Test func terminalTableIsAlignedAndShowsClaims() throws {
        let text = renderReport(try loadFixture(), format: .terminal)
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("  C1 ") && $0.contains(" holds ") })
        #expect(text.contains("vm (tcg)"))
        #expect(text.contains("context (published, not measured here)"))
        #expect(text.contains("Failures (excluded from statistics)"))
        // In each table, the header's dashes line has one run per column and every row fits them.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("  metric") && $0.contains("median [95% CI]") })
        let ruler = lines[headerIndex + 1]
        let columnStarts = ruler.indices.filter { index in
            ruler[index] == "-" && (index == ruler.startIndex || ruler[ruler.index(before: index)] == " ")
        }.map { ruler.distance(from: ruler.startIndex, to: $0) }
        #expect(columnStarts.count == 7)
        let p90LastCharacter = columnStarts[5] - 3  // p90 is right-aligned: every cell ends in this column
        let tableRows = lines[(headerIndex + 2)...].prefix(while: { !$0.isEmpty })
        #expect(tableRows.count > 5)
        for line in tableRows {
            let characters = Array(line)
            #expect(characters.count > p90LastCharacter + 2, "\(line)")
            #expect(characters[p90LastCharacter] != " " && characters[p90LastCharacter + 1] == " ", "\(line)")
        }
        // The terminal report has the claims with their rules; the short run summary the caveats and the table.
        #expect(text.contains("rule: holds if the 95% CI lower bound"))
        let summary = renderRunSummary(ReportAnalysis(try loadFixture()))
        #expect(summary.contains("VM under TCG software emulation"))
        #expect(summary.contains("C1 "))
    }

    @Test func markdownHasTablesAndClaimSections() throws {
        let markdown = renderReport(try loadFixture(), format: .markdown)
        #expect(markdown.hasPrefix("# boxbench report: default"))
        #expect(markdown.contains("| claim | verdict | measured (95% CI) | metric |"))
        for id in ["C1", "C2", "C3", "C4", "C5", "C6", "C7"] { #expect(markdown.contains("### \(id): ")) }
        #expect(
            markdown.contains(
                "| metric | vm÷container | vm÷container-runc | container÷native | container-runc÷native | vm÷native |"))
        // Every table row has as many cells as its header.
        var expectedPipes: Int? = nil
        for line in markdown.split(separator: "\n") {
            guard line.hasPrefix("|") else {
                expectedPipes = nil
                continue
            }
            let pipes = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            if let expectedPipes { #expect(pipes == expectedPipes, "\(line)") } else { expectedPipes = pipes }
        }
    }

    @Test func htmlIsSelfContainedWithCharts() throws {
        let html = renderReport(try loadFixture(), format: .html)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.hasSuffix("</html>\n"))
        let svgCount = html.components(separatedBy: "<svg ").count - 1
        #expect(svgCount >= 8, "charts: \(svgCount)")  // 4 startup, phases, memory ×n, images, density
        #expect(html.contains("VM boot-phase breakdown"))
        #expect(html.contains("Density: host memory per instance"))
        #expect(html.contains("Image size: container layers vs VM artifacts"))
        #expect(html.contains("log scale"))  // vm vs native startup differs by > 30×
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        // No network: the only URL is the SVG namespace.
        let urls = html.components(separatedBy: "http").dropFirst().map { String($0.prefix(25)) }
        #expect(urls.allSatisfy { $0.hasPrefix("://www.w3.org/2000/svg") }, "\(urls)")
        #expect(!html.contains("<script"))
    }

    @Test func csvHasEverySampleAndQuotesText() throws {
        let doc = try loadFixture()
        let csv = renderReport(doc, format: .csv)
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == doc.samples.count + 1)
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(header.prefix(4) == ["workload", "arm_key", "repetition", "status"])
        #expect(header.contains("startup_exit_ms") && header.contains("phase_kernel-init_ms"))
        #expect(csv.contains("\"crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2\""))
        // The outlier is in the CSV like every other value.
        #expect(csv.contains(",19.5,"))
    }

    /// The CSV export of the fixture, byte for byte as recorded (re-recorded once when measurements became typed:
    /// the v1 file's `maxrss_bytes` and `vcpus` sample metrics are no longer columns, every other cell is unchanged).
    @Test func csvIsByteIdenticalToTheRecordedExport() throws {
        let url = try #require(
            Bundle.module.url(forResource: "results-tcg", withExtension: "csv", subdirectory: "Fixtures"))
        let expected = try Data(contentsOf: url)
        let csv = Data(renderReport(try loadFixture(), format: .csv).utf8)
        #expect(csv == expected)
    }

    @Test func jsonSummaryParses() throws {
        let json = renderReport(try loadFixture(), format: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "boxbench.summary/v1")
        let claims = try #require(object["claims"] as? [[String: Any]])
        #expect(claims.count == 9)
        #expect(claims.first?["verdict"] as? String == "holds")
        let groups = try #require(object["groups"] as? [[String: Any]])
        let vmHello = try #require(
            groups.first {
                $0["workload"] as? String == "hello" && $0["armKey"] as? String == "vm"
                    && $0["metric"] as? String == "startup_exit_ms"
            })
        #expect(vmHello["count"] as? Int == 10)
        #expect((object["caveats"] as? [String])?.contains { $0.contains("TCG") } == true)
    }

    @Test func githubActionBenchmarkEntriesAreSmallerIsBetter() throws {
        let json = githubActionBenchmarkJSON(try loadFixture())
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(!entries.isEmpty)
        for entry in entries {
            #expect(entry["name"] is String && entry["unit"] is String && entry["value"] is Double)
        }
        let throughput = try #require(entries.first { ($0["name"] as? String) == "cpu/native/1/work_ops_per_s" })
        #expect((throughput["value"] as! Double) < 1e-5)
        #expect(throughput["unit"] as? String == "1/(/s)")
        #expect(entries.contains { ($0["name"] as? String) == "hello/vm/startup_exit_ms" && $0["range"] is String })
    }
}

@Suite("Compare")
struct CompareTests {
    /// A copy of the fixture with one group's values scaled (deterministic per-sample jitter optional).
    func scaled(
        _ doc: ResultsDocument, workload: String, armKey: String, metric: String, by factor: Double
    ) -> ResultsDocument {
        var copy = doc
        for index in copy.samples.indices
        where copy.samples[index].workload == workload && copy.samples[index].arm == armKey {
            if let value = copy.samples[index].metrics[metric] { copy.samples[index].metrics[metric] = value * factor }
        }
        return copy
    }

    @Test func regressionExitsOne() throws {
        let baseline = try loadFixture()
        let new = scaled(baseline, workload: "hello", armKey: "container", metric: "startup_exit_ms", by: 1.5)
        let outcome = try compareResults(baseline: baseline, new: new, options: CompareOptions(threshold: 0.10))
        #expect(outcome.exitCode == 1)
        let regressions = outcome.changes.filter { $0.classification == .regression }
        #expect(
            regressions.map { "\($0.workload)/\($0.armKey)/\($0.metric.name)" } == ["hello/container/startup_exit_ms"])
        let change = regressions[0]
        #expect(abs(change.change - 0.5) < 1e-9)
        #expect(change.changeInterval!.contains(0.5))
        #expect(change.pValue < 0.001)
        #expect(outcome.markdown.contains("❌ 1 regression in "))
        #expect(outcome.terminal.contains("regression"))
    }

    /// A/B in one run: a copy of the container arm as arm "b", its startup 50 % slower, is a regression of B
    /// against A by the permutation test; an identical copy is not; an unknown arm is bad input.
    @Test func twoArmsOfOneRunAreComparedByPermutation() throws {
        var doc = try loadFixture()
        let copies = doc.samples.filter { $0.arm == "container" }.map {
            var s = $0
            s.arm = "b"
            return s
        }
        doc.samples += copies
        var record = try #require(doc.arm("container"))
        record.key = "b"
        doc.arms.append(record)
        let same = try compareArms(
            doc, baseline: "container", candidate: "b", options: CompareOptions(significance: 0.01, test: .permutation))
        #expect(same.exitCode == 0)
        #expect(same.changes.allSatisfy { $0.classification == .unchanged })
        let slower = scaled(doc, workload: "hello", armKey: "b", metric: "startup_exit_ms", by: 1.5)
        let outcome = try compareArms(
            slower, baseline: "container", candidate: "b",
            options: CompareOptions(significance: 0.01, test: .permutation))
        #expect(outcome.exitCode == 1)
        let regression = try #require(outcome.changes.first { $0.classification == .regression })
        #expect(regression.armKey == "b vs container" && regression.metric.name == "startup_exit_ms")
        #expect(regression.pValue < 0.01)
        #expect(outcome.markdown.contains("permutation test p < 0.01"))
        #expect(
            throws: CompareError.unknownArm(
                "nope", valid: ["b", "container", "container-crun", "container-runc", "native", "vm"])
        ) {
            try compareArms(doc, baseline: "container", candidate: "nope", options: CompareOptions())
        }
    }

    @Test func improvementExitsZero() throws {
        let baseline = try loadFixture()
        let new = scaled(baseline, workload: "hello", armKey: "container", metric: "startup_exit_ms", by: 0.6)
        let outcome = try compareResults(baseline: baseline, new: new, options: CompareOptions())
        #expect(outcome.exitCode == 0)
        #expect(outcome.changes.filter { $0.classification == .improvement }.count == 1)
        #expect(outcome.markdown.contains("✅ No regressions"))
    }

    @Test func throughputDropIsARegression() throws {
        let baseline = try loadFixture()
        let new = scaled(baseline, workload: "cpu", armKey: "container", metric: "work_ops_per_s", by: 0.7)
        let outcome = try compareResults(
            baseline: baseline, new: new, options: CompareOptions(metrics: ["work_ops_per_s"]))
        #expect(outcome.exitCode == 1)
        #expect(outcome.changes.allSatisfy { $0.metric.name == "work_ops_per_s" })
    }

    @Test func noiseOnlyExitsZero() throws {
        let baseline = try loadFixture()
        // Same distributions, different draws: every value moves by a random ±3%.
        var new = baseline
        var generator = SplitMix64(seed: 77)
        for index in new.samples.indices {
            for (name, value) in new.samples[index].metrics {
                new.samples[index].metrics[name] = value * (0.97 + 0.06 * generator.nextOpenUnit())
            }
        }
        let outcome = try compareResults(baseline: baseline, new: new, options: CompareOptions())
        #expect(outcome.exitCode == 0)
        #expect(outcome.changes.count > 50)
        #expect(outcome.changes.allSatisfy { $0.classification == .unchanged })
    }

    @Test func significantChangeBelowThresholdIsNotARegression() throws {
        let baseline = try loadFixture()
        let new = scaled(baseline, workload: "syscall", armKey: "native", metric: "work_getpid_ns", by: 1.06)
        let outcome = try compareResults(baseline: baseline, new: new, options: CompareOptions(threshold: 0.10))
        #expect(outcome.exitCode == 0)
        let strict = try compareResults(baseline: baseline, new: new, options: CompareOptions(threshold: 0.05))
        #expect(strict.exitCode == 1)
    }

    /// A v1 baseline (the older committed ones) against a v3 run: same model, so nothing changes and nothing throws.
    @Test func v1BaselineComparesWithV3Run() throws {
        let url = try #require(
            Bundle.module.url(forResource: "results-tcg", withExtension: "json", subdirectory: "Fixtures"))
        let v2Path = FileManager.default.temporaryDirectory.appendingPathComponent("boxbench-compare-\(getpid()).json")
            .path
        defer { unlink(v2Path) }
        let v1 = try ResultsStore.read(url.path)
        try ResultsStore.write(v1, to: v2Path)
        #expect(try String(contentsOfFile: v2Path, encoding: .utf8).contains("boxbench.results/v3"))
        let v2 = try ResultsStore.read(v2Path)
        #expect(v2 == v1)
        for (baseline, new) in [(v1, v2), (v2, v1)] {
            let outcome = try compareResults(baseline: baseline, new: new)
            #expect(outcome.exitCode == 0)
            #expect(!outcome.changes.isEmpty)
            #expect(outcome.onlyInBaseline.isEmpty && outcome.onlyInNew.isEmpty)
        }
        let worse = scaled(v1, workload: "hello", armKey: "container", metric: "startup_exit_ms", by: 1.5)
        try ResultsStore.write(worse, to: v2Path)
        #expect(try compareResults(baseline: v1, new: try ResultsStore.read(v2Path)).exitCode == 1)
    }

    @Test func incompatibleInputsThrow() throws {
        let baseline = try loadFixture()
        var otherHost = baseline
        otherHost.host.cpus = 4
        #expect(
            throws: CompareError.differentHostClass(baseline: baseline.host.hostClass, new: otherHost.host.hostClass)
        ) {
            try compareResults(baseline: baseline, new: otherHost, options: CompareOptions())
        }
        var otherSchema = baseline
        otherSchema.schema = "boxbench.results/v4"
        #expect(throws: CompareError.self) { try compareResults(baseline: baseline, new: otherSchema) }
        do {
            _ = try compareResults(
                baseline: baseline, new: baseline, options: CompareOptions(metrics: ["startup_ms_typo"]))
            Issue.record("an unknown metric was compared")
        } catch let error as CompareError {
            // The valid names are listed with the refusal.
            #expect(error.description.contains("\"startup_ms_typo\""), "\(error)")
            #expect(error.description.contains("startup_exit_ms"), "\(error)")
        }
        // 1 new sample against 12 can never be significant (smallest p 2/13): said, and counted.
        #expect(abs(smallestMannWhitneyP(12, 1) - 2.0 / 13.0) < 1e-12)
        #expect(smallestMannWhitneyP(12, 12) < 0.001)
        var single = baseline
        var seen = Set<String>()
        single.samples = single.samples.filter { seen.insert("\($0.workload)/\($0.arm)").inserted }
        let underpowered = try compareResults(baseline: baseline, new: single)
        #expect(!underpowered.underpowered.isEmpty)
        #expect(underpowered.terminal.contains("can never reach p < 0.05"), "\(underpowered.terminal)")
        let json = try JSONSerialization.jsonObject(with: Data(underpowered.json.utf8)) as? [String: Any]
        #expect((json?["changes"] as? [[String: Any]])?.isEmpty == false)
        #expect(json?["underpowered"] as? Int == underpowered.underpowered.count)
        do {
            _ = try compareResults(baseline: baseline, new: otherHost)
        } catch let error as CompareError {
            #expect(error.description.contains("x2") && error.description.contains("x4"))
        }
    }
}

@Suite("HTML in a browser")
struct BrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Screenshot of a file in headless Chromium; returns the PNG bytes.
    func screenshot(of htmlPath: String, to pngPath: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromium!)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--screenshot=\(pngPath)",
            "--window-size=1200,900", "file://\(htmlPath)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try Data(contentsOf: URL(fileURLWithPath: pngPath))
    }

    /// Width and height from the PNG IHDR chunk (bytes 16–23, big-endian).
    func pngSize(_ png: Data) throws -> (Int, Int) {
        let bytes = [UInt8](png.prefix(24))
        try #require(bytes.count == 24 && bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let be = { (offset: Int) in bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }

    @Test(.enabled(if: Self.chromium != nil, "needs chromium (scripts/setup installs it) to render the HTML"))
    func reportRendersInHeadlessChromium() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxbench-html-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let reportPath = directory.appendingPathComponent("report.html").path
        let blankPath = directory.appendingPathComponent("blank.html").path
        try renderReport(try loadFixture(), format: .html).write(toFile: reportPath, atomically: true, encoding: .utf8)
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: blankPath, atomically: true, encoding: .utf8)

        let report = try screenshot(of: reportPath, to: directory.appendingPathComponent("report.png").path)
        let blank = try screenshot(of: blankPath, to: directory.appendingPathComponent("blank.png").path)
        let (width, height) = try pngSize(report)
        #expect(width == 1200 && height == 900)
        // A blank page compresses to a few KB; a page of text, tables and charts to far more.
        #expect(report.count > 5 * blank.count, "report \(report.count) B vs blank \(blank.count) B")
    }
}
