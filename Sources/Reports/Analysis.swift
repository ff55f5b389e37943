import Foundation
import Results
import Stats

/// Statistics of one metric of one arm in one workload, from its successful samples only.
public struct ArmMetricStats: Sendable {
    public let workload: String
    public let armKey: String
    public let metric: Metric
    public let summary: Summary
    /// Bootstrap interval of the median; nil below `Bootstrap.minimumSampleCount` values.
    public let medianInterval: ConfidenceInterval?
    /// Values whose modified z-score exceeds 3.5: counted and shown, still part of every statistic.
    public let outlierCount: Int
    /// NaN or infinite values left out of the statistics (shown next to n when non-zero).
    public let nonFiniteCount: Int
    /// Resampled medians kept so ratios between arms reuse them instead of resampling again.
    let bootstrapMedians: [Double]
    let sortedValues: [Double]
}

/// median(numerator arm) ÷ median(denominator arm) with its bootstrap interval.
public struct RatioEstimate: Sendable {
    public let numeratorArm: String
    public let denominatorArm: String
    public let value: Double
    public let interval: ConfidenceInterval?

    public var label: String { "\(numeratorArm)÷\(denominatorArm)" }
}

/// One workload × metric: every arm that measured it, and the standard ratios between arms.
public struct MetricRow: Sendable {
    public let workload: String
    public let metric: Metric
    public let arms: [ArmMetricStats]
    public let ratios: [RatioEstimate]
}

/// How many runs of one workload in one arm succeeded and how the others ended.
public struct ArmOutcome: Sendable {
    public let workload: String
    public let armKey: String
    public var succeeded: Int
    public var failed: Int
    /// Count per non-ok status, e.g. ["timeout": 2].
    public var failuresByStatus: [String: Int]
    /// The first failure message seen, to say why without listing every run.
    public var firstFailure: String?
}

public struct AnalysisOptions: Sendable {
    public var resamples: Int
    public var level: Double

    public init(resamples: Int = 2000, level: Double = 0.95) {
        self.resamples = resamples
        self.level = level
    }
}

/// Everything the renderers show, computed once per document. Failed samples are excluded from
/// statistics and counted in `outcomes`.
public struct ReportAnalysis: Sendable {
    /// Ratios every table shows, by arm kind: every arm of the first kind over every arm of the second.
    public static let standardRatioKinds: [(String, String)] = [
        ("vm", "container"), ("container", "native"), ("vm", "native"),
    ]

    public let document: ResultsDocument
    public let options: AnalysisOptions
    public let workloads: [String]
    public let arms: [String]
    public let rows: [MetricRow]
    public let outcomes: [ArmOutcome]
    /// Accelerator per VM arm key ("kvm"/"tcg"), from sample provenance.
    public let accelByArm: [String: String]
    /// Each arm's kind ("native", "container", "vm"): claims pick arms by kind, never by name.
    public let kindByArm: [String: String]
    let statsByKey: [StatsKey: ArmMetricStats]
    /// Conditions of this run that bend claims, from provenance and plan.
    public private(set) var setupCaveats: [SetupCaveat] = []
    /// Verdicts on C1–C7.
    public private(set) var claims: [ClaimAssessment] = []

    struct StatsKey: Hashable {
        let workload: String
        let armKey: String
        let metric: String
    }

    public init(_ document: ResultsDocument, options: AnalysisOptions = AnalysisOptions()) {
        self.document = document
        self.options = options

        struct GroupKey: Hashable {
            let workload: String
            let armKey: String
        }
        // One dictionary lookup per sample (its group's index) and one per metric value: 100 000 samples
        // of ~10 metrics each must not hash the group's strings per value.
        var groupIndex: [GroupKey: Int] = [:]
        var groups: [GroupKey] = []
        // Per group: the values of each metric by slot; the slot of each typed field by its index (no hashing),
        // of each workload value by its key.
        var valuesByGroup: [[[Double]]] = []
        var slotNames: [[String]] = []
        var typedSlots: [[Int?]] = []
        var workloadSlots: [[String: Int]] = []
        var outcomes: [ArmOutcome] = []
        var accelByArm: [String: String] = [:]
        var kindByArm: [String: String] = [:]
        for record in document.arms { kindByArm[record.key] = record.kind.rawValue }
        // The previous sample's group: runs of one group are common, and its key need not be hashed again.
        var last: (group: GroupKey, index: Int)? = nil
        document.forEachSample { sample in
            let group = GroupKey(workload: sample.pointee.workload, armKey: sample.pointee.arm)
            let index: Int
            if let last, last.group == group {
                index = last.index
            } else if let known = groupIndex[group] {
                index = known
            } else {
                index = groups.count
                groupIndex[group] = index
                groups.append(group)
                valuesByGroup.append([])
                slotNames.append([])
                typedSlots.append(Array(repeating: nil, count: Measurements.typedMetricNames.count))
                workloadSlots.append([:])
                outcomes.append(
                    ArmOutcome(
                        workload: group.workload, armKey: group.armKey, succeeded: 0, failed: 0,
                        failuresByStatus: [:], firstFailure: nil))
            }
            last = (group, index)
            if accelByArm[group.armKey] == nil, let accel = sample.pointee.measurements.vm.accel {
                accelByArm[group.armKey] = accel
            }
            let status = sample.pointee.status
            if status == .ok {
                outcomes[index].succeeded += 1
                func newSlot(_ name: String) -> Int {
                    slotNames[index].append(name)
                    valuesByGroup[index].append([])
                    return slotNames[index].count - 1
                }
                sample.pointee.measurements.forEachValue(
                    typed: { field, value in
                        let slot = typedSlots[index][field] ?? newSlot(Measurements.typedMetricNames[field])
                        typedSlots[index][field] = slot
                        valuesByGroup[index][slot].append(value)
                    },
                    workload: { key, value in
                        let slot = workloadSlots[index][key] ?? newSlot("work_" + key)
                        workloadSlots[index][key] = slot
                        valuesByGroup[index][slot].append(value)
                    })
            } else {
                outcomes[index].failed += 1
                outcomes[index].failuresByStatus[status.rawValue, default: 0] += 1
                if outcomes[index].firstFailure == nil {
                    outcomes[index].firstFailure = sample.pointee.failure ?? status.rawValue
                }
            }
        }
        let outcomeByGroup = Dictionary(uniqueKeysWithValues: zip(groups, outcomes))
        self.accelByArm = accelByArm
        self.kindByArm = kindByArm

        let workloads = Self.ordered(
            document.plan.workloads, present: Set(outcomeByGroup.keys.map(\.workload)), preferred: [])
        let arms = Self.ordered(
            document.plan.arms, present: Set(outcomeByGroup.keys.map(\.armKey)),
            preferred: ["native", "container", "container-crun", "container-runc", "vm"])
        self.workloads = workloads
        self.arms = arms

        // Each group × metric is independent (sort, bootstrap, outliers) and seeded by its own key, so they are
        // computed in parallel with the same results as in sequence.
        let keys = groups.indices.flatMap { slot in
            slotNames[slot].indices.map { (group: groups[slot], slot: slot, metric: $0) }
        }
        // Bootstrap seeds name an arm by its kind and rank within the kind (vm#0, container#1), not by its key:
        // renaming arms leaves every interval as it was.
        var seedLabels: [String: String] = [:]
        var rankByKind: [String: Int] = [:]
        for arm in arms {
            let kind = Self.kind(of: arm, in: kindByArm) ?? arm
            seedLabels[arm] = "\(kind)#\(rankByKind[kind, default: 0])"
            rankByKind[kind, default: 0] += 1
        }
        var computed = [ArmMetricStats?](repeating: nil, count: keys.count)
        computed.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let results = buffer
            let seed = document.seed
            let (names, values, labels) = (slotNames, valuesByGroup, seedLabels)
            DispatchQueue.concurrentPerform(iterations: keys.count) { index in
                let key = keys[index]
                results[index] = Self.stats(
                    workload: key.group.workload, armKey: key.group.armKey, metric: names[key.slot][key.metric],
                    rawValues: values[key.slot][key.metric], seed: seed, options: options,
                    seedLabel: labels[key.group.armKey] ?? key.group.armKey)
            }
        }
        var statsByKey: [StatsKey: ArmMetricStats] = [:]
        for stats in computed {
            guard let stats else { continue }
            statsByKey[StatsKey(workload: stats.workload, armKey: stats.armKey, metric: stats.metric.name)] = stats
        }
        self.statsByKey = statsByKey

        // `vcpus` is a fact of the VM's configuration, not a measurement: no row of its own (caveats read it).
        let metricNames = Self.orderedMetricNames(Set(statsByKey.keys.map(\.metric)).subtracting(["vcpus"]))
        var rows: [MetricRow] = []
        for workload in workloads {
            for name in metricNames {
                let armStats = arms.compactMap { statsByKey[StatsKey(workload: workload, armKey: $0, metric: name)] }
                guard !armStats.isEmpty else { continue }
                let ratios = Self.standardRatioKinds.flatMap { kinds -> [RatioEstimate] in
                    let tops = arms.filter { Self.kind(of: $0, in: kindByArm) == kinds.0 }
                    let bottoms = arms.filter { Self.kind(of: $0, in: kindByArm) == kinds.1 }
                    return tops.flatMap { top in
                        bottoms.compactMap { bottom -> RatioEstimate? in
                            guard let t = statsByKey[StatsKey(workload: workload, armKey: top, metric: name)],
                                let b = statsByKey[StatsKey(workload: workload, armKey: bottom, metric: name)]
                            else { return nil }
                            return Self.ratio(t, b, level: options.level)
                        }
                    }
                }
                rows.append(MetricRow(workload: workload, metric: Metric.named(name), arms: armStats, ratios: ratios))
            }
        }
        self.rows = rows
        self.outcomes = workloads.flatMap { workload in
            arms.compactMap { outcomeByGroup[GroupKey(workload: workload, armKey: $0)] }
        }
        setupCaveats = computeSetupCaveats()
        claims = computeClaims()
    }

    /// Statistics of one group's values of one metric; nil if none is finite.
    static func stats(
        workload: String, armKey: String, metric name: String, rawValues: [Double], seed documentSeed: UInt64,
        options: AnalysisOptions, seedLabel: String? = nil
    ) -> ArmMetricStats? {
        var values = rawValues.filter(\.isFinite)
        let nonFinite = rawValues.count - values.count
        values.sort()
        guard let summary = Summary(sorted: values) else { return nil }
        // Stable per-group seed: the same document always renders the same intervals.
        let seed = documentSeed ^ stableHash("\(workload)\u{1F}\(seedLabel ?? armKey)\u{1F}\(name)")
        let medians =
            values.count >= Bootstrap.minimumSampleCount
            ? Bootstrap.medianDistribution(sorted: values, resamples: options.resamples, seed: seed) : []
        let outliers = Outliers.modifiedZScores(
            values, median: summary.median, mad: summary.medianAbsoluteDeviation
        ).reduce(0) { $0 + (abs($1) > Outliers.threshold ? 1 : 0) }
        return ArmMetricStats(
            workload: workload, armKey: armKey, metric: Metric.named(name), summary: summary,
            medianInterval: medians.isEmpty ? nil : Bootstrap.percentileInterval(of: medians, level: options.level),
            outlierCount: outliers, nonFiniteCount: nonFinite, bootstrapMedians: medians, sortedValues: values)
    }

    /// Statistics of one workload × arm × metric, if any successful sample measured it.
    public func stats(workload: String, armKey: String, metric: String) -> ArmMetricStats? {
        statsByKey[StatsKey(workload: workload, armKey: armKey, metric: metric)]
    }

    /// Ratio of medians of two groups (they may be different metrics, e.g. QEMU PSS ÷ cgroup peak).
    static func ratio(_ top: ArmMetricStats, _ bottom: ArmMetricStats, level: Double) -> RatioEstimate {
        let value = bottom.summary.median != 0 ? top.summary.median / bottom.summary.median : .nan
        var interval: ConfidenceInterval? = nil
        if !top.bootstrapMedians.isEmpty, top.bootstrapMedians.count == bottom.bootstrapMedians.count {
            interval = Bootstrap.ratioInterval(
                numeratorDistribution: top.bootstrapMedians, denominatorDistribution: bottom.bootstrapMedians,
                level: level)
        }
        return RatioEstimate(numeratorArm: top.armKey, denominatorArm: bottom.armKey, value: value, interval: interval)
    }

    /// The kind of an arm: recorded, else from samples, else read from its name (`native`, `container…`, `vm…`)
    /// for arms known only from isolation, density or size records of an old file.
    /// An arm's kind from its record, never from its name.
    static func kind(of armKey: String, in kinds: [String: String]) -> String? { kinds[armKey] }

    public func kind(of armKey: String) -> String? { Self.kind(of: armKey, in: kindByArm) }

    /// The arms of one kind that have samples, in plan order.
    public func arms(ofKind kind: String) -> [String] { arms.filter { self.kind(of: $0) == kind } }

    /// Whether the run was to run `workload` in `armKey`: sampled, or in its plan (every sample of it lost).
    public func planned(workload: String, armKey: String) -> Bool {
        let prefix = "\(armKey)/\(workload)#"
        return outcome(workload: workload, armKey: armKey) != nil
            || document.plan.order.contains { $0.hasPrefix(prefix) }
    }

    public func outcome(workload: String, armKey: String) -> ArmOutcome? {
        outcomes.first { $0.workload == workload && $0.armKey == armKey }
    }

    /// "vm (tcg)" for VM arms with a known accelerator, the key otherwise.
    public func armLabel(_ armKey: String) -> String {
        if let accel = accelByArm[armKey] { return "\(armKey) (\(accel))" }
        return armKey
    }

    public var failedSampleCount: Int { outcomes.reduce(0) { $0 + $1.failed } }

    /// Plan order first, then the preferred order, then anything else alphabetically; only names present.
    static func ordered(_ planned: [String], present: Set<String>, preferred: [String]) -> [String] {
        var result: [String] = []
        for name in planned + preferred + present.sorted() where present.contains(name) && !result.contains(name) {
            result.append(name)
        }
        return result
    }

    /// Catalogue order for known metrics, then workload metrics, then the rest, alphabetically.
    static func orderedMetricNames(_ names: Set<String>) -> [String] {
        let known = Metric.known.map(\.name).filter(names.contains)
        let rest = names.subtracting(known).sorted { a, b in
            let aIsWorkload = a.hasPrefix("work_")
            let bIsWorkload = b.hasPrefix("work_")
            return aIsWorkload != bIsWorkload ? aIsWorkload : a < b
        }
        return known + rest
    }
}

extension ReportAnalysis {
    /// What runs an arm, from its record: "podman", "crun", "qemu microvm", "libvirt pc, full-os"…
    public func engineLabel(_ armKey: String) -> String {
        guard let r = document.arms.first(where: { $0.key == armKey }) else { return kind(of: armKey) ?? "?" }
        guard r.kind == .vm else { return r.engine }
        return ([r.engine] + [r.machine, r.guest == "full-os" ? "full-os" : nil].compactMap { $0 })
            .joined(separator: " ")
    }

    /// The workload the ladder stands on: the one with launch → first output in the most arms (`hello` first on
    /// ties, then plan order).
    public var ladderWorkload: String? {
        let counts = workloads.map { w in
            (w, arms.filter { stats(workload: w, armKey: $0, metric: Metric.startupFirstOutputMs.name) != nil }.count)
        }
        guard let best = counts.map(\.1).max(), best >= 2 else { return nil }
        return counts.first { $0.0 == "hello" && $0.1 == best }?.0 ?? counts.first { $0.1 == best }?.0
    }

    /// Every arm with a figure for `workload`, by the first of `metrics` it has, sorted by median (the ladder).
    public func ladder(workload: String, metrics: [Metric]) -> [(arm: String, stats: ArmMetricStats)] {
        arms.compactMap { arm in
            metrics.lazy.compactMap { self.stats(workload: workload, armKey: arm, metric: $0.name) }.first.map {
                (arm, $0)
            }
        }.sorted { $0.stats.summary.median < $1.stats.summary.median }
    }
}
