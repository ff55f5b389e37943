import Foundation

/// Results schema v2 (`boxbench.results/v2`), what `ResultsStore.write` writes: v1's document with what
/// repeats from sample to sample hoisted into tables that samples reference by index, and no pretty-printing
/// (a 100 000-sample file is ~4× smaller than in v1, and loads in a fraction of the time). Loading expands
/// it into the same `ResultsDocument` a v1 file gives: every sample still carries its full provenance.
///
/// Tables (top level, next to v1's fields): `provenances` (the provenance fields runs share: arm, engine,
/// accel, machineType, cgroupMode, kernel, cpuModel, boxbenchVersion, commit, cacheMode, seed),
/// `metricSets` (sorted metric names), `phaseSets` (phase names in order), `digests` (output digests).
/// Each sample: `armKey`, `workload`, `repetition`, `status`, `failure`, `exitCode`, `metricSet` + `metrics`
/// (values in the set's order), `phaseSet` + `phases` (milliseconds in the set's order), `digest`,
/// `provenance` (index) with the per-run `startedAt`, `finishedAt` and, only when it differs from the
/// sample's, `provenanceRepetition`.
struct ResultsFileV2: Codable {
    var envelope: Envelope
    var samples: [CompactSample]

    /// Everything but the samples: v1's top-level fields and the v2 tables.
    struct Envelope: Codable {
        var schema: String
        var suite: String
        var startedAt: String
        var finishedAt: String?
        var complete: Bool
        var seed: UInt64
        var host: HostInfo
        var tool: ToolInfo
        var plan: PlanSummary
        var provenances: [SharedProvenance]
        var metricSets: [[String]]
        var phaseSets: [[String]]
        var digests: [String]
        var armConfigs: [ArmRecord]?
        var images: [ArtifactSize]
        var layerSharing: [LayerSharing]
        var density: [DensityPoint]
        var isolation: [IsolationRecord]
        var calibration: Calibration?
        var notes: [String]
    }

    /// The provenance fields that do not change from run to run of one arm.
    struct SharedProvenance: Codable, Hashable {
        var arm: String
        var engine: String
        var accel: String?
        var machineType: String?
        var cgroupMode: String
        var kernel: String
        var cpuModel: String
        var boxbenchVersion: String
        var commit: String
        var cacheMode: String
        var seed: UInt64
        var seccomp: String?
    }

    struct CompactSample: Codable {
        var armKey: String
        var workload: String
        var repetition: Int
        var status: SampleStatus
        var failure: String?
        var exitCode: Int32?
        var metricSet: Int
        var metrics: [Double]
        var phaseSet: Int
        var phases: [Double]
        var digest: Int?
        var provenance: Int
        var provenanceRepetition: Int?
        var startedAt: String
        var finishedAt: String
    }

    private enum SampleKey: String, CodingKey { case samples }

    init(from decoder: any Decoder) throws {
        envelope = try Envelope(from: decoder)
        samples = try decoder.container(keyedBy: SampleKey.self).decode([CompactSample].self, forKey: .samples)
    }

    func encode(to encoder: any Encoder) throws {
        try envelope.encode(to: encoder)
        var container = encoder.container(keyedBy: SampleKey.self)
        try container.encode(samples, forKey: .samples)
    }

    init(_ doc: ResultsDocument) {
        var provenances: [SharedProvenance] = []
        var metricSets: [[String]] = []
        var phaseSets: [[String]] = []
        var digests: [String] = []
        var provenanceIndex: [SharedProvenance: Int] = [:]
        var metricSetIndex: [[String]: Int] = [:]
        var phaseSetIndex: [[String]: Int] = [:]
        var digestIndex: [String: Int] = [:]
        func index<Key: Hashable>(_ key: Key, in table: inout [Key], _ indices: inout [Key: Int]) -> Int {
            if let known = indices[key] { return known }
            indices[key] = table.count
            table.append(key)
            return table.count - 1
        }
        samples = doc.samples.map { sample in
            let p = sample.provenance
            let shared = SharedProvenance(
                arm: p.arm, engine: p.engine, accel: p.accel, machineType: p.machineType, cgroupMode: p.cgroupMode,
                kernel: p.kernel, cpuModel: p.cpuModel, boxbenchVersion: p.boxbenchVersion, commit: p.commit,
                cacheMode: p.cacheMode, seed: p.seed, seccomp: p.seccomp)
            let metricNames = sample.metrics.keys.sorted()
            return CompactSample(
                armKey: sample.armKey, workload: sample.workload, repetition: sample.repetition, status: sample.status,
                failure: sample.failure, exitCode: sample.exitCode,
                metricSet: index(metricNames, in: &metricSets, &metricSetIndex),
                metrics: metricNames.map { sample.metrics[$0]! },
                phaseSet: index(sample.phases.map(\.name), in: &phaseSets, &phaseSetIndex),
                phases: sample.phases.map(\.ms),
                digest: sample.outputDigest.map { index($0, in: &digests, &digestIndex) },
                provenance: index(shared, in: &provenances, &provenanceIndex),
                provenanceRepetition: p.repetition == sample.repetition ? nil : p.repetition,
                startedAt: p.startedAt, finishedAt: p.finishedAt)
        }
        envelope = Envelope(
            schema: ResultsDocument.currentSchema, suite: doc.suite, startedAt: doc.startedAt,
            finishedAt: doc.finishedAt, complete: doc.complete, seed: doc.seed, host: doc.host, tool: doc.tool,
            plan: doc.plan, provenances: provenances, metricSets: metricSets, phaseSets: phaseSets, digests: digests,
            armConfigs: doc.armConfigs, images: doc.images, layerSharing: doc.layerSharing, density: doc.density,
            isolation: doc.isolation,
            calibration: doc.calibration, notes: doc.notes)
    }

    /// The document this file describes; throws naming the first field that references outside its table.
    func document() throws(V2Invalid) -> ResultsDocument {
        let tables = try V2Tables(envelope)
        var samples: [Sample] = []
        samples.reserveCapacity(self.samples.count)
        for (index, compact) in self.samples.enumerated() {
            samples.append(try tables.sample(compact, at: index))
        }
        return envelope.document(samples: samples)
    }
}

/// A v2 file whose tables and references disagree (`path` is dotted from the root, e.g. samples.3.metricSet).
struct V2Invalid: Error {
    let path: String
    let message: String
}

extension ResultsFileV2.Envelope {
    func document(samples: [Sample]) -> ResultsDocument {
        var doc = ResultsDocument(
            suite: suite, startedAt: startedAt, seed: seed, host: host, tool: tool, plan: plan)
        doc.finishedAt = finishedAt
        doc.complete = complete
        doc.samples = samples
        doc.images = images
        doc.layerSharing = layerSharing
        doc.density = density
        doc.isolation = isolation
        doc.calibration = calibration
        doc.notes = notes
        doc.armConfigs = armConfigs
        return doc
    }
}

/// The v2 tables, checked once, and the expansion of one compact sample into a full `Sample`.
struct V2Tables {
    let provenances: [ResultsFileV2.SharedProvenance]
    let metricSets: [[String]]
    let phaseSets: [[String]]
    let digests: [String]
    /// Per metric set, a dictionary of its names (values 0) and the index of each name in it: a sample's
    /// metrics are a copy of it with the values stored by index. Copying a dictionary copies its hash table
    /// as is (same layout, same seed), so its indices stay valid and no name is hashed per sample.
    let metricTemplates: [(dictionary: [String: Double], slots: [Dictionary<String, Double>.Index])]

    init(_ envelope: ResultsFileV2.Envelope) throws(V2Invalid) {
        var templates: [(dictionary: [String: Double], slots: [Dictionary<String, Double>.Index])] = []
        for (index, names) in envelope.metricSets.enumerated() {
            var dictionary = [String: Double](minimumCapacity: names.count)
            for name in names { dictionary[name] = 0 }
            guard dictionary.count == names.count else {
                throw V2Invalid(path: "metricSets.\(index)", message: "a metric name appears twice")
            }
            templates.append((dictionary, names.map { dictionary.index(forKey: $0)! }))
        }
        metricTemplates = templates
        provenances = envelope.provenances
        metricSets = envelope.metricSets
        phaseSets = envelope.phaseSets
        digests = envelope.digests
    }

    func check(_ index: Int, of count: Int, _ path: @autoclosure () -> String, table: String) throws(V2Invalid) {
        guard index >= 0 && index < count else {
            throw V2Invalid(path: path(), message: "\(index) is not an index of \(table) (\(count) entries)")
        }
    }

    func provenance(_ index: Int, repetition: Int, startedAt: String, finishedAt: String) -> Provenance {
        let shared = provenances[index]
        return Provenance(
            arm: shared.arm, engine: shared.engine, accel: shared.accel, machineType: shared.machineType,
            cgroupMode: shared.cgroupMode, kernel: shared.kernel, cpuModel: shared.cpuModel,
            boxbenchVersion: shared.boxbenchVersion, commit: shared.commit, cacheMode: shared.cacheMode,
            seed: shared.seed, repetition: repetition, startedAt: startedAt, finishedAt: finishedAt,
            seccomp: shared.seccomp)
    }

    func sample(_ s: ResultsFileV2.CompactSample, at index: Int) throws(V2Invalid) -> Sample {
        let at = "samples.\(index)"
        try check(s.metricSet, of: metricSets.count, "\(at).metricSet", table: "metricSets")
        try check(s.phaseSet, of: phaseSets.count, "\(at).phaseSet", table: "phaseSets")
        try check(s.provenance, of: provenances.count, "\(at).provenance", table: "provenances")
        if let digest = s.digest { try check(digest, of: digests.count, "\(at).digest", table: "digests") }
        let names = metricSets[s.metricSet]
        guard names.count == s.metrics.count else {
            throw V2Invalid(
                path: "\(at).metrics",
                message: "\(s.metrics.count) values for the \(names.count) names of metricSets.\(s.metricSet)")
        }
        let phaseNames = phaseSets[s.phaseSet]
        guard phaseNames.count == s.phases.count else {
            throw V2Invalid(
                path: "\(at).phases",
                message: "\(s.phases.count) values for the \(phaseNames.count) names of phaseSets.\(s.phaseSet)")
        }
        var metrics = [String: Double](minimumCapacity: names.count)
        for (name, value) in zip(names, s.metrics) { metrics[name] = value }
        return Sample(
            armKey: s.armKey, workload: s.workload, repetition: s.repetition, status: s.status, failure: s.failure,
            exitCode: s.exitCode, metrics: metrics,
            phases: zip(phaseNames, s.phases).map { Phase(name: $0, ms: $1) },
            outputDigest: s.digest.map { digests[$0] },
            provenance: provenance(
                s.provenance, repetition: s.provenanceRepetition ?? s.repetition, startedAt: s.startedAt,
                finishedAt: s.finishedAt))
    }
}
