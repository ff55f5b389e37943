import Foundation
import Testing

@testable import Results

/// A document exercising every field kind: optionals present and absent, non-finite metrics, a seed above
/// Int64.max, escapes and non-ASCII text, empty and non-empty collections.
func sampleDocument() -> ResultsDocument {
    let host = HostInfo(
        hostname: "h\u{e9}te", kernel: "6.1.0", cpuModel: "CPU \"quoted\", with comma", cpus: 2,
        memTotalBytes: 1 << 34, cgroupMode: "hybrid", bootID: "b")
    var doc = ResultsDocument(
        suite: "test", startedAt: "2026-11-29T00:00:00.000Z", seed: UInt64.max - 7, host: host,
        tool: ToolInfo(version: "0.1.0", commit: "abc"),
        plan: PlanSummary(
            arms: ["native", "vm"], workloads: ["hello"], repetitions: 2, warmups: 1, timeoutSeconds: 1.5,
            cacheMode: "warm", order: ["vm/hello#0", "native/hello#0"]))
    doc.arms = [
        ArmRecord(
            key: "native", kind: .native, engine: "native", memoryFigure: "the run's cgroup",
            seccomp: "boxbench-default v2, 306 syscalls allowed"),
        ArmRecord(
            key: "vm", kind: .vm, engine: "libvirt", engineVersion: "libvirt 9.0.0", accel: "auto", machine: "pc",
            memoryMiB: 256, vcpus: 1),
    ]
    for repetition in 0..<2 {
        for arm in ["native", "vm"] {
            var measured = Measurements(
                exitMs: 1.25 + Double(repetition), cpuNs: 1_197_791,
                phases: arm == "vm"
                    ? [Phase(name: "qemu-alive", ms: 12.5), Phase(name: "first-output", ms: 2300)] : [],
                workload: ["x_per_s": .infinity])
            if arm == "vm" {
                measured.vm = VMMeasurements(accel: "tcg", machineType: "pc", pssPeakBytes: 2e8)
            } else {
                measured.cgroup = CgroupMeasurements(anonBytes: 4096, fileBytes: 0)
            }
            doc.samples.append(
                Sample(
                    arm: arm, workload: "hello", repetition: repetition, status: .ok, exitCode: 0,
                    startedAt: "2026-11-29T00:00:0\(repetition).000Z",
                    finishedAt: "2026-11-29T00:00:0\(repetition).500Z",
                    measurements: measured, outputDigest: "sha256:ab"))
        }
    }
    doc.samples.append(
        Sample(
            arm: "vm", workload: "hello", repetition: 2, status: .oomKilled, failure: "killed: \u{1F4A5}\nline 2",
            exitCode: -9, startedAt: "2026-11-29T00:00:03.000Z", finishedAt: "2026-11-29T00:00:04.000Z",
            measurements: Measurements(vm: VMMeasurements(accel: "tcg", machineType: "pc"))))
    doc.images = [ArtifactSize(image: "hello", armKey: "vm", component: "kernel", bytes: 12_345_678)]
    doc.layerSharing = [
        LayerSharing(
            image: "hello", base: "busybox", imageCompressedBytes: 10, sharedCompressedBytes: 5,
            bytesToPullGivenBase: 5, newLayersOnLastStepRebuild: nil)
    ]
    doc.density = [
        DensityPoint(armKey: "vm", accel: "tcg", instances: 4, memoryPerInstanceBytes: 1.5e8, startMsMedian: 2300)
    ]
    doc.isolation = [IsolationRecord(armKey: "container", probe: "mount", blocked: true, detail: "EPERM")]
    doc.calibration = Calibration(harnessMedianMs: 1.1, hyperfineMedianMs: 1.0)
    doc.notes = ["a note"]
    doc.finishedAt = "2026-11-29T00:01:00.000Z"
    doc.complete = true
    return doc
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("boxbench-results-test-\(getpid())-\(name)").path
}

func repositoryFile(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(relative).path
}

@Suite struct ResultsStoreTests {
    @Test func writtenDocumentReadsBackEqual() throws {
        let path = temporaryPath("roundtrip.json")
        defer { unlink(path) }
        let doc = sampleDocument()
        try ResultsStore.write(doc, to: path)
        let read = try ResultsStore.read(path)
        #expect(read == doc)
        #expect(read.seed == UInt64.max - 7)
        #expect(read.samples[0].metrics["work_x_per_s"] == .infinity)
        #expect(read.samples.last?.failure == "killed: \u{1F4A5}\nline 2")
        #expect(read.samples[0].measurements.vm.accel == nil && read.samples[1].measurements.vm.accel == "tcg")
        #expect(read.arm("vm")?.engineVersion == "libvirt 9.0.0")
    }

    /// The file is the document: arms once, samples naming their arm, absent measurements absent.
    @Test func writesCompactV3() throws {
        let path = temporaryPath("v3.json")
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""schema":"boxbench.results/v3""#))
        #expect(!text.contains("\n"))
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect((object["arms"] as! [[String: Any]]).map { $0["key"] as! String } == ["native", "vm"])
        let samples = object["samples"] as! [[String: Any]]
        #expect(samples[0]["arm"] as? String == "native")
        #expect(samples[0]["provenance"] == nil)
        let native = samples[0]["measurements"] as! [String: Any]
        #expect(native["vm"] == nil && native["phases"] == nil && native["firstOutputMs"] == nil)
        #expect((native["cgroup"] as? [String: Any])?["anonBytes"] as? Double == 4096)
        let vm = samples[1]["measurements"] as! [String: Any]
        #expect((vm["vm"] as? [String: Any])?["accel"] as? String == "tcg")
    }

    /// The flat view the statistics use and the typed fields are one table: every catalogue name maps back.
    @Test func flatViewRoundTripsThroughTheTypedFields() {
        for sample in sampleDocument().samples {
            let m = sample.measurements
            let back = Measurements(
                byName: m.byName, phases: m.phases, accel: m.vm.accel, machineType: m.vm.machineType)
            #expect(back == m)
            for (name, value) in m.byName where !value.isInfinite { #expect(m.value(name) == value) }
        }
        var m = Measurements(workload: ["rr_p50_ns": 40_000])
        m.vm.guestMemTotalBytes = 1e8
        #expect(m.byName == ["work_rr_p50_ns": 40_000, "guest_memtotal_bytes": 1e8])
    }

    /// The hand-written simdjson decoding of samples agrees with their `Codable` conformance (Foundation's
    /// JSONDecoder) on random samples: every optional present or absent, phases, workload values, failures.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func simdjsonSamplesMatchCodable(_ seed: UInt64) throws {
        var state = seed &* 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        func maybe(_ value: @autoclosure () -> Double) -> Double? { next() % 3 == 0 ? nil : value() }
        func number() -> Double { Double(next() % 1_000_000) / Double(1 + next() % 1000) }
        var doc = sampleDocument()
        doc.samples = (0..<300).map { index in
            var m = Measurements(
                firstOutputMs: maybe(number()), exitMs: maybe(number()), createMs: maybe(number()),
                startMs: maybe(number()), memoryPeakBytes: maybe(Double(next() % (1 << 40))),
                memoryCurrentBytes: maybe(number()), cpuNs: maybe(Double(next() % (1 << 50))))
            m.phases = (0..<Int(next() % 10)).map { Phase(name: "phase-\($0)", ms: number()) }
            if next() % 2 == 0 { m.cgroup = CgroupMeasurements(anonBytes: maybe(number()), fileBytes: maybe(number())) }
            if next() % 2 == 0 {
                m.vm = VMMeasurements(
                    accel: next() % 2 == 0 ? "tcg" : nil, machineType: next() % 2 == 0 ? "microvm" : nil,
                    pssPeakBytes: maybe(number()), rssPeakBytes: maybe(number()),
                    guestMemTotalBytes: maybe(number()), guestMemAvailableBytes: maybe(number()))
            }
            for k in 0..<Int(next() % 4) { m.workload["k\(k)_ns"] = number() }
            let failed = next() % 5 == 0
            return Sample(
                arm: ["native", "vm"][Int(next() % 2)], workload: "w\(next() % 3)", repetition: index,
                status: failed ? .timeout : .ok, failure: failed ? "timed out \"quoted\"" : nil,
                exitCode: next() % 2 == 0 ? Int32(truncatingIfNeeded: Int64(next() % 512) - 256) : nil,
                startedAt: "t\(index)", finishedAt: "t\(index + 1)", measurements: m,
                outputDigest: next() % 2 == 0 ? "sha256:\(next() % 7)" : nil)
        }
        let path = temporaryPath("random-\(seed).json")
        defer { unlink(path) }
        try ResultsStore.write(doc, to: path)
        // The simdjson path alone: `read` would fall back to JSONDecoder and hide a rejection.
        let fast = try ResultsStore.readWithSimdJSON(try ResultsStore.readPadded(path), path: path)
        let reference = try ResultsStore.readWithFoundation(path)
        #expect(reference == doc)
        #expect(fast == reference)
    }

    /// JSON the writer never produces but Codable accepts: nulls for optionals, integers for doubles, unknown keys,
    /// "inf": the hand-written path takes it as JSONDecoder does.
    @Test func simdjsonAcceptsWhatCodableAccepts() throws {
        let path = temporaryPath("variants.json")
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path)
        var object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var samples = object["samples"] as! [[String: Any]]
        samples[0]["failure"] = NSNull()
        samples[0]["outputDigest"] = NSNull()
        samples[0]["extra"] = ["ignored": true]
        var m = samples[0]["measurements"] as! [String: Any]
        m["exitMs"] = 7
        m["cpuNs"] = "inf"
        m["vm"] = NSNull()
        m["unknownField"] = 1
        samples[0]["measurements"] = m
        object["samples"] = samples
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let fast = try ResultsStore.readWithSimdJSON(try ResultsStore.readPadded(path), path: path)
        #expect(fast == (try ResultsStore.readWithFoundation(path)))
        #expect(fast.samples[0].measurements.exitMs == 7 && fast.samples[0].measurements.cpuNs == .infinity)
    }

    /// A sample the hand-written path rejects is decoded again by Foundation, whose message names the field.
    @Test func badMeasurementNamesTheField() throws {
        try expectRejected("phases.json", containing: ["phaseMs", "phaseNames"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            var m = samples[1]["measurements"] as! [String: Any]
            m["phaseMs"] = [1.0]
            samples[1]["measurements"] = m
            object["samples"] = samples
        }
    }

    /// The committed baseline (v2) and the report fixture (v1) load into today's shape: arms recorded (from
    /// armConfigs or from the samples' provenance), per-sample accel kept, and write back as v3 to the same document.
    @Test(arguments: [
        "results/baselines/default-xeon-2cpu-tcg-hybrid.json", "Tests/ReportsTests/Fixtures/results-tcg.json",
    ])
    func legacyFilesLoadAndRoundTripThroughV3(_ file: String) throws {
        let path = temporaryPath("committed-v3-" + URL(fileURLWithPath: file).lastPathComponent)
        defer { unlink(path) }
        let legacy = try ResultsStore.read(repositoryFile(file))
        #expect(!legacy.samples.isEmpty)
        #expect(legacy.schema == ResultsDocument.currentSchema)
        let armKeys = Set(legacy.arms.map(\.key))
        #expect(legacy.samples.allSatisfy { armKeys.contains($0.arm) })
        #expect(legacy.arms.contains { $0.kind == .vm })
        let vmKeys = Set(legacy.arms.filter { $0.kind == .vm }.map(\.key))
        #expect(legacy.samples.filter { vmKeys.contains($0.arm) }.allSatisfy { $0.measurements.vm.accel == "tcg" })
        #expect(legacy.samples.contains { $0.status == .ok && $0.measurements.exitMs != nil })
        try ResultsStore.write(legacy, to: path)
        #expect(try ResultsStore.read(path) == legacy)
    }

    @Test func nanMetricsSurvive() throws {
        let path = temporaryPath("nan.json")
        defer { unlink(path) }
        var doc = sampleDocument()
        doc.samples[0].measurements.exitMs = .nan
        doc.samples[1].measurements.exitMs = -.infinity
        try ResultsStore.write(doc, to: path)
        let read = try ResultsStore.read(path)
        #expect(read.samples[0].metrics["startup_exit_ms"]?.isNaN == true)
        #expect(read.samples[1].metrics["startup_exit_ms"] == -.infinity)
    }

    /// Rewrites the JSON of a valid document, then expects ResultsStore.read to fail naming `expected`.
    /// `legacy`: start from a committed file of that schema (v1: the report fixture, v2: the baseline).
    func expectRejected(
        _ name: String, legacy: String? = nil, containing expected: [String], edit: (inout [String: Any]) -> Void
    ) throws {
        let path = temporaryPath(name)
        defer { unlink(path) }
        switch legacy {
        case "v1":
            try Data(contentsOf: URL(fileURLWithPath: repositoryFile("Tests/ReportsTests/Fixtures/results-tcg.json")))
                .write(to: URL(fileURLWithPath: path))
        case "v2":
            try Data(
                contentsOf: URL(fileURLWithPath: repositoryFile("results/baselines/default-xeon-2cpu-tcg-hybrid.json"))
            ).write(to: URL(fileURLWithPath: path))
        default: try ResultsStore.write(sampleDocument(), to: path)
        }
        var object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ResultsStore.read(path)
            Issue.record("\(name): read accepted a bad document")
        } catch {
            let message = "\(error)"
            #expect(message.contains(path), "\(message)")
            for part in expected { #expect(message.contains(part), "\(message) lacks \(part)") }
        }
    }

    @Test func missingSampleFieldIsNamed() throws {
        try expectRejected("missing.json", containing: ["missing field", "samples", "workload"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[2].removeValue(forKey: "workload")
            object["samples"] = samples
        }
        try expectRejected(
            "missing-v1.json", legacy: "v1", containing: ["missing field", "samples", "provenance", "kernel"]
        ) { object in
            var samples = object["samples"] as! [[String: Any]]
            var provenance = samples[2]["provenance"] as! [String: Any]
            provenance.removeValue(forKey: "kernel")
            samples[2]["provenance"] = provenance
            object["samples"] = samples
        }
    }

    @Test func wrongMeasurementTypeIsNamed() throws {
        try expectRejected("measure-type.json", containing: ["wrong type", "samples", "measurements", "exitMs"]) {
            object in
            var samples = object["samples"] as! [[String: Any]]
            var m = samples[1]["measurements"] as! [String: Any]
            m["exitMs"] = "fast"
            samples[1]["measurements"] = m
            object["samples"] = samples
        }
    }

    @Test func wrongTypeIsNamed() throws {
        try expectRejected("type.json", containing: ["wrong type", "samples", "repetition"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[1]["repetition"] = "one"
            object["samples"] = samples
        }
    }

    @Test func outOfRangeExitCodeIsRejected() throws {
        try expectRejected("range.json", containing: ["exitCode"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[0]["exitCode"] = 1 << 40
            object["samples"] = samples
        }
    }

    @Test func unknownStatusIsRejected() throws {
        try expectRejected("status.json", containing: ["status"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[0]["status"] = "exploded"
            object["samples"] = samples
        }
    }

    @Test func v2ReferenceOutsideItsTableIsNamed() throws {
        try expectRejected("v2-index.json", legacy: "v2", containing: ["samples.1.metricSet", "metricSets"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[1]["metricSet"] = 99
            object["samples"] = samples
        }
        try expectRejected("v2-digest.json", legacy: "v2", containing: ["samples.0.digest", "digests"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[0]["digest"] = -1
            object["samples"] = samples
        }
    }

    @Test func v2ValueCountDifferentFromItsSetIsNamed() throws {
        try expectRejected("v2-count.json", legacy: "v2", containing: ["samples.2.metrics", "metricSets"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[2]["metrics"] = (samples[2]["metrics"] as! [Any]).dropLast() as [Any]
            object["samples"] = samples
        }
    }

    @Test func v2MissingSampleFieldIsNamed() throws {
        try expectRejected("v2-missing.json", legacy: "v2", containing: ["missing field", "samples", "startedAt"]) {
            object in
            var samples = object["samples"] as! [[String: Any]]
            samples[3].removeValue(forKey: "startedAt")
            object["samples"] = samples
        }
    }

    @Test func otherSchemaIsIncompatible() throws {
        try expectRejected("schema.json", containing: ["boxbench.results/v0", "is not"]) { object in
            object["schema"] = "boxbench.results/v0"
        }
    }

    @Test func notJSONAndMissingFileAreUnreadable() throws {
        let path = temporaryPath("garbage.json")
        defer { unlink(path) }
        try Data("{\"schema\": ".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ResultsError.self) { try ResultsStore.read(path) }
        do {
            _ = try ResultsStore.read(path)
        } catch {
            #expect("\(error)".contains("not JSON"))
        }
        do {
            _ = try ResultsStore.read(path + ".absent")
            Issue.record("read a missing file")
        } catch {
            #expect("\(error)".contains("cannot open"))
        }
    }

    @Test func emptyFileIsUnreadable() throws {
        let path = temporaryPath("empty.json")
        defer { unlink(path) }
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(throws: ResultsError.self) { try ResultsStore.read(path) }
    }
}
