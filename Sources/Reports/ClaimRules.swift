import Foundation
import Results
import Stats

/// The thresholds of the claims' rules (their wording is in ClaimWording.swift).
enum ClaimRules {
    static let ratioHolds = 2.0
    static let ratioFails = 1.2
    static let overheadTolerance = 1.10

    static func ratioVerdict(_ interval: ConfidenceInterval?) -> (Verdict, RatioFinding) {
        guard let interval else { return (.inconclusive, .noInterval(minimumSamples: Bootstrap.minimumSampleCount)) }
        if interval.lower > ratioHolds { return (.holds, .lowerAbove(lower: interval.lower, threshold: ratioHolds)) }
        if interval.upper < ratioFails {
            return (.doesNotHold, .upperBelow(upper: interval.upper, threshold: ratioFails))
        }
        return (.inconclusive, .straddles(lower: interval.lower, upper: interval.upper))
    }
}

extension ReportAnalysis {
    /// Verdicts on C1–C9 by the rules each states.
    func computeClaims() -> [ClaimAssessment] {
        let caveats = setupCaveats
        func caveatsFor(_ id: String) -> [SetupCaveat] { caveats.filter { $0.claims.contains(id) } }
        return [
            assessStartup(caveatsFor("C1")), assessMemory(caveatsFor("C2")), assessOverhead(caveatsFor("C3")),
            assessImageSize(caveatsFor("C4")), assessLayers(caveatsFor("C5")),
            assessIsolation(caveatsFor("C6")), assessPortability(caveatsFor("C7")), assessNetwork(caveatsFor("C8")),
            assessService(caveatsFor("C9")),
        ]
    }

    /// Why a workload × arm × metric has no statistics.
    func missing(workload: String, armKey: String, metric: String) -> Missing {
        guard let outcome = outcome(workload: workload, armKey: armKey) else {
            return document.plan.arms.contains(armKey)
                ? .noSamples(arm: armKey, workload: workload) : .armNotInRun(arm: armKey)
        }
        if outcome.succeeded == 0 {
            return .noneSucceeded(
                arm: armKey, workload: workload, failed: outcome.failed, firstFailure: outcome.firstFailure)
        }
        return .metricNotRecorded(arm: armKey, workload: workload, metric: metric)
    }

    private func notMeasured(
        _ id: String, basis: ClaimBasis = ClaimBasis(), _ missing: [Missing], caveats: [SetupCaveat],
        facts: [Evidence] = []
    ) -> ClaimAssessment {
        ClaimAssessment(
            id: id, verdict: .inconclusive, finding: .notMeasured(missing), headline: nil, basis: basis, ratio: nil,
            interval: nil, setupCaveats: caveats, facts: facts)
    }

    /// Median phase times (ms from launch) of a VM arm's successful samples, in time order.
    public func phaseMedians(workload: String, armKey: String) -> [(name: String, ms: Double)] {
        var byName: [String: [Double]] = [:]
        var order: [String] = []
        document.forEachSample { sample in
            guard sample.pointee.workload == workload, sample.pointee.arm == armKey, sample.pointee.status == .ok
            else { return }
            for phase in sample.pointee.phases where phase.ms.isFinite {
                if byName[phase.name] == nil { order.append(phase.name) }
                byName[phase.name, default: []].append(phase.ms)
            }
        }
        return order.map { ($0, median(sorted: byName[$0]!.sorted())) }.sorted { $0.ms < $1.ms }
    }

    /// Why a kind has no arm to compare, or nil when it has one.
    func missingKind(_ kind: String) -> Missing? {
        arms(ofKind: kind).isEmpty ? .noArmOfKind(kind) : nil
    }

    /// Every numerator-kind arm over every denominator-kind arm that both measured their metric.
    func pairs(
        workload: String, numeratorKind: String, denominatorKind: String, numeratorMetric: String,
        denominatorMetric: String
    ) -> [(pair: ClaimPair, estimate: RatioEstimate)] {
        arms(ofKind: numeratorKind).flatMap { top in
            arms(ofKind: denominatorKind).compactMap { bottom -> (ClaimPair, RatioEstimate)? in
                guard let t = stats(workload: workload, armKey: top, metric: numeratorMetric),
                    let b = stats(workload: workload, armKey: bottom, metric: denominatorMetric)
                else { return nil }
                let r = Self.ratio(t, b, level: options.level)
                let (verdict, _) = ClaimRules.ratioVerdict(r.interval)
                return (
                    ClaimPair(
                        numerator: top, denominator: bottom, ratio: r.value, interval: r.interval, verdict: verdict), r
                )
            }
        }
    }

    /// A ratio claim decided by its first pair (the first numerator-kind arm over the first denominator-kind arm,
    /// in plan order), with one row per pair.
    private func pairwise(
        _ id: String, basis: ClaimBasis, measured: [(pair: ClaimPair, estimate: RatioEstimate)],
        caveats: [SetupCaveat], facts: [Evidence]
    ) -> ClaimAssessment {
        let (decided, r) = (measured[0].pair, measured[0].estimate)
        let (verdict, finding) = ClaimRules.ratioVerdict(r.interval)
        let pair = ArmPair(numerator: decided.numerator, denominator: decided.denominator)
        var basis = basis
        basis.pair = pair
        var assessment = ClaimAssessment(
            id: id, verdict: verdict, finding: .ratio(pair, finding), headline: .ratio(r), basis: basis,
            ratio: r.value, interval: r.interval, setupCaveats: caveats, facts: facts)
        assessment.pairs = measured.map(\.pair)
        return assessment
    }

    private func assessStartup(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C1"
        let metrics = [Metric.startupFirstOutputMs, Metric.startupExitMs]
        var facts: [Evidence] = []
        for workload in workloads {
            for metric in metrics {
                for (_, estimate) in pairs(
                    workload: workload, numeratorKind: "vm", denominatorKind: "container", numeratorMetric: metric.name,
                    denominatorMetric: metric.name)
                {
                    facts.append(.ratio(workload: workload, metric: metric, estimate))
                }
            }
        }
        let primaryWorkloads = (workloads.contains("hello") ? ["hello"] : []) + workloads.filter { $0 != "hello" }
        for workload in primaryWorkloads {
            for metric in metrics {
                let measured = pairs(
                    workload: workload, numeratorKind: "vm", denominatorKind: "container", numeratorMetric: metric.name,
                    denominatorMetric: metric.name)
                // The first VM arm over the first container arm (plan order) decides; every pair has its row.
                guard !measured.isEmpty else { continue }
                for vm in arms(ofKind: "vm") {
                    let phases = phaseMedians(workload: workload, armKey: vm)
                    if !phases.isEmpty {
                        facts.append(
                            .phases(
                                arm: vm, accel: accelByArm[vm], workload: workload,
                                phases.map { Phase(name: $0.name, ms: $0.ms) }))
                    }
                }
                return pairwise(
                    id, basis: ClaimBasis(workload: workload, metric: metric), measured: measured, caveats: caveats,
                    facts: facts)
            }
        }
        let workload = primaryWorkloads.first ?? "hello"
        let missing = ["vm", "container"].compactMap { kind -> Missing? in
            if let absent = missingKind(kind) { return absent }
            let arm = arms(ofKind: kind)[0]
            return metrics.contains { stats(workload: workload, armKey: arm, metric: $0.name) != nil }
                ? nil
                : self.missing(
                    workload: workload, armKey: arm,
                    metric: "\(Metric.startupFirstOutputMs.name) or \(Metric.startupExitMs.name)")
        }
        return notMeasured(id, missing, caveats: caveats, facts: facts)
    }

    /// Host-side memory of one instance: the same metric for both arms when both have it,
    /// else QEMU PSS for the VM against the container's cgroup peak.
    private static let memoryPairs: [(vm: Metric, container: Metric)] = [
        (.memoryPeakBytes, .memoryPeakBytes), (.pssPeakBytes, .memoryPeakBytes), (.rssPeakBytes, .memoryPeakBytes),
    ]

    private func assessMemory(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C2"
        var facts: [Evidence] = []
        let densityVM = document.density.first { kind(of: $0.armKey) == "vm" }?.armKey
        let densityContainer = document.density.first { kind(of: $0.armKey) == "container" }?.armKey
        if let densityVM, let densityContainer {
            let common = Set(document.density.filter { $0.armKey == densityVM }.map(\.instances))
                .intersection(document.density.filter { $0.armKey == densityContainer }.map(\.instances))
            if let n = common.max(),
                let vm = document.density.first(where: { $0.armKey == densityVM && $0.instances == n }),
                let container = document.density.first(where: {
                    $0.armKey == densityContainer && $0.instances == n
                }),
                container.memoryPerInstanceBytes > 0
            {
                facts.append(
                    .density(
                        instances: n, vm: densityVM, vmBytes: vm.memoryPerInstanceBytes, container: densityContainer,
                        containerBytes: container.memoryPerInstanceBytes))
            }
        }
        let primaryWorkloads =
            ["idle", "hello"].filter(workloads.contains) + workloads.filter { $0 != "idle" && $0 != "hello" }
        for workload in primaryWorkloads {
            for metricPair in Self.memoryPairs {
                let measured = pairs(
                    workload: workload, numeratorKind: "vm", denominatorKind: "container",
                    numeratorMetric: metricPair.vm.name, denominatorMetric: metricPair.container.name)
                guard !measured.isEmpty else { continue }
                for vm in arms(ofKind: "vm") {
                    if let total = stats(workload: workload, armKey: vm, metric: Metric.guestMemTotalBytes.name) {
                        facts.append(.guestMemory(arm: vm, bytes: total.summary.median))
                    }
                }
                return pairwise(
                    id,
                    basis: ClaimBasis(
                        workload: workload, metric: metricPair.vm,
                        denominatorMetric: metricPair.vm == metricPair.container ? nil : metricPair.container),
                    measured: measured, caveats: caveats, facts: facts)
            }
        }
        let workload = primaryWorkloads.first ?? "idle"
        var missing: [Missing] = []
        if let absent = missingKind("vm") {
            missing.append(absent)
        } else if !Self.memoryPairs.contains(where: {
            stats(workload: workload, armKey: arms(ofKind: "vm")[0], metric: $0.vm.name) != nil
        }) {
            missing.append(
                self.missing(
                    workload: workload, armKey: arms(ofKind: "vm")[0],
                    metric: "\(Metric.memoryPeakBytes.name) or \(Metric.pssPeakBytes.name)"))
        }
        if let absent = missingKind("container") {
            missing.append(absent)
        } else if stats(workload: workload, armKey: arms(ofKind: "container")[0], metric: Metric.memoryPeakBytes.name)
            == nil
        {
            // Only what is really missing: the claims never contradict the table.
            missing.append(
                self.missing(
                    workload: workload, armKey: arms(ofKind: "container")[0], metric: Metric.memoryPeakBytes.name))
        }
        return notMeasured(id, missing, caveats: caveats, facts: facts)
    }

    /// The metric that best measures a compute workload's speed, and whether larger is better.
    func overheadMetric(workload: String) -> Metric? {
        let names = Set(rows.filter { $0.workload == workload }.map(\.metric.name))
        let work = names.filter { $0.hasPrefix("work_") }.sorted()
        if let throughput = work.first(where: { !Metric.named($0).lowerIsBetter }) { return Metric.named(throughput) }
        if let time = work.first(where: { $0.hasSuffix("_ns") || $0.hasSuffix("_ms") }) { return Metric.named(time) }
        return names.contains(Metric.startupExitMs.name) ? .startupExitMs : nil
    }

    /// C3's compute workloads, each judged by its one speed metric (`overheadMetric`).
    static let computeOverheadWorkloads = ["cpu", "memory", "syscall", "fileio"]

    /// C3's I/O figures: every fio job's operations per second in every workload that ran fio (random 4 KiB jobs
    /// count IOPS; a sequential job's operations are its fixed-size blocks, so the ratio is its bandwidth's).
    func ioOverheadMetrics() -> [(workload: String, metric: Metric)] {
        var seen = Set<String>()
        return rows.filter { $0.metric.name.hasPrefix("work_fio_") && $0.metric.name.hasSuffix("_ops_per_s") }
            .map { ($0.workload, $0.metric) }
            .filter { seen.insert("\($0.0)|\($0.1.name)").inserted }
            .sorted { ($0.0, $0.1.name) < ($1.0, $1.1.name) }
    }

    /// Slowdown of `armKey` versus native (> 1 = slower), oriented by the metric's direction.
    func slowdown(workload: String, armKey: String, metric: Metric) -> RatioEstimate? {
        guard let nativeArm = arms(ofKind: "native").first,
            let arm = stats(workload: workload, armKey: armKey, metric: metric.name),
            let native = stats(workload: workload, armKey: nativeArm, metric: metric.name)
        else { return nil }
        return metric.lowerIsBetter
            ? Self.ratio(arm, native, level: options.level) : Self.ratio(native, arm, level: options.level)
    }

    private func assessOverhead(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C3"
        var facts: [Evidence] = []
        var containerSlowdowns: [RatioEstimate] = []
        var vmSlowdowns: [RatioEstimate] = []
        var missing: [Missing] = []
        // Workloads the suite did not run are named, but the verdict rests on those it did: a storage suite settles
        // C3 for I/O without the compute workloads, and says so.
        var notRun: [Missing] = []
        if let absent = missingKind("native") { missing.append(absent) }
        var cases: [(workload: String, metric: Metric)] = []
        for workload in Self.computeOverheadWorkloads where missingKind("native") == nil {
            guard workloads.contains(workload), let metric = overheadMetric(workload: workload) else {
                notRun.append(.workloadNotRun(workload))
                continue
            }
            cases.append((workload, metric))
        }
        let io = ioOverheadMetrics()
        if io.isEmpty { notRun.append(.workloadNotRun("an I/O workload (fio)")) }
        if missingKind("native") == nil { cases += io }
        for (workload, metric) in cases {
            var measured: [(arm: String, slowdown: RatioEstimate)] = []
            // Every container-kind and every VM-kind arm against the native arm.
            for kind in ["container", "vm"] {
                if let absent = missingKind(kind) {
                    if !missing.contains(absent) { missing.append(absent) }
                    continue
                }
                // An arm the suite never asked to run this workload (its `workloads:` list) is not missing it.
                for arm in arms(ofKind: kind) where planned(workload: workload, armKey: arm) {
                    if let r = slowdown(workload: workload, armKey: arm, metric: metric) {
                        if kind == "container" { containerSlowdowns.append(r) } else { vmSlowdowns.append(r) }
                        measured.append((arm, r))
                    } else {
                        let absent = self.missing(workload: workload, armKey: arm, metric: metric.name)
                        if !missing.contains(absent) { missing.append(absent) }
                    }
                }
            }
            if !measured.isEmpty {
                facts.append(
                    .slowdowns(workload: workload, metric: metric, runTimeOnly: metric == .startupExitMs, measured))
            }
        }
        guard !containerSlowdowns.isEmpty || !vmSlowdowns.isEmpty else {
            return notMeasured(id, missing + notRun, caveats: caveats, facts: facts)
        }
        let tolerance = ClaimRules.overheadTolerance
        let worstContainer = containerSlowdowns.max { $0.value < $1.value }
        let worstVM = vmSlowdowns.max { $0.value < $1.value }
        let verdict: Verdict
        let finding: OverheadFinding
        let allIntervals = (containerSlowdowns + vmSlowdowns).allSatisfy { $0.interval != nil }
        if containerSlowdowns.contains(where: { ($0.interval?.lower ?? 0) > tolerance }) {
            (verdict, finding) = (.doesNotHold, .containerAbove(tolerance: tolerance))
        } else if !vmSlowdowns.isEmpty, allIntervals, vmSlowdowns.allSatisfy({ $0.interval!.upper <= tolerance }) {
            (verdict, finding) = (.doesNotHold, .noVMOverhead(tolerance: tolerance))
        } else if !containerSlowdowns.isEmpty, allIntervals, missing.isEmpty,
            containerSlowdowns.allSatisfy({ $0.interval!.upper <= tolerance }),
            vmSlowdowns.contains(where: { $0.interval!.lower > tolerance })
        {
            (verdict, finding) = (.holds, .holds(tolerance: tolerance))
        } else {
            (verdict, finding) = (.inconclusive, .unsettled)
        }
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .overhead(finding, missing: missing + notRun),
            headline: .slowdowns(container: worstContainer, vm: worstVM), basis: ClaimBasis(),
            ratio: worstVM?.value ?? worstContainer?.value, interval: worstVM?.interval ?? worstContainer?.interval,
            setupCaveats: caveats, facts: facts)
    }

    /// One VM arm's artifacts for an image.
    public struct VMImageBytes: Sendable {
        public let armKey: String
        /// "minimal" or "full-os" (arms recorded before full-OS guests existed: minimal).
        public let guest: String
        /// kernel, initramfs, disk-allocated — what the VM needs on the host, added up in `total`.
        public var components: [(component: String, bytes: UInt64)] = []
        public var diskVirtual: UInt64?
        /// Full-OS guests: the layer that added systemd to the image (inside the disk; not added again).
        public var osLayerCompressed: UInt64?
        public var osLayerUncompressed: UInt64?
        public var total: UInt64 { components.reduce(0) { $0 + $1.bytes } }
    }

    /// Bytes per image: container compressed and uncompressed layers, each VM arm's artifacts by component.
    public struct ImageBytes: Sendable {
        public let image: String
        public var containerCompressed: UInt64?
        public var containerUncompressed: UInt64?
        public var vms: [VMImageBytes] = []
        /// The VM the verdict weighs: a full-OS guest where the run has one (the claim is about a VM image being a
        /// whole OS), else the first VM arm with artifacts.
        public var decidingVM: VMImageBytes? { vms.first { $0.guest == GuestLabel.fullOS } ?? vms.first }
        /// A VM arm's artifacts ÷ the container's uncompressed layers.
        public func ratio(of vm: VMImageBytes) -> Double? {
            guard !vm.components.isEmpty, let uncompressed = containerUncompressed, uncompressed > 0 else { return nil }
            return Double(vm.total) / Double(uncompressed)
        }
        public var ratio: Double? { decidingVM.flatMap { ratio(of: $0) } }
    }

    /// How arm records name the guest kinds (Reports does not link the Machines module).
    public enum GuestLabel {
        public static let minimal = "minimal"
        public static let fullOS = "full-os"
    }

    public var imageBytes: [ImageBytes] {
        var order: [String] = []
        var byImage: [String: ImageBytes] = [:]
        let guestByArm = Dictionary(
            document.arms.map { ($0.key, $0.guest ?? GuestLabel.minimal) }, uniquingKeysWith: { first, _ in first })
        for artifact in document.images {
            if byImage[artifact.image] == nil {
                order.append(artifact.image)
                byImage[artifact.image] = ImageBytes(image: artifact.image)
            }
            guard kind(of: artifact.armKey) == "vm" else {
                switch artifact.component {
                case "layers-compressed": byImage[artifact.image]!.containerCompressed = artifact.bytes
                case "layers-uncompressed": byImage[artifact.image]!.containerUncompressed = artifact.bytes
                default: break
                }
                continue
            }
            // Each VM arm apart: two VM arms of one image (initramfs and disk, minimal and full-OS) are two VMs.
            var vms = byImage[artifact.image]!.vms
            if !vms.contains(where: { $0.armKey == artifact.armKey }) {
                vms.append(
                    VMImageBytes(armKey: artifact.armKey, guest: guestByArm[artifact.armKey] ?? GuestLabel.minimal))
            }
            let index = vms.firstIndex { $0.armKey == artifact.armKey }!
            switch artifact.component {
            case "disk-virtual": vms[index].diskVirtual = artifact.bytes
            case "os-layer-compressed": vms[index].osLayerCompressed = artifact.bytes
            case "os-layer-uncompressed": vms[index].osLayerUncompressed = artifact.bytes
            default: vms[index].components.append((artifact.component, artifact.bytes))
            }
            byImage[artifact.image]!.vms = vms
        }
        return order.map { byImage[$0]! }
    }

    private func assessImageSize(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C4"
        let images = imageBytes
        let facts = images.map { Evidence.image($0) }
        let ratios = images.compactMap(\.ratio)
        guard !ratios.isEmpty else {
            return notMeasured(
                id, [document.images.isEmpty ? .noImageSizes : .noImageWithBothSizes], caveats: caveats, facts: facts)
        }
        let verdict: Verdict
        let finding: ImageFinding
        if ratios.allSatisfy({ $0 >= ClaimRules.ratioHolds }) {
            (verdict, finding) = (.holds, .allAtLeast(ClaimRules.ratioHolds))
        } else if ratios.allSatisfy({ $0 < ClaimRules.ratioFails }) {
            (verdict, finding) = (.doesNotHold, .allBelow(ClaimRules.ratioFails))
        } else {
            (verdict, finding) = (.inconclusive, .mixed)
        }
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .imageSizes(finding), headline: .byteRatios(ratios), basis: ClaimBasis(),
            ratio: ratios.count == 1 ? ratios[0] : median(sorted: ratios.sorted()), interval: nil,
            setupCaveats: caveats, facts: facts)
    }

    private func assessLayers(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C5"
        let records = document.layerSharing
        guard !records.isEmpty else { return notMeasured(id, [.noLayerSharing], caveats: caveats) }
        let facts = records.map { Evidence.layers($0) }
        let sharesNothing = records.filter { $0.sharedCompressedBytes == 0 }
        let badRebuild = records.filter { ($0.newLayersOnLastStepRebuild ?? 1) != 1 }
        // The same over the wire, where measured: the base already in the registry must save bytes, and a last-step
        // change must send one layer.
        let wireSavesNothing = records.filter { r in r.wire.map { $0.pushGivenBaseBytes >= $0.pushAloneBytes } ?? false
        }
        let wireRebuildLayers = records.compactMap { $0.wire?.layersSentAfterLastStepChange }.filter { $0 != 1 }
        let verdict: Verdict
        let finding: LayerFinding
        if !sharesNothing.isEmpty || !badRebuild.isEmpty || !wireSavesNothing.isEmpty || !wireRebuildLayers.isEmpty {
            (verdict, finding) = (
                .doesNotHold,
                .failures(
                    sharesNothing: sharesNothing.map(\.image),
                    rebuildLayers: badRebuild.compactMap(\.newLayersOnLastStepRebuild),
                    wireSavesNothing: wireSavesNothing.map(\.image), wireRebuildLayers: wireRebuildLayers)
            )
        } else if records.contains(where: { $0.newLayersOnLastStepRebuild == nil }) {
            (verdict, finding) = (.inconclusive, .rebuildNotMeasured)
        } else if records.allSatisfy({ $0.bytesToPullGivenBase < $0.imageCompressedBytes }) {
            (verdict, finding) = (.holds, .holds)
        } else {
            (verdict, finding) = (.inconclusive, .fullPullDespiteSharing)
        }
        let pulled = records.reduce(0.0) { $0 + Double($1.bytesToPullGivenBase) }
        let total = records.reduce(0.0) { $0 + Double($1.imageCompressedBytes) }
        let fraction = total > 0 ? pulled / total : .nan
        let wires = records.compactMap(\.wire)
        let pushedAlone = wires.reduce(0.0) { $0 + Double($1.pushAloneBytes) }
        let wireShare =
            wires.count == records.count && pushedAlone > 0
            ? wires.reduce(0.0) { $0 + Double($1.pushGivenBaseBytes) } / pushedAlone : nil
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .layers(finding), headline: .pulledShare(fraction, wire: wireShare),
            basis: ClaimBasis(),
            ratio: fraction, interval: nil, setupCaveats: caveats, facts: facts)
    }

    private func assessIsolation(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C6"
        let records = document.isolation
        let isolated = records.filter { kind(of: $0.armKey) == "container" || kind(of: $0.armKey) == "vm" }
        let native = records.filter { kind(of: $0.armKey) == "native" }
        var facts: [Evidence] = []
        for arm in ReportAnalysis.ordered([], present: Set(records.map(\.armKey)), preferred: arms) {
            let armRecords = records.filter { $0.armKey == arm }
            facts.append(
                .probes(
                    arm: arm, accel: accelByArm[arm], blocked: armRecords.filter(\.blocked).count,
                    total: armRecords.count, through: armRecords.filter { !$0.blocked }.map(\.probe)))
        }
        let containerProbes = isolated.filter { kind(of: $0.armKey) == "container" }
        let vmProbes = isolated.filter { kind(of: $0.armKey) == "vm" }
        guard !containerProbes.isEmpty || !vmProbes.isEmpty else {
            return notMeasured(
                id, [records.isEmpty ? .noIsolationProbes : .probesOnlyNative], caveats: caveats, facts: facts)
        }
        // Inside the VM the probes hit the guest's own kernel: a success there is the VM's model, not an escape.
        let leaks = containerProbes.filter { !$0.blocked }
        let verdict: Verdict
        let finding: IsolationFinding
        if !leaks.isEmpty {
            (verdict, finding) = (.doesNotHold, .leaks(leaks.map { ArmProbe(arm: $0.armKey, probe: $0.probe) }))
        } else if !native.isEmpty && native.allSatisfy(\.blocked) {
            (verdict, finding) = (.inconclusive, .controlBlockedEverything)
        } else if containerProbes.isEmpty || vmProbes.isEmpty {
            (verdict, finding) = (.inconclusive, .onlyKind(containerProbes.isEmpty ? "VM" : "container"))
        } else {
            (verdict, finding) = (
                .holds, .holds(containerProbes: containerProbes.count, nativeControl: !native.isEmpty)
            )
        }
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .isolation(finding),
            headline: .probes(
                containerBlocked: containerProbes.filter(\.blocked).count, containerTotal: containerProbes.count,
                vmBlocked: vmProbes.filter(\.blocked).count, vmTotal: vmProbes.count),
            basis: ClaimBasis(), ratio: nil, interval: nil, setupCaveats: caveats, facts: facts)
    }

    private func assessPortability(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        let id = "C7"
        let compared = workloads.filter { $0 != "probe" }
        guard !compared.isEmpty else { return notMeasured(id, [.noWorkloads], caveats: caveats) }
        var facts: [Evidence] = []
        var mismatched: [String] = []
        var missing: [Missing] = []
        var identical = 0
        var withoutDigest: [String] = []
        let plannedArms = document.plan.arms.isEmpty ? arms : document.plan.arms
        for workload in compared {
            var digestsByArm: [String: Set<String>] = [:]
            document.forEachSample { sample in
                guard sample.pointee.workload == workload, sample.pointee.status == .ok,
                    let digest = sample.pointee.outputDigest
                else { return }
                digestsByArm[sample.pointee.arm, default: []].insert(digest)
            }
            for arm in plannedArms where (outcome(workload: workload, armKey: arm)?.succeeded ?? 0) == 0 {
                missing.append(self.missing(workload: workload, armKey: arm, metric: "output"))
            }
            let distinct = Set(digestsByArm.values.flatMap { $0 })
            if distinct.count > 1 {
                mismatched.append(workload)
                facts.append(
                    .outputsDiffer(
                        workload: workload,
                        digestsByArm: digestsByArm.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sorted()) }))
            } else if distinct.count == 1, digestsByArm.count >= 2 {
                identical += 1
                facts.append(.outputsIdentical(workload: workload, arms: digestsByArm.count))
            } else {
                withoutDigest.append(workload)
            }
        }
        if !missing.isEmpty { facts.append(.didNotRun(missing)) }
        if !withoutDigest.isEmpty { facts.append(.withoutDigests(withoutDigest)) }
        let verdict: Verdict
        let finding: PortabilityFinding
        if !mismatched.isEmpty {
            (verdict, finding) = (.doesNotHold, .differ(mismatched))
        } else if identical == 0 {
            return notMeasured(id, [.noDigestsFromTwoArms], caveats: caveats, facts: facts)
        } else if !missing.isEmpty || !withoutDigest.isEmpty {
            (verdict, finding) = (.inconclusive, .partial)
        } else {
            (verdict, finding) = (.holds, .holds)
        }
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .portability(finding),
            headline: .identicalOutputs(identical, of: compared.count), basis: ClaimBasis(), ratio: nil,
            interval: nil, setupCaveats: caveats, facts: facts)
    }

    /// C8: the latency a container's and a VM's network path add, from the request/response workloads.
    func assessNetwork(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        assessLatency(id: "C8", metric: Metric.named("work_rr_p50_ns"), none: .noNetworkWorkload, caveats)
    }

    /// C9: the latency a service answers with under a fixed load (wrk, redis-benchmark), by the same rule as C8.
    /// Beside the rule's p50: p99, throughput, time to ready, memory and CPU per request of every arm ÷ native.
    func assessService(_ caveats: [SetupCaveat]) -> ClaimAssessment {
        assessLatency(
            id: "C9", metric: Metric.named("work_service_p50_ms"), none: .noServiceWorkload, caveats,
            alsoShown: [
                "work_service_p99_ms", "work_service_requests_per_s", "work_service_ready_ms", "memory_peak_bytes",
                "work_service_cpu_per_request_ns",
            ])
    }

    /// Container ÷ native and VM ÷ container of a latency `metric`, over the workloads that report it; `alsoShown`:
    /// metrics whose ratios to native are evidence only.
    func assessLatency(
        id: String, metric: Metric, none: Missing, _ caveats: [SetupCaveat], alsoShown: [String] = []
    ) -> ClaimAssessment {
        let netWorkloads = workloads.filter { w in rows.contains { $0.workload == w && $0.metric.name == metric.name } }
        guard !netWorkloads.isEmpty else { return notMeasured(id, [none], caveats: caveats) }
        var facts: [Evidence] = []
        for w in netWorkloads {
            for name in alsoShown {
                let shown = Metric.named(name)
                for arm in arms(ofKind: "container") + arms(ofKind: "vm") {
                    if let r = slowdown(workload: w, armKey: arm, metric: shown) {
                        facts.append(.ratio(workload: w, metric: shown, r))
                    }
                }
            }
        }
        var containerRatios: [RatioEstimate] = []
        var vmRatios: [RatioEstimate] = []
        var missing: [Missing] = []
        for kind in ["native", "container", "vm"] {
            if let absent = missingKind(kind) { missing.append(absent) }
        }
        for w in netWorkloads {
            for arm in arms(ofKind: "container") {
                guard let r = slowdown(workload: w, armKey: arm, metric: metric) else {
                    missing.append(self.missing(workload: w, armKey: arm, metric: metric.name))
                    continue
                }
                containerRatios.append(r)
                facts.append(.ratio(workload: w, metric: metric, r))
            }
            for p in pairs(
                workload: w, numeratorKind: "vm", denominatorKind: "container", numeratorMetric: metric.name,
                denominatorMetric: metric.name)
            {
                vmRatios.append(p.estimate)
                facts.append(.ratio(workload: w, metric: metric, p.estimate))
            }
            // Container engines side by side: how far each is from the first (same network path, other runtime).
            let containers = arms(ofKind: "container")
            if let first = containers.first, let base = stats(workload: w, armKey: first, metric: metric.name) {
                for other in containers.dropFirst() {
                    guard let s = stats(workload: w, armKey: other, metric: metric.name) else { continue }
                    facts.append(.ratio(workload: w, metric: metric, Self.ratio(s, base, level: options.level)))
                }
            }
        }
        guard !containerRatios.isEmpty || !vmRatios.isEmpty else {
            return notMeasured(id, missing, caveats: caveats, facts: facts)
        }
        let tolerance = ClaimRules.overheadTolerance
        let verdict: Verdict
        let finding: NetworkFinding
        if containerRatios.contains(where: { ($0.interval?.lower ?? 0) > tolerance }) {
            (verdict, finding) = (.doesNotHold, .containerAbove(tolerance: tolerance))
        } else if vmRatios.contains(where: { ($0.interval?.upper ?? .infinity) <= tolerance }) {
            (verdict, finding) = (.doesNotHold, .vmNotAbove(tolerance: tolerance))
        } else if !containerRatios.isEmpty, !vmRatios.isEmpty,
            containerRatios.allSatisfy({ ($0.interval?.upper ?? .infinity) <= tolerance }),
            vmRatios.allSatisfy({ ($0.interval?.lower ?? 0) > tolerance })
        {
            (verdict, finding) = (.holds, .holds(tolerance: tolerance))
        } else if vmRatios.isEmpty {
            (verdict, finding) = (
                .inconclusive,
                .vmHalfMissing(
                    containerHalfHolds: containerRatios.allSatisfy({ ($0.interval?.upper ?? .infinity) <= tolerance }),
                    tolerance: tolerance)
            )
        } else {
            (verdict, finding) = (.inconclusive, .unsettled)
        }
        let worst = (vmRatios + containerRatios).max { $0.value < $1.value }
        return ClaimAssessment(
            id: id, verdict: verdict, finding: .network(finding),
            headline: .latency(
                container: containerRatios.max(by: { $0.value < $1.value }),
                vm: vmRatios.min(by: { $0.value < $1.value })),
            basis: ClaimBasis(metric: metric), ratio: worst?.value, interval: worst?.interval, setupCaveats: caveats,
            facts: facts)
    }
}
