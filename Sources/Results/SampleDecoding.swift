import CSimdJSON

/// `Sample` and its `Measurements` read straight from simdjson's DOM: the same keys and rules as their
/// `Codable` conformances (required fields present, optional ones absent or null, unknown keys ignored), which
/// stay the schema. ResultsTests decodes random samples both ways and expects the same values.

extension Sample: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let o = try json.object()
        let code: Double? = try o.optional("exitCode") { try $0.double() }
        self.init(
            arm: try o.required("arm") { try $0.sharedString() },
            workload: try o.required("workload") { try $0.sharedString() },
            repetition: try o.required("repetition") { try $0.integer() },
            status: try o.required("status", SampleStatus.init(json:)),
            failure: try o.optional("failure") { try $0.string() },
            exitCode: try code.map { code in
                guard let exact = Int32(exactly: code) else {
                    throw SimdJSON.Failure(description: "exitCode: \(code) is not a 32-bit exit code")
                }
                return exact
            },
            startedAt: try o.required("startedAt") { try $0.string() },
            finishedAt: try o.required("finishedAt") { try $0.string() },
            measurements: try o.required("measurements", Measurements.init(json:)),
            outputDigest: try o.optional("outputDigest") { try $0.sharedString() })
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

extension Measurements: SimdJSONDecodable {
    init(json: JSONValue) throws {
        let o = try json.object()
        func number(_ value: JSONValue) throws -> Double { try value.double() }
        let names: [String] = try o.optional("phaseNames") { try $0.array().map { try $0.sharedString() } } ?? []
        let ms: [Double] = try o.optional("phaseMs") { try $0.array().map { try $0.double() } } ?? []
        guard names.count == ms.count else {
            throw SimdJSON.Failure(description: "phaseMs: \(ms.count) values for \(names.count) phaseNames")
        }
        var workload: [String: Double] = [:]
        if let w = o.optional("workload"), !w.isNull {
            let fields = try w.object()
            workload.reserveCapacity(fields.fields.count)
            try fields.forEach { key, value in workload[key] = try SimdJSON.Failure.at(key) { try value.double() } }
        }
        self.init(
            firstOutputMs: try o.optional("firstOutputMs", number), exitMs: try o.optional("exitMs", number),
            createMs: try o.optional("createMs", number), startMs: try o.optional("startMs", number),
            memoryPeakBytes: try o.optional("memoryPeakBytes", number),
            memoryCurrentBytes: try o.optional("memoryCurrentBytes", number), cpuNs: try o.optional("cpuNs", number),
            phases: zip(names, ms).map { Phase(name: $0, ms: $1) },
            cgroup: try o.optional("cgroup") { value in
                let c = try value.object()
                return CgroupMeasurements(
                    anonBytes: try c.optional("anonBytes", number), fileBytes: try c.optional("fileBytes", number))
            } ?? CgroupMeasurements(),
            vm: try o.optional("vm") { value in
                let v = try value.object()
                return VMMeasurements(
                    accel: try v.optional("accel") { try $0.sharedString() },
                    machineType: try v.optional("machineType") { try $0.sharedString() },
                    pssPeakBytes: try v.optional("pssPeakBytes", number),
                    rssPeakBytes: try v.optional("rssPeakBytes", number),
                    guestMemTotalBytes: try v.optional("guestMemTotalBytes", number),
                    guestMemAvailableBytes: try v.optional("guestMemAvailableBytes", number))
            } ?? VMMeasurements(),
            workload: workload)
    }
}
