/// Files written before schema v3, read and converted into today's `ResultsDocument` (never written):
/// v1 carried every run-level fact in each sample's `provenance`; v2 hoisted them into tables samples index.
/// Both had flat `metrics` dictionaries, which become typed `Measurements`.
enum LegacyResults {
    /// The provenance v1 and v2 stamped on every sample (v2: split into a shared table and per-sample times).
    struct Provenance: Codable, Hashable {
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

    /// The fields v1 and v2 samples both hold at the top level of each sample object.
    struct SampleHead: Decodable {
        var armKey: String
        var workload: String
        var repetition: Int
        var status: SampleStatus
        var failure: String?
        var exitCode: Int32?
    }

    /// A sample in the legacy form, whichever file it came from; decodes as a v1 sample (whose provenance object
    /// also holds the run's times).
    struct FlatSample: Decodable {
        var head: SampleHead
        var metrics: [String: Double]
        var phases: [Phase]
        var outputDigest: String?
        var provenance: Provenance
        var startedAt: String
        var finishedAt: String

        init(
            head: SampleHead, metrics: [String: Double], phases: [Phase], outputDigest: String?,
            provenance: Provenance, startedAt: String, finishedAt: String
        ) {
            (self.head, self.metrics, self.phases, self.outputDigest) = (head, metrics, phases, outputDigest)
            (self.provenance, self.startedAt, self.finishedAt) = (provenance, startedAt, finishedAt)
        }

        private enum Keys: String, CodingKey { case metrics, phases, outputDigest, provenance }
        private struct RunTimes: Decodable {
            var startedAt: String
            var finishedAt: String
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            let times = try c.decode(RunTimes.self, forKey: .provenance)
            self.init(
                head: try SampleHead(from: decoder), metrics: try c.decode([String: Double].self, forKey: .metrics),
                phases: try c.decode([Phase].self, forKey: .phases),
                outputDigest: try c.decodeIfPresent(String.self, forKey: .outputDigest),
                provenance: try c.decode(Provenance.self, forKey: .provenance), startedAt: times.startedAt,
                finishedAt: times.finishedAt)
        }
    }

    /// The top-level fields both legacy schemas share; `armConfigs` was added late in v2 (and may be absent).
    struct Envelope: Codable {
        var suite: String
        var startedAt: String
        var finishedAt: String?
        var complete: Bool
        var seed: UInt64
        var host: HostInfo
        var tool: ToolInfo
        var plan: PlanSummary
        var armConfigs: [ArmRecord]?
        var images: [ArtifactSize]
        var layerSharing: [LayerSharing]
        var density: [DensityPoint]
        var isolation: [IsolationRecord]
        var calibration: Calibration?
        var notes: [String]
    }

    /// v1: the envelope and samples each with its full provenance.
    struct FileV1: Decodable {
        var envelope: Envelope
        var samples: [FlatSample]

        private enum Key: String, CodingKey { case samples }

        init(from decoder: any Decoder) throws {
            envelope = try Envelope(from: decoder)
            samples = try decoder.container(keyedBy: Key.self).decode([FlatSample].self, forKey: .samples)
        }

        func flatSamples() -> [FlatSample] { samples }
    }

    /// v2: tables of shared provenances, metric-name sets, phase-name sets and digests that samples index.
    struct FileV2: Decodable {
        var envelope: Envelope
        var tables: Tables
        var samples: [CompactSample]

        struct Tables: Decodable {
            var provenances: [Provenance]
            var metricSets: [[String]]
            var phaseSets: [[String]]
            var digests: [String]
        }

        /// A v2 sample: the shared head, then indexes into the tables.
        struct CompactSample: Decodable {
            var head: SampleHead
            var refs: TableRefs

            struct TableRefs: Decodable {
                var metricSet: Int
                var metrics: [Double]
                var phaseSet: Int
                var phases: [Double]
                var digest: Int?
                var provenance: Int
                var startedAt: String
                var finishedAt: String
            }

            init(from decoder: any Decoder) throws {
                head = try SampleHead(from: decoder)
                refs = try TableRefs(from: decoder)
            }
        }

        private enum Key: String, CodingKey { case samples }

        init(from decoder: any Decoder) throws {
            envelope = try Envelope(from: decoder)
            tables = try Tables(from: decoder)
            samples = try decoder.container(keyedBy: Key.self).decode([CompactSample].self, forKey: .samples)
        }

        /// Throws naming the first field that references outside its table (e.g. samples.3.metricSet).
        func flatSamples() throws(Invalid) -> [FlatSample] {
            func check(_ index: Int, _ count: Int, _ path: String, _ table: String) throws(Invalid) {
                guard index >= 0 && index < count else {
                    throw Invalid(path: path, message: "\(index) is not an index of \(table) (\(count) entries)")
                }
            }
            var flat: [FlatSample] = []
            flat.reserveCapacity(samples.count)
            for (index, sample) in samples.enumerated() {
                let s = sample.refs
                let at = "samples.\(index)"
                try check(s.metricSet, tables.metricSets.count, "\(at).metricSet", "metricSets")
                try check(s.phaseSet, tables.phaseSets.count, "\(at).phaseSet", "phaseSets")
                try check(s.provenance, tables.provenances.count, "\(at).provenance", "provenances")
                if let d = s.digest { try check(d, tables.digests.count, "\(at).digest", "digests") }
                let names = tables.metricSets[s.metricSet]
                let phaseNames = tables.phaseSets[s.phaseSet]
                guard names.count == s.metrics.count else {
                    throw Invalid(
                        path: "\(at).metrics",
                        message: "\(s.metrics.count) values for the \(names.count) names of metricSets.\(s.metricSet)")
                }
                guard phaseNames.count == s.phases.count else {
                    throw Invalid(
                        path: "\(at).phases",
                        message: "\(s.phases.count) values for the \(phaseNames.count) names of phaseSets.\(s.phaseSet)"
                    )
                }
                flat.append(
                    FlatSample(
                        head: sample.head,
                        metrics: Dictionary(zip(names, s.metrics), uniquingKeysWith: { _, last in last }),
                        phases: zip(phaseNames, s.phases).map { Phase(name: $0, ms: $1) },
                        outputDigest: s.digest.map { tables.digests[$0] },
                        provenance: tables.provenances[s.provenance], startedAt: s.startedAt,
                        finishedAt: s.finishedAt))
            }
            return flat
        }
    }

    /// A v2 file whose tables and references disagree (`path` is dotted from the root).
    struct Invalid: Error {
        let path: String
        let message: String
    }

    /// Today's document from a legacy envelope and its samples: arms from `armConfigs` where recorded, else from
    /// the samples' provenance (kind, engine, machine), each with the seccomp profile its samples recorded.
    static func document(_ envelope: Envelope, _ samples: [FlatSample]) -> ResultsDocument {
        var doc = ResultsDocument(
            suite: envelope.suite, startedAt: envelope.startedAt, seed: envelope.seed, host: envelope.host,
            tool: envelope.tool, plan: envelope.plan)
        doc.finishedAt = envelope.finishedAt
        doc.complete = envelope.complete
        var arms = envelope.armConfigs ?? []
        var known = Set(arms.map(\.key))
        var seccompByArm: [String: String] = [:]
        var vcpusByArm: [String: Int] = [:]
        for s in samples {
            let armKey = s.head.armKey
            if let seccomp = s.provenance.seccomp { seccompByArm[armKey] = seccomp }
            // VM samples carried their arm's vCPU count as a metric.
            if let vcpus = s.metrics["vcpus"], vcpus >= 1, vcpus <= 1024 { vcpusByArm[armKey] = Int(vcpus) }
            guard !known.contains(armKey) else { continue }
            known.insert(armKey)
            let p = s.provenance
            arms.append(
                ArmRecord(
                    key: armKey, kind: ArmKind(rawValue: p.arm) ?? (p.accel == nil ? .container : .vm),
                    engine: p.engine, machine: p.machineType))
        }
        for index in arms.indices {
            if arms[index].seccomp == nil { arms[index].seccomp = seccompByArm[arms[index].key] }
            if arms[index].vcpus == nil { arms[index].vcpus = vcpusByArm[arms[index].key] }
        }
        doc.arms = arms
        doc.samples = samples.map { s in
            Sample(
                arm: s.head.armKey, workload: s.head.workload, repetition: s.head.repetition, status: s.head.status,
                failure: s.head.failure, exitCode: s.head.exitCode, startedAt: s.startedAt, finishedAt: s.finishedAt,
                measurements: Measurements(
                    byName: s.metrics, phases: s.phases, accel: s.provenance.accel,
                    machineType: s.provenance.machineType),
                outputDigest: s.outputDigest)
        }
        doc.images = envelope.images
        doc.layerSharing = envelope.layerSharing
        doc.density = envelope.density
        doc.isolation = envelope.isolation
        doc.calibration = envelope.calibration
        doc.notes = envelope.notes
        return doc
    }
}
