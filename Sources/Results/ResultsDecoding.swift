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
            finishedAt: try o.required("finishedAt") { try $0.string() })
    }
}
