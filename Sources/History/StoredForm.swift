import Crypto
import Foundation
import Results

/// What a run becomes in any history store: its identity, its arms' configurations, and its values per series.
public enum StoredForm {
    /// Identity of a run across imports: the same document imported twice is stored once.
    public static func uid(_ doc: ResultsDocument) -> String {
        let text = "\(doc.suite)\u{0}\(doc.startedAt)\u{0}\(doc.seed)\u{0}\(doc.host.hostname)\u{0}\(doc.host.bootID)"
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Every arm's configuration as stored: the recorded arm with the accel its samples really ran with. What
    /// describes rather than configures an arm (its engine's version, its seccomp profile, what its memory figure
    /// counts) is left out: a new crun is a change in the series, not a new series.
    public static func armConfigs(_ doc: ResultsDocument) -> [String: String] {
        var records: [String: ArmRecord] = [:]
        for r in doc.arms { records[r.key] = r }
        var accel: [String: String] = [:]
        doc.forEachSample { s in
            if let a = s.pointee.measurements.vm.accel { accel[s.pointee.arm] = a }
        }
        var out: [String: String] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (key, var r) in records {
            r.memoryFigure = nil
            r.engineVersion = nil
            r.seccomp = nil
            if let a = accel[key] { r.accel = a }
            r.key = ""
            out[key] = (try? encoder.encode(r)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        return out
    }

    /// Successful and failed samples.
    public static func counts(_ doc: ResultsDocument) -> (ok: Int, failed: Int) {
        var ok = 0
        var failed = 0
        doc.forEachSample { s in if s.pointee.status == .ok { ok += 1 } else { failed += 1 } }
        return (ok, failed)
    }

    /// One entry per series: the run's finite values of it, in sample order; entries sorted by arm, workload, metric.
    public static func valuesBySeries(_ doc: ResultsDocument) -> [(
        arm: String, workload: String, metric: String, values: [Double]
    )] {
        var grouped: [String: [String: [String: [Double]]]] = [:]
        doc.forEachSample { s in
            guard s.pointee.status == .ok else { return }
            let arm = s.pointee.arm
            let workload = s.pointee.workload
            for (metric, value) in s.pointee.metrics where value.isFinite {
                grouped[arm, default: [:]][workload, default: [:]][metric, default: []].append(value)
            }
        }
        var out: [(arm: String, workload: String, metric: String, values: [Double])] = []
        for (arm, byWorkload) in grouped.sorted(by: { $0.key < $1.key }) {
            for (workload, byMetric) in byWorkload.sorted(by: { $0.key < $1.key }) {
                for (metric, values) in byMetric.sorted(by: { $0.key < $1.key }) {
                    out.append((arm, workload, metric, values))
                }
            }
        }
        return out
    }
}
