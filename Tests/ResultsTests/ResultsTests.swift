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
    for repetition in 0..<2 {
        for arm in ["native", "vm"] {
            let provenance = Provenance(
                arm: arm, engine: arm == "vm" ? "libvirt" : "native", accel: arm == "vm" ? "tcg" : nil,
                machineType: arm == "vm" ? "pc" : nil, cgroupMode: "hybrid", kernel: "6.1.0", cpuModel: "CPU",
                boxbenchVersion: "0.1.0", commit: "abc", cacheMode: "warm", seed: UInt64.max - 7,
                repetition: repetition, startedAt: "2026-11-29T00:00:0\(repetition).000Z",
                finishedAt: "2026-11-29T00:00:0\(repetition).500Z",
                seccomp: arm == "vm" ? nil : "boxbench-default v2, 306 syscalls allowed")
            doc.samples.append(
                Sample(
                    armKey: arm, workload: "hello", repetition: repetition, status: .ok, exitCode: 0,
                    metrics: [
                        "startup_exit_ms": 1.25 + Double(repetition), "cpu_ns": 1_197_791, "work_x_per_s": .infinity,
                    ],
                    phases: arm == "vm"
                        ? [Phase(name: "qemu-alive", ms: 12.5), Phase(name: "first-output", ms: 2300)] : [],
                    outputDigest: "sha256:ab", provenance: provenance))
        }
    }
    doc.samples.append(
        Sample(
            armKey: "vm", workload: "hello", repetition: 2, status: .oomKilled, failure: "killed: \u{1F4A5}\nline 2",
            exitCode: -9,
            provenance: doc.samples[1].provenance))
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

/// Reads `path` through Foundation's JSONDecoder only (the reference the fast path must agree with).
func readWithFoundation(_ path: String) throws -> ResultsDocument {
    try ResultsStore.decodeWithFoundation(try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
}

@Suite struct ResultsStoreTests {
    @Test func writtenDocumentReadsBackEqual() throws {
        let path = temporaryPath("roundtrip.json")
        defer { unlink(path) }
        let doc = sampleDocument()
        try ResultsStore.write(doc, to: path)
        let read = try ResultsStore.read(path)
        #expect(read == doc)
        #expect(read == (try readWithFoundation(path)))
        #expect(read.seed == UInt64.max - 7)
        #expect(read.samples[0].metrics["work_x_per_s"] == .infinity)
        #expect(read.samples.last?.failure == "killed: \u{1F4A5}\nline 2")
        #expect(read.samples[0].provenance.accel == nil && read.samples[1].provenance.accel == "tcg")
    }

    @Test func writesCompactV2() throws {
        let path = temporaryPath("v2.json")
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""schema":"boxbench.results/v2""#))
        #expect(!text.contains("\n"))
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        // Two arms' shared provenance, each stored once; per-run fields stay with the sample.
        #expect((object["provenances"] as! [Any]).count == 2)
        #expect((object["digests"] as! [String]) == ["sha256:ab"])
        let first = (object["samples"] as! [[String: Any]])[0]
        #expect(first["startedAt"] as? String == "2026-11-29T00:00:00.000Z")
        #expect(first["provenanceRepetition"] == nil)
    }

    @Test func v1AndV2LoadToTheSameDocument() throws {
        let v1 = temporaryPath("same-v1.json")
        let v2 = temporaryPath("same-v2.json")
        defer {
            unlink(v1)
            unlink(v2)
        }
        var doc = sampleDocument()
        // A provenance repetition different from the sample's survives v2's elision of the equal case.
        doc.samples[3].provenance.repetition = 7
        try ResultsStore.write(doc, to: v1, schema: .v1)
        try ResultsStore.write(doc, to: v2)
        #expect(try String(contentsOfFile: v1, encoding: .utf8).contains(#""schema" : "boxbench.results\/v1""#))
        let fromV1 = try ResultsStore.read(v1)
        let fromV2 = try ResultsStore.read(v2)
        #expect(fromV1 == doc)
        #expect(fromV2 == doc)
        #expect(fromV2.schema == ResultsDocument.currentSchema)
        #expect(try readWithFoundation(v1) == doc)
        #expect(try readWithFoundation(v2) == doc)
    }

    /// v2 samples of one metric set share a template dictionary until written to: each stays its own value.
    @Test func v2MetricsAreIndependentValues() throws {
        let path = temporaryPath("v2-cow.json")
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path)
        var read = try ResultsStore.read(path)
        read.samples[0].metrics["cpu_ns"] = 5
        read.samples[0].metrics["new_metric_ms"] = 1
        read.samples[2].metrics.removeValue(forKey: "startup_exit_ms")
        #expect(
            read.samples[0].metrics == [
                "cpu_ns": 5, "startup_exit_ms": 1.25, "work_x_per_s": .infinity, "new_metric_ms": 1,
            ])
        #expect(read.samples[1].metrics == sampleDocument().samples[1].metrics)
        #expect(read.samples[2].metrics == ["cpu_ns": 1_197_791, "work_x_per_s": .infinity])
        #expect(read.samples[3].metrics == sampleDocument().samples[3].metrics)
    }

    /// The committed baseline (v2) and the report fixture (a v1 file) load, and write back as v2 to the same document.
    @Test(arguments: [
        "results/baselines/default-xeon-2cpu-tcg-hybrid.json", "Tests/ReportsTests/Fixtures/results-tcg.json",
    ])
    func committedFilesRoundTripThroughV2(_ file: String) throws {
        let path = temporaryPath("committed-v2-" + URL(fileURLWithPath: file).lastPathComponent)
        defer { unlink(path) }
        let v1 = try ResultsStore.read(repositoryFile(file))
        try ResultsStore.write(v1, to: path)
        #expect(try ResultsStore.read(path) == v1)
        #expect(try readWithFoundation(path) == v1)
    }

    /// Files are mapped when the zeros after their end in the last page cover simdjson's padding, and read
    /// otherwise: both paths, at and around page boundaries, load the same document.
    @Test(arguments: [0, 10, 64, 65, 200])
    func filesEndingNearAPageBoundaryLoad(_ shortOfPage: Int) throws {
        let path = temporaryPath("page-\(shortOfPage).json")
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let target = (data.count / page + 2) * page - shortOfPage
        data.append(Data(repeating: UInt8(ascii: " "), count: target - data.count))
        try data.write(to: URL(fileURLWithPath: path))
        #expect(try ResultsStore.read(path) == sampleDocument())
    }

    @Test func nanMetricsSurviveTheFastPath() throws {
        let path = temporaryPath("nan.json")
        defer { unlink(path) }
        var doc = sampleDocument()
        doc.samples[0].metrics["startup_exit_ms"] = .nan
        doc.samples[1].metrics["startup_exit_ms"] = -.infinity
        try ResultsStore.write(doc, to: path)
        let read = try ResultsStore.read(path)
        #expect(read.samples[0].metrics["startup_exit_ms"]?.isNaN == true)
        #expect(read.samples[1].metrics["startup_exit_ms"] == -.infinity)
    }

    @Test(arguments: [
        "results/baselines/default-xeon-2cpu-tcg-hybrid.json", "Tests/ReportsTests/Fixtures/results-tcg.json",
    ])
    func committedFilesReadAsFoundationReadsThem(_ file: String) throws {
        let path = repositoryFile(file)
        let fast = try ResultsStore.read(path)
        #expect(!fast.samples.isEmpty)
        #expect(fast == (try readWithFoundation(path)))
    }

    /// Rewrites the JSON of a valid document, then expects ResultsStore.read to fail naming `expected`.
    func expectRejected(
        _ name: String, schema: ResultsStore.Schema = .v1, containing expected: [String],
        edit: (inout [String: Any]) -> Void
    ) throws {
        let path = temporaryPath(name)
        defer { unlink(path) }
        try ResultsStore.write(sampleDocument(), to: path, schema: schema)
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
        try expectRejected("missing.json", containing: ["missing field", "samples", "provenance", "kernel"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            var provenance = samples[2]["provenance"] as! [String: Any]
            provenance.removeValue(forKey: "kernel")
            samples[2]["provenance"] = provenance
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
        try expectRejected("v2-index.json", schema: .v2, containing: ["samples.1.metricSet", "metricSets"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[1]["metricSet"] = 99
            object["samples"] = samples
        }
        try expectRejected("v2-digest.json", schema: .v2, containing: ["samples.0.digest", "digests"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[0]["digest"] = -1
            object["samples"] = samples
        }
    }

    @Test func v2ValueCountDifferentFromItsSetIsNamed() throws {
        try expectRejected("v2-count.json", schema: .v2, containing: ["samples.2.metrics", "metricSets"]) { object in
            var samples = object["samples"] as! [[String: Any]]
            samples[2]["metrics"] = (samples[2]["metrics"] as! [Any]).dropLast() as [Any]
            object["samples"] = samples
        }
    }

    @Test func v2MissingSampleFieldIsNamed() throws {
        try expectRejected("v2-missing.json", schema: .v2, containing: ["missing field", "samples", "startedAt"]) {
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

@Suite struct SimdJSONTests {
    struct Mixed: Codable, Equatable {
        var small: Int8
        var big: UInt64
        var negative: Int64
        var ratio: Float
        var flag: Bool
        var maybe: String?
        var nested: [[Double]]
        var table: [String: Int]
    }

    @Test func decodesWhatJSONDecoderDecodes() throws {
        let value = Mixed(
            small: -128, big: UInt64.max, negative: Int64.min, ratio: 0.5, flag: true, maybe: nil,
            nested: [[], [1, 2.5, -3e-300]], table: ["a": 1, "b\u{e9}": -2])
        let data = try JSONEncoder().encode(value)
        #expect(try SimdJSON.decode(Mixed.self, from: SimdJSON.PaddedBytes(data)) == value)
    }

    @Test func rejectsWhatDoesNotFit() throws {
        for text in [
            #"{"small":128,"big":1,"negative":1,"ratio":1,"flag":true,"nested":[],"table":{}}"#,
            #"{"small":1,"big":-1,"negative":1,"ratio":1,"flag":true,"nested":[],"table":{}}"#,
            #"{"small":1.5,"big":1,"negative":1,"ratio":1,"flag":true,"nested":[],"table":{}}"#,
            #"{"small":1,"big":1,"negative":1,"ratio":1,"flag":1,"nested":[],"table":{}}"#,
            #"{"big":1,"negative":1,"ratio":1,"flag":true,"nested":[],"table":{}}"#,
            #"{"small":1,"big":1,"negative":1,"ratio":1,"flag":true,"nested":[],"table":{}"#,
        ] {
            #expect(throws: (any Error).self, "\(text)") {
                try SimdJSON.decode(Mixed.self, from: SimdJSON.PaddedBytes(Data(text.utf8)))
            }
            #expect(throws: (any Error).self, "\(text)") { try JSONDecoder().decode(Mixed.self, from: Data(text.utf8)) }
        }
    }

    @Test func sharedStringsAreEqualToFreshOnes() {
        let table = StringTable()
        for text in ["", "vm", "startup_first_output_ms", "Intel(R) Xeon(R) Processor", "h\u{e9}te"] {
            var bytes = Array(text.utf8)
            let first = bytes.withUnsafeMutableBytes { table.string(UnsafeRawBufferPointer($0)) }
            bytes.append(0)
            let second = bytes.withUnsafeMutableBytes { table.string(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
            #expect(first == text)
            #expect(second == text)
        }
    }
}
