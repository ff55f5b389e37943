import CSimdJSON

/// Hand-written decoding of the per-sample types from simdjson's DOM (see `SimdJSONDecodable`): the same
/// keys and rules as their synthesized `Decodable` conformances (required fields must be present, optional
/// ones may be absent or null, unknown keys are ignored). ResultsTests round-trips documents through both.

extension Sample: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let o = try json.object()
        self.init(
            armKey: try o.required("armKey") { try $0.sharedString() },
            workload: try o.required("workload") { try $0.sharedString() },
            repetition: try o.required("repetition") { try $0.integer() },
            status: try o.required("status", SampleStatus.init(json:)),
            failure: try o.optional("failure") { try $0.string() },
            exitCode: try o.optional("exitCode") { try $0.integer() },
            metrics: try o.required("metrics", Self.metrics),
            phases: try o.required("phases", [Phase].init(json:)),
            outputDigest: try o.optional("outputDigest") { try $0.sharedString() },
            provenance: try o.required("provenance", Provenance.init(json:)))
    }

    private static func metrics(_ json: JSONValue) throws -> [String: Double] {
        let o = try json.object()
        var metrics = [String: Double](minimumCapacity: o.fields.count)
        try o.forEach { name, value in metrics[name] = try SimdJSON.Failure.at(name) { try value.double() } }
        return metrics
    }
}

extension SampleStatus: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let raw = try json.sharedString()
        guard let status = SampleStatus(rawValue: raw) else {
            throw SimdJSON.Failure(description: "unknown sample status \(raw)")
        }
        self = status
    }
}

extension Phase: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let o = try json.object()
        self.init(name: try o.required("name") { try $0.sharedString() }, ms: try o.required("ms") { try $0.double() })
    }
}

extension Provenance: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let o = try json.object()
        self.init(
            arm: try o.required("arm") { try $0.sharedString() },
            engine: try o.required("engine") { try $0.sharedString() },
            accel: try o.optional("accel") { try $0.sharedString() },
            machineType: try o.optional("machineType") { try $0.sharedString() },
            cgroupMode: try o.required("cgroupMode") { try $0.sharedString() },
            kernel: try o.required("kernel") { try $0.sharedString() },
            cpuModel: try o.required("cpuModel") { try $0.sharedString() },
            boxbenchVersion: try o.required("boxbenchVersion") { try $0.sharedString() },
            commit: try o.required("commit") { try $0.sharedString() },
            cacheMode: try o.required("cacheMode") { try $0.sharedString() },
            seed: try o.required("seed") { try $0.integer() },
            repetition: try o.required("repetition") { try $0.integer() },
            startedAt: try o.required("startedAt") { try $0.string() },
            finishedAt: try o.required("finishedAt") { try $0.string() },
            seccomp: try o.optional("seccomp") { try $0.sharedString() })
    }
}

/// The v2 fast path: the envelope through `Decodable`, then each compact sample straight into a `Sample`
/// (no intermediate `CompactSample`). Any disagreement with the tables throws; the caller then decodes with
/// Foundation, whose path (`ResultsFileV2.document()`) names the field.
enum FastV2 {
    static func document(_ root: JSONValue) throws -> ResultsDocument {
        let envelope = try root.decode(ResultsFileV2.Envelope.self)
        let tables = try V2Tables(envelope)
        let samplesJSON = try root.object().required("samples") { $0 }
        guard csj_type_of(samplesJSON.raw) == CSJ_ARRAY else { throw JSONScalars.mismatch("an array", samplesJSON.raw) }
        let elements = arrayElements(samplesJSON.raw)
        var samples: [Sample] = []
        samples.reserveCapacity(elements.count)
        for element in elements {
            samples.append(try tables.sample(json: JSONValue(raw: element, strings: root.strings)))
        }
        return envelope.document(samples: samples)
    }
}

extension V2Tables {
    func sample(json: JSONValue) throws -> Sample {
        let o = try json.object()
        let metricSet: Int = try o.required("metricSet") { try $0.integer() }
        let phaseSet: Int = try o.required("phaseSet") { try $0.integer() }
        let provenanceIndex: Int = try o.required("provenance") { try $0.integer() }
        let digest: Int? = try o.optional("digest") { try $0.integer() }
        try check(metricSet, of: metricSets.count, "metricSet", table: "metricSets")
        try check(phaseSet, of: phaseSets.count, "phaseSet", table: "phaseSets")
        try check(provenanceIndex, of: provenances.count, "provenance", table: "provenances")
        if let digest { try check(digest, of: digests.count, "digest", table: "digests") }
        let template = metricTemplates[metricSet]
        let metrics = try o.required("metrics") { value -> [String: Double] in
            let values = try Self.elements(value, count: template.slots.count)
            var metrics = template.dictionary
            for (slot, value) in zip(template.slots, values) { metrics.values[slot] = try JSONScalars.double(value) }
            return metrics
        }
        let phaseNames = phaseSets[phaseSet]
        let phases = try o.required("phases") { value -> [Phase] in
            let values = try Self.elements(value, count: phaseNames.count)
            var phases: [Phase] = []
            phases.reserveCapacity(values.count)
            for (name, value) in zip(phaseNames, values) {
                phases.append(Phase(name: name, ms: try JSONScalars.double(value)))
            }
            return phases
        }
        let repetition: Int = try o.required("repetition") { try $0.integer() }
        return Sample(
            armKey: try o.required("armKey") { try $0.sharedString() },
            workload: try o.required("workload") { try $0.sharedString() },
            repetition: repetition,
            status: try o.required("status", SampleStatus.init(json:)),
            failure: try o.optional("failure") { try $0.string() },
            exitCode: try o.optional("exitCode") { try $0.integer() },
            metrics: metrics, phases: phases, outputDigest: digest.map { digests[$0] },
            provenance: provenance(
                provenanceIndex, repetition: try o.optional("provenanceRepetition") { try $0.integer() } ?? repetition,
                startedAt: try o.required("startedAt") { try $0.string() },
                finishedAt: try o.required("finishedAt") { try $0.string() }))
    }

    private static func elements(_ value: JSONValue, count: Int) throws -> [csj_value] {
        guard csj_type_of(value.raw) == CSJ_ARRAY else { throw JSONScalars.mismatch("an array", value.raw) }
        let elements = arrayElements(value.raw)
        guard elements.count == count else { throw SimdJSON.Failure(description: "length differs from its set") }
        return elements
    }
}
