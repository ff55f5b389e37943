import Foundation
import Results
import Stats

public enum Verdict: String, Sendable, Codable {
    case holds = "holds"
    case doesNotHold = "does not hold"
    case inconclusive = "inconclusive"
}

/// One claim of CLAIMS.md put to the test by one results document.
public struct ClaimAssessment: Sendable {
    public let id: String
    public let claim: String
    /// What was measured to test it.
    public let metric: String
    /// The headline ratio (or bytes) with its interval as text; "not measured" when absent.
    public let measured: String
    public let ratio: Double?
    public let interval: ConfidenceInterval?
    public let verdict: Verdict
    /// Why the rule gave this verdict, or what data is missing.
    public let reason: String
    /// Set when the verdict is inconclusive because the data was never measured.
    public let notMeasured: Bool
    /// The decision rule, stated in the output.
    public let rule: String
    /// Conditions of this run that bend the claim, computed from provenance.
    public let caveats: [String]
    /// Supporting figures (other workloads, phases, per-image bytes, …).
    public let evidence: [String]
    /// Published reference points, context only: not measured here.
    public let references: [String]

    /// Every pair of arms of the kinds the claim compares (e.g. each VM arm over each container arm), the first
    /// being the one that decided the verdict; empty for claims that are not pairwise.
    public var pairs: [ClaimPair] = []

    public var verdictText: String {
        notMeasured ? "inconclusive — not measured (\(reason))" : verdict.rawValue
    }
}

/// One pair of arms put to a claim's rule: numerator ÷ denominator, by arm key.
public struct ClaimPair: Sendable {
    public let numerator: String
    public let denominator: String
    public let measured: String
    public let ratio: Double?
    public let interval: ConfidenceInterval?
    public let verdict: Verdict
}

/// A condition of the run that bends one or more claims.
public struct SetupCaveat: Sendable, Equatable {
    public let key: String
    public let text: String
    /// Claim ids it applies to; empty means the whole report.
    public let claims: [String]
}

enum ClaimRules {
    static let ratioHolds = 2.0
    static let ratioFails = 1.2
    static let overheadTolerance = 1.10

    static let ratioRule =
        "holds if the 95% CI lower bound of the ratio > \(NumberText.number(ratioHolds)); does not hold if the upper bound < \(NumberText.number(ratioFails)); otherwise inconclusive (also when n < \(Bootstrap.minimumSampleCount) per arm gives no interval)"
    static let overheadRule =
        "slowdown = arm ÷ native time (or native ÷ arm throughput). Holds if every measured workload has container slowdown CI upper ≤ \(NumberText.number(overheadTolerance)) and at least one has VM slowdown CI lower > \(NumberText.number(overheadTolerance)); does not hold if any container slowdown CI lower > \(NumberText.number(overheadTolerance)) or every VM slowdown CI upper ≤ \(NumberText.number(overheadTolerance)); otherwise inconclusive"
    static let imageRule =
        "VM artifacts (kernel + initramfs + allocated disk) ÷ container uncompressed layers, per image (exact bytes, no sampling error): holds if every image ≥ \(NumberText.number(ratioHolds)); does not hold if every image < \(NumberText.number(ratioFails)); otherwise inconclusive"
    static let layerRule =
        "holds if every image shares bytes with its base, needs fewer bytes to pull than its full size, and a rebuild after changing only the last step creates exactly 1 new layer; does not hold if any image shares nothing or such a rebuild creates ≠ 1 layer; otherwise inconclusive"
    static let isolationRule =
        "holds if every isolation probe in the container arms was blocked (they share the host kernel) and the VM arm ran them against its own guest kernel, with the native control not blocked everywhere; does not hold if any container probe got through; otherwise inconclusive. A probe that succeeds inside the VM acts on the guest's kernel, not the host's"
    static let networkRule =
        "holds if every container ÷ native ratio of TCP request/response latency (p50) has its 95% upper bound ≤ 1.10 and every VM ÷ container ratio its lower bound > 1.10; does not hold if a container ratio's lower bound > 1.10 or a VM ratio's upper bound ≤ 1.10; else inconclusive"
    static let portabilityRule =
        "holds if every workload (except `probe`, whose output reports the arm by design) succeeded in every planned arm and its output digest is identical across arms; does not hold if digests differ; otherwise inconclusive"

    static func ratioVerdict(_ interval: ConfidenceInterval?) -> (Verdict, String) {
        guard let interval else {
            return (
                .inconclusive, "no interval: fewer than \(Bootstrap.minimumSampleCount) successful samples in an arm"
            )
        }
        if interval.lower > ratioHolds {
            return (.holds, "CI lower bound \(NumberText.number(interval.lower)) > \(NumberText.number(ratioHolds))")
        }
        if interval.upper < ratioFails {
            return (
                .doesNotHold, "CI upper bound \(NumberText.number(interval.upper)) < \(NumberText.number(ratioFails))"
            )
        }
        return (
            .inconclusive,
            "CI [\(NumberText.number(interval.lower)), \(NumberText.number(interval.upper))] straddles the thresholds"
        )
    }
}

/// Published figures from CLAIMS.md, shown as context and never as measurements.
enum ReferencePoints {
    static let byClaim: [String: [String]] = [
        "C1": [
            "Agache et al., Firecracker (NSDI 2020): p50 end-to-end boot 161 ms with Firecracker, 244 ms with QEMU.",
            "Manco et al., LightVM (SOSP 2017): 2.3 ms VM boot vs ~150 ms for `docker run`.",
            "crun README: 100 `/bin/true` containers in 1.69 s (crun) vs 3.34 s (runc).",
        ],
        "C2": [
            "Agache et al., Firecracker (NSDI 2020): VMM memory overhead ≈ 2.5 MB (Firecracker) vs 131 MB (QEMU) for a 256 MiB guest."
        ],
        "C8": [
            "Felter et al., IBM 2014 / ISPASS 2015: TCP request/response latency 37.6 µs native, 67.9 µs under KVM (+81 %); bulk throughput at line rate everywhere."
        ],
        "C3": [
            "Felter et al., IBM 2014 / ISPASS 2015: Linpack 290.8 GFLOPS native, 290.9 Docker, 284.2 tuned KVM.",
            "Felter et al.: fio 4K random read — Docker ≈ native, KVM ≈ half the IOPS.",
        ],
    ]
}

extension ReportAnalysis {
    /// Caveats of this run, from provenance and plan — never assumed.
    func computeSetupCaveats() -> [SetupCaveat] {
        let doc = document
        var caveats: [SetupCaveat] = []
        // One pass over the VM samples for the accels they ran with; the rest is once per document.
        var accels = Set(doc.density.compactMap(\.accel))
        var vcpus = Set<Double>()
        var hasVMSamples = false
        var lastAccel: String? = nil
        let vmArms = Set(doc.arms.filter { $0.kind == .vm }.map(\.key))
        for arm in doc.arms where arm.kind == .vm { if let n = arm.vcpus { vcpus.insert(Double(n)) } }
        doc.forEachSample { sample in
            guard vmArms.contains(sample.pointee.arm) else { return }
            hasVMSamples = true
            if let accel = sample.pointee.measurements.vm.accel, accel != lastAccel {
                accels.insert(accel)
                lastAccel = accel
            }
        }
        if accels.contains("tcg") {
            caveats.append(
                SetupCaveat(
                    key: "tcg",
                    text:
                        "VM under TCG software emulation, far slower than KVM: VM timings and CPU overhead are not KVM figures",
                    claims: ["C1", "C2", "C3", "C8"]))
        }
        if accels.count > 1 {
            caveats.append(
                SetupCaveat(
                    key: "mixed-accel",
                    text: "VM samples mix accelerators (\(accels.sorted().joined(separator: ", ")))",
                    claims: ["C1", "C2", "C3", "C8"]))
        }
        if doc.host.cgroupMode == "hybrid" {
            caveats.append(
                SetupCaveat(
                    key: "hybrid-cgroups",
                    text:
                        "host uses hybrid cgroups (v1 controllers, v2 hugetlb only): memory and CPU accounting come from cgroup v1; crun needs a workaround",
                    claims: ["C1", "C2", "C3", "C6"]))
        }
        if doc.plan.cacheMode == "warm" {
            caveats.append(
                SetupCaveat(
                    key: "warm-cache",
                    text: "warm page cache: image and guest files were cached, so cold-start times would be higher",
                    claims: ["C1", "C3"]))
        }
        if vcpus == [1] {
            caveats.append(
                SetupCaveat(
                    key: "single-vcpu", text: "VM has a single vCPU: multi-threaded work cannot scale inside the guest",
                    claims: ["C1", "C3"]))
        } else if hasVMSamples && vcpus.isEmpty {
            caveats.append(
                SetupCaveat(
                    key: "vcpus-unrecorded",
                    text:
                        "VM vCPU count not recorded in the results (metric `vcpus`): cannot tell single from multi-vCPU",
                    claims: ["C3"]))
        }
        if doc.host.cpus <= 2 && hasVMSamples {
            caveats.append(
                SetupCaveat(
                    key: "few-host-cpus",
                    text:
                        "host has \(NumberText.count(doc.host.cpus, "CPU")): QEMU's own threads compete with the guest",
                    claims: ["C1", "C3", "C8"]))
        }
        if !doc.complete {
            caveats.append(
                SetupCaveat(
                    key: "incomplete", text: "the run did not finish (interrupted or still running)", claims: []))
        }
        if let calibration = doc.calibration, !calibration.withinTolerance {
            caveats.append(
                SetupCaveat(
                    key: "calibration",
                    text:
                        "harness calibration off: native hello median \(NumberText.number(calibration.harnessMedianMs)) ms vs hyperfine \(NumberText.number(calibration.hyperfineMedianMs)) ms (×\(NumberText.number(calibration.ratio)))",
                    claims: []))
        }
        let failed = failedSampleCount
        if failed > 0 {
            caveats.append(
                SetupCaveat(
                    key: "failed-samples",
                    text:
                        "\(failed) of \(doc.samples.count) samples failed and are excluded from statistics (see Failures)",
                    claims: []))
        }
        return caveats
    }

    /// Verdicts on C1–C7 by the rules stated in each assessment.
    func computeClaims() -> [ClaimAssessment] {
        let caveats = setupCaveats
        func caveatsFor(_ id: String) -> [String] {
            caveats.filter { $0.claims.contains(id) }.map(\.text)
        }
        return [
            assessStartup(caveatsFor("C1")), assessMemory(caveatsFor("C2")), assessOverhead(caveatsFor("C3")),
            assessImageSize(caveatsFor("C4")), assessLayers(caveatsFor("C5")),
            assessIsolation(caveatsFor("C6")), assessPortability(caveatsFor("C7")), assessNetwork(caveatsFor("C8")),
        ]
    }

    /// Plain words for why a workload × arm × metric has no statistics.
    func missingReason(workload: String, armKey: String, metric: String) -> String {
        guard let outcome = outcome(workload: workload, armKey: armKey) else {
            return document.plan.arms.contains(armKey)
                ? "no \(armKey) samples of \(workload)" : "\(armKey) arm not in this run"
        }
        if outcome.succeeded == 0 {
            return "\(armKey) \(workload): 0 of \(outcome.failed) runs succeeded (\(outcome.firstFailure ?? "failed"))"
        }
        return "\(armKey) \(workload) did not record \(metric)"
    }

    private func notMeasured(
        _ id: String, _ claim: String, metric: String, rule: String, reason: String, caveats: [String],
        evidence: [String] = []
    ) -> ClaimAssessment {
        ClaimAssessment(
            id: id, claim: claim, metric: metric, measured: "not measured", ratio: nil, interval: nil,
            verdict: .inconclusive, reason: reason, notMeasured: true, rule: rule, caveats: caveats,
            evidence: evidence, references: ReferencePoints.byClaim[id] ?? [])
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
    func missingKind(_ kind: String) -> String? {
        arms(ofKind: kind).isEmpty ? "no \(kind) arm in this run" : nil
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
                        numerator: top, denominator: bottom, measured: NumberText.ratio(r.value, interval: r.interval),
                        ratio: r.value, interval: r.interval, verdict: verdict), r
                )
            }
        }
    }

    /// A ratio claim decided by its first pair (the first numerator-kind arm over the first denominator-kind arm,
    /// in plan order), with one row per pair.
    private func pairwise(
        _ id: String, _ claim: String, metric: String, measured: [(pair: ClaimPair, estimate: RatioEstimate)],
        caveats: [String], evidence: [String]
    ) -> ClaimAssessment {
        let (decided, r) = (measured[0].pair, measured[0].estimate)
        let (verdict, reason) = ClaimRules.ratioVerdict(r.interval)
        let pairName = "\(decided.numerator)÷\(decided.denominator)"
        var assessment = ClaimAssessment(
            id: id, claim: claim, metric: "\(metric): \(pairName)",
            measured: NumberText.ratio(r.value, interval: r.interval), ratio: r.value, interval: r.interval,
            verdict: verdict, reason: "decided by \(pairName): \(reason)", notMeasured: false,
            rule: ClaimRules.ratioRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
        assessment.pairs = measured.map(\.pair)
        return assessment
    }

    private func assessStartup(_ caveats: [String]) -> ClaimAssessment {
        let id = "C1"
        let claim = "A container starts much faster than a VM, because it boots no guest kernel."
        let metrics = [Metric.startupFirstOutputMs, Metric.startupExitMs]
        var evidence: [String] = []
        for workload in workloads {
            for metric in metrics {
                for (pair, _) in pairs(
                    workload: workload, numeratorKind: "vm", denominatorKind: "container", numeratorMetric: metric.name,
                    denominatorMetric: metric.name)
                {
                    evidence.append(
                        "\(workload), \(metric.title): \(pair.numerator)÷\(pair.denominator) \(pair.measured)")
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
                        evidence.append(
                            "\(armLabel(vm)) phases of \(workload) (median ms from launch): "
                                + phases.map { "\($0.name) \(NumberText.number($0.ms))" }.joined(separator: ", "))
                    }
                }
                return pairwise(
                    id, claim, metric: "startup \(metric.title) (\(metric.name)), \(workload)", measured: measured,
                    caveats: caveats, evidence: evidence)
            }
        }
        let workload = primaryWorkloads.first ?? "hello"
        let reason = ["vm", "container"].compactMap { kind -> String? in
            if let missing = missingKind(kind) { return missing }
            let arm = arms(ofKind: kind)[0]
            return metrics.contains { stats(workload: workload, armKey: arm, metric: $0.name) != nil }
                ? nil
                : missingReason(workload: workload, armKey: arm, metric: "startup_first_output_ms or startup_exit_ms")
        }
        return notMeasured(
            id, claim, metric: "startup vm÷container", rule: ClaimRules.ratioRule,
            reason: reason.joined(separator: "; "), caveats: caveats, evidence: evidence)
    }

    /// Host-side memory of one instance: the same metric for both arms when both have it,
    /// else QEMU PSS for the VM against the container's cgroup peak.
    private static let memoryPairs: [(vm: Metric, container: Metric)] = [
        (.memoryPeakBytes, .memoryPeakBytes), (.pssPeakBytes, .memoryPeakBytes), (.rssPeakBytes, .memoryPeakBytes),
    ]

    private func assessMemory(_ caveats: [String]) -> ClaimAssessment {
        let id = "C2"
        let claim = "A container uses much less memory than a VM, because it carries no guest OS."
        var evidence: [String] = []
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
                evidence.append(
                    "density at N = \(n): \(NumberText.quantity(vm.memoryPerInstanceBytes, unit: "B")) per VM (\(densityVM)) vs \(NumberText.quantity(container.memoryPerInstanceBytes, unit: "B")) per container (\(densityContainer)) (×\(NumberText.number(vm.memoryPerInstanceBytes / container.memoryPerInstanceBytes)), single run, no interval)"
                )
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
                        evidence.append(
                            "\(vm): guest MemTotal \(NumberText.quantity(total.summary.median, unit: "B")) (the guest's own view)"
                        )
                    }
                }
                let what =
                    metricPair.vm == metricPair.container
                    ? "\(metricPair.vm.title) (\(metricPair.vm.name))"
                    : "VM \(metricPair.vm.title) (\(metricPair.vm.name)) ÷ container \(metricPair.container.title) (\(metricPair.container.name))"
                return pairwise(
                    id, claim, metric: "host memory per instance, \(workload): \(what)", measured: measured,
                    caveats: caveats, evidence: evidence)
            }
        }
        let workload = primaryWorkloads.first ?? "idle"
        var reason: [String] = []
        if let missing = missingKind("vm") {
            reason.append(missing)
        } else if !Self.memoryPairs.contains(where: {
            stats(workload: workload, armKey: arms(ofKind: "vm")[0], metric: $0.vm.name) != nil
        }) {
            reason.append(
                missingReason(
                    workload: workload, armKey: arms(ofKind: "vm")[0],
                    metric: "\(Metric.memoryPeakBytes.name) or \(Metric.pssPeakBytes.name)"))
        }
        if let missing = missingKind("container") {
            reason.append(missing)
        } else if stats(workload: workload, armKey: arms(ofKind: "container")[0], metric: Metric.memoryPeakBytes.name)
            == nil
        {
            // Only what is really missing: the claims never contradict the table.
            reason.append(
                missingReason(
                    workload: workload, armKey: arms(ofKind: "container")[0], metric: Metric.memoryPeakBytes.name))
        }
        return notMeasured(
            id, claim, metric: "host memory per instance vm÷container", rule: ClaimRules.ratioRule,
            reason: reason.joined(separator: "; "), caveats: caveats, evidence: evidence)
    }

    /// The metric that best measures a compute workload's speed, and whether larger is better.
    func overheadMetric(workload: String) -> Metric? {
        let names = Set(rows.filter { $0.workload == workload }.map(\.metric.name))
        let work = names.filter { $0.hasPrefix("work_") }.sorted()
        if let throughput = work.first(where: { !Metric.named($0).lowerIsBetter }) { return Metric.named(throughput) }
        if let time = work.first(where: { $0.hasSuffix("_ns") || $0.hasSuffix("_ms") }) { return Metric.named(time) }
        return names.contains(Metric.startupExitMs.name) ? .startupExitMs : nil
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

    private func assessOverhead(_ caveats: [String]) -> ClaimAssessment {
        let id = "C3"
        let claim =
            "A container runs the workload with almost no overhead versus the bare host, while the hypervisor adds overhead."
        var evidence: [String] = []
        var containerSlowdowns: [RatioEstimate] = []
        var vmSlowdowns: [RatioEstimate] = []
        var missing: [String] = []
        if let absent = missingKind("native") { missing.append(absent) }
        for workload in ["cpu", "memory", "syscall", "fileio"] where missingKind("native") == nil {
            guard workloads.contains(workload), let metric = overheadMetric(workload: workload) else {
                missing.append("\(workload) not run")
                continue
            }
            var parts: [String] = []
            // Every container-kind and every VM-kind arm against the native arm.
            for kind in ["container", "vm"] {
                if let absent = missingKind(kind) {
                    if !missing.contains(absent) { missing.append(absent) }
                    continue
                }
                for arm in arms(ofKind: kind) {
                    if let r = slowdown(workload: workload, armKey: arm, metric: metric) {
                        if kind == "container" { containerSlowdowns.append(r) } else { vmSlowdowns.append(r) }
                        parts.append("\(arm) \(NumberText.ratio(r.value, interval: r.interval))")
                    } else {
                        missing.append(missingReason(workload: workload, armKey: arm, metric: metric.name))
                    }
                }
            }
            if !parts.isEmpty {
                let note = metric == .startupExitMs ? " (run time incl. startup: no workload metric recorded)" : ""
                evidence.append(
                    "\(workload), slowdown vs native by \(metric.name)\(note): " + parts.joined(separator: ", "))
            }
        }
        guard !containerSlowdowns.isEmpty || !vmSlowdowns.isEmpty else {
            return notMeasured(
                id, claim, metric: "slowdown vs native (cpu, memory, syscall, fileio)", rule: ClaimRules.overheadRule,
                reason: missing.joined(separator: "; "), caveats: caveats, evidence: evidence)
        }
        let tolerance = ClaimRules.overheadTolerance
        let worstContainer = containerSlowdowns.max { $0.value < $1.value }
        let worstVM = vmSlowdowns.max { $0.value < $1.value }
        var measuredParts: [String] = []
        if let worstContainer {
            measuredParts.append(
                "max container slowdown \(NumberText.ratio(worstContainer.value, interval: worstContainer.interval))")
        }
        if let worstVM {
            measuredParts.append("max vm slowdown \(NumberText.ratio(worstVM.value, interval: worstVM.interval))")
        }
        let verdict: Verdict
        let reason: String
        let allIntervals = (containerSlowdowns + vmSlowdowns).allSatisfy { $0.interval != nil }
        if containerSlowdowns.contains(where: { ($0.interval?.lower ?? 0) > tolerance }) {
            (verdict, reason) = (
                .doesNotHold, "a container slowdown is above \(NumberText.number(tolerance)) with 95% confidence"
            )
        } else if !vmSlowdowns.isEmpty, allIntervals, vmSlowdowns.allSatisfy({ $0.interval!.upper <= tolerance }) {
            (verdict, reason) = (
                .doesNotHold,
                "no VM slowdown exceeds \(NumberText.number(tolerance)): the hypervisor adds no measurable overhead"
            )
        } else if !containerSlowdowns.isEmpty, allIntervals, missing.isEmpty,
            containerSlowdowns.allSatisfy({ $0.interval!.upper <= tolerance }),
            vmSlowdowns.contains(where: { $0.interval!.lower > tolerance })
        {
            (verdict, reason) = (
                .holds,
                "container slowdown ≤ \(NumberText.number(tolerance)) everywhere, VM slowdown > \(NumberText.number(tolerance)) somewhere"
            )
        } else {
            var why = "intervals do not settle the rule"
            if !missing.isEmpty { why += "; missing: " + missing.joined(separator: "; ") }
            (verdict, reason) = (.inconclusive, why)
        }
        return ClaimAssessment(
            id: id, claim: claim, metric: "slowdown vs native of cpu, memory, syscall, fileio",
            measured: measuredParts.joined(separator: "; "), ratio: worstVM?.value ?? worstContainer?.value,
            interval: worstVM?.interval ?? worstContainer?.interval, verdict: verdict, reason: reason,
            notMeasured: false, rule: ClaimRules.overheadRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
    }

    /// Bytes per image: container compressed and uncompressed layers, VM artifacts by component.
    public struct ImageBytes: Sendable {
        public let image: String
        public var containerCompressed: UInt64?
        public var containerUncompressed: UInt64?
        /// kernel, initramfs, disk-allocated — what the VM needs on the host.
        public var vmComponents: [(component: String, bytes: UInt64)] = []
        public var vmDiskVirtual: UInt64?
        public var vmTotal: UInt64? { vmComponents.isEmpty ? nil : vmComponents.reduce(0) { $0 + $1.bytes } }
    }

    public var imageBytes: [ImageBytes] {
        var order: [String] = []
        var byImage: [String: ImageBytes] = [:]
        // One VM arm's artifacts per image (the first VM-kind arm that has them): two VM arms of one image (initramfs
        // and disk) must not add up to one VM.
        var vmArmOfImage: [String: String] = [:]
        for artifact in document.images where kind(of: artifact.armKey) == "vm" && vmArmOfImage[artifact.image] == nil {
            vmArmOfImage[artifact.image] = artifact.armKey
        }
        for artifact in document.images {
            if byImage[artifact.image] == nil {
                order.append(artifact.image)
                byImage[artifact.image] = ImageBytes(image: artifact.image)
            }
            let isVM = kind(of: artifact.armKey) == "vm"
            if isVM && vmArmOfImage[artifact.image] != artifact.armKey { continue }
            switch (isVM, artifact.component) {
            case (false, "layers-compressed"): byImage[artifact.image]!.containerCompressed = artifact.bytes
            case (false, "layers-uncompressed"): byImage[artifact.image]!.containerUncompressed = artifact.bytes
            case (true, "disk-virtual"): byImage[artifact.image]!.vmDiskVirtual = artifact.bytes
            case (true, _): byImage[artifact.image]!.vmComponents.append((artifact.component, artifact.bytes))
            default: break
            }
        }
        return order.map { byImage[$0]! }
    }

    private func assessImageSize(_ caveats: [String]) -> ClaimAssessment {
        let id = "C4"
        let claim = "A VM image is large — it holds a whole OS; a container image is only files, though still not tiny."
        var evidence: [String] = []
        var ratios: [Double] = []
        for image in imageBytes {
            var line = "\(image.image):"
            if let compressed = image.containerCompressed {
                line += " container compressed \(NumberText.bytes(compressed)),"
            }
            if let uncompressed = image.containerUncompressed {
                line += " uncompressed \(NumberText.bytes(uncompressed));"
            }
            if let total = image.vmTotal {
                line +=
                    " VM "
                    + image.vmComponents.map { "\($0.component) \(NumberText.bytes($0.bytes))" }.joined(
                        separator: " + ")
                line += " = \(NumberText.bytes(total))"
                if let uncompressed = image.containerUncompressed, uncompressed > 0 {
                    let r = Double(total) / Double(uncompressed)
                    ratios.append(r)
                    line += " (×\(NumberText.number(r)))"
                }
            }
            if let virtual = image.vmDiskVirtual { line += "; disk virtual size \(NumberText.bytes(virtual))" }
            evidence.append(line)
        }
        guard !ratios.isEmpty else {
            let reason =
                document.images.isEmpty
                ? "no image sizes in the results" : "no image has both container uncompressed layers and VM artifacts"
            return notMeasured(
                id, claim, metric: "bytes: VM artifacts ÷ container uncompressed layers", rule: ClaimRules.imageRule,
                reason: reason, caveats: caveats, evidence: evidence)
        }
        let verdict: Verdict
        let reason: String
        if ratios.allSatisfy({ $0 >= ClaimRules.ratioHolds }) {
            (verdict, reason) = (
                .holds,
                "every image's VM artifacts are ≥ ×\(NumberText.number(ClaimRules.ratioHolds)) its container layers"
            )
        } else if ratios.allSatisfy({ $0 < ClaimRules.ratioFails }) {
            (verdict, reason) = (
                .doesNotHold,
                "every image's VM artifacts are < ×\(NumberText.number(ClaimRules.ratioFails)) its container layers"
            )
        } else {
            (verdict, reason) = (.inconclusive, "ratios between or on both sides of the thresholds")
        }
        let measured =
            ratios.count == 1
            ? "×\(NumberText.number(ratios[0])) (exact bytes)"
            : "×\(NumberText.number(ratios.min()!))–×\(NumberText.number(ratios.max()!)) over \(ratios.count) images (exact bytes)"
        return ClaimAssessment(
            id: id, claim: claim, metric: "bytes: VM artifacts ÷ container uncompressed layers", measured: measured,
            ratio: ratios.count == 1 ? ratios[0] : median(sorted: ratios.sorted()), interval: nil, verdict: verdict,
            reason: reason, notMeasured: false, rule: ClaimRules.imageRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
    }

    private func assessLayers(_ caveats: [String]) -> ClaimAssessment {
        let id = "C5"
        let claim =
            "Layers make images efficient: an image built on a base reuses the base's layers, and a change transfers only the changed layer."
        let records = document.layerSharing
        guard !records.isEmpty else {
            return notMeasured(
                id, claim, metric: "bytes to pull given base; new layers after last-step rebuild",
                rule: ClaimRules.layerRule, reason: "no layer-sharing records in the results", caveats: caveats)
        }
        var evidence: [String] = []
        for record in records {
            let fraction =
                record.imageCompressedBytes > 0
                ? Double(record.bytesToPullGivenBase) / Double(record.imageCompressedBytes) : .nan
            var line =
                "\(record.image) on \(record.base): pull \(NumberText.bytes(record.bytesToPullGivenBase)) of \(NumberText.bytes(record.imageCompressedBytes)) (\(NumberText.number(fraction * 100))%), shared \(NumberText.bytes(record.sharedCompressedBytes))"
            if let layers = record.newLayersOnLastStepRebuild {
                line += "; last-step rebuild created \(layers) new layer\(layers == 1 ? "" : "s")"
            } else {
                line += "; last-step rebuild not measured"
            }
            evidence.append(line)
        }
        let sharesNothing = records.filter { $0.sharedCompressedBytes == 0 }
        let badRebuild = records.filter { ($0.newLayersOnLastStepRebuild ?? 1) != 1 }
        let verdict: Verdict
        let reason: String
        if !sharesNothing.isEmpty || !badRebuild.isEmpty {
            var why: [String] = []
            if !sharesNothing.isEmpty {
                why.append("\(sharesNothing.map(\.image).joined(separator: ", ")) share no bytes with the base")
            }
            if !badRebuild.isEmpty {
                why.append(
                    "a last-step rebuild created \(badRebuild.compactMap(\.newLayersOnLastStepRebuild).map(String.init).joined(separator: ", ")) layers"
                )
            }
            (verdict, reason) = (.doesNotHold, why.joined(separator: "; "))
        } else if records.contains(where: { $0.newLayersOnLastStepRebuild == nil }) {
            (verdict, reason) = (
                .inconclusive, "layers are shared, but the last-step rebuild was not measured for every image"
            )
        } else if records.allSatisfy({ $0.bytesToPullGivenBase < $0.imageCompressedBytes }) {
            (verdict, reason) = (.holds, "every image reuses its base and a last-step rebuild adds exactly one layer")
        } else {
            (verdict, reason) = (.inconclusive, "an image needs its full size pulled despite sharing bytes")
        }
        let pulled = records.reduce(0.0) { $0 + Double($1.bytesToPullGivenBase) }
        let total = records.reduce(0.0) { $0 + Double($1.imageCompressedBytes) }
        let fraction = total > 0 ? pulled / total : .nan
        return ClaimAssessment(
            id: id, claim: claim,
            metric: "bytes to pull given the base ÷ image size; new layers after last-step rebuild",
            measured:
                "\(NumberText.number(fraction * 100))% of image bytes pulled when the base is present (exact bytes)",
            ratio: fraction, interval: nil, verdict: verdict, reason: reason, notMeasured: false,
            rule: ClaimRules.layerRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
    }

    private func assessIsolation(_ caveats: [String]) -> ClaimAssessment {
        let id = "C6"
        let claim =
            "Containers isolate processes (namespaces, cgroups) on one kernel; VMs isolate with a separate kernel."
        let records = document.isolation
        let isolated = records.filter { kind(of: $0.armKey) == "container" || kind(of: $0.armKey) == "vm" }
        let native = records.filter { kind(of: $0.armKey) == "native" }
        var evidence: [String] = []
        for arm in ReportAnalysis.ordered([], present: Set(records.map(\.armKey)), preferred: arms) {
            let armRecords = records.filter { $0.armKey == arm }
            let blocked = armRecords.filter(\.blocked)
            let through = armRecords.filter { !$0.blocked }.map(\.probe)
            evidence.append(
                "\(armLabel(arm)): \(blocked.count)/\(armRecords.count) probes blocked"
                    + (through.isEmpty ? "" : "; not blocked: \(through.joined(separator: ", "))"))
        }
        let hasContainer = isolated.contains { kind(of: $0.armKey) == "container" }
        let hasVM = isolated.contains { kind(of: $0.armKey) == "vm" }
        guard hasContainer || hasVM else {
            return notMeasured(
                id, claim, metric: "isolation probes per arm", rule: ClaimRules.isolationRule,
                reason: records.isEmpty ? "no isolation probes in the results" : "isolation probes ran only natively",
                caveats: caveats, evidence: evidence)
        }
        // Inside the VM the probes hit the guest's own kernel: a success there is the VM's model, not an escape.
        let leaks = isolated.filter { kind(of: $0.armKey) == "container" && !$0.blocked }
        // Container probes (the host kernel) and VM probes (the guest's own kernel) are different things: counted apart.
        let containerProbes = isolated.filter { kind(of: $0.armKey) == "container" }
        let vmProbes = isolated.filter { kind(of: $0.armKey) == "vm" }
        var parts: [String] = []
        if !containerProbes.isEmpty {
            parts.append("container: \(containerProbes.filter(\.blocked).count)/\(containerProbes.count) blocked")
        }
        if !vmProbes.isEmpty {
            parts.append("VM: \(vmProbes.filter(\.blocked).count)/\(vmProbes.count) blocked (on the guest's kernel)")
        }
        let measuredByKind = parts.joined(separator: "; ")
        let verdict: Verdict
        let reason: String
        if !leaks.isEmpty {
            (verdict, reason) = (
                .doesNotHold, "got through: " + leaks.map { "\($0.armKey) \($0.probe)" }.joined(separator: ", ")
            )
        } else if !native.isEmpty && native.allSatisfy(\.blocked) {
            (verdict, reason) = (
                .inconclusive, "the native control blocked every probe too, so the probes do not discriminate"
            )
        } else if !hasContainer || !hasVM {
            (verdict, reason) = (.inconclusive, "probes ran only in the \(hasContainer ? "container" : "VM") arm")
        } else {
            (verdict, reason) = (
                .holds,
                "all \(isolated.filter { kind(of: $0.armKey) == "container" }.count) container probes blocked; the VM ran them against its own kernel"
                    + (native.isEmpty ? " (no native control recorded)" : "")
            )
        }
        return ClaimAssessment(
            id: id, claim: claim, metric: "isolation probes blocked in container arms; VM probes on the guest kernel",
            measured: measuredByKind, ratio: nil, interval: nil, verdict: verdict,
            reason: reason, notMeasured: false, rule: ClaimRules.isolationRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
    }

    private func assessPortability(_ caveats: [String]) -> ClaimAssessment {
        let id = "C7"
        let claim = "The same packaged application runs the same anywhere (portability, standardization)."
        let compared = workloads.filter { $0 != "probe" }
        guard !compared.isEmpty else {
            return notMeasured(
                id, claim, metric: "output digests and exit codes across arms", rule: ClaimRules.portabilityRule,
                reason: "no workloads in the results", caveats: caveats)
        }
        var evidence: [String] = []
        var mismatched: [String] = []
        var missing: [String] = []
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
                missing.append(missingReason(workload: workload, armKey: arm, metric: "output"))
            }
            let distinct = Set(digestsByArm.values.flatMap { $0 })
            if distinct.count > 1 {
                let groups = digestsByArm.sorted { $0.key < $1.key }.map {
                    "\($0.key) \($0.value.map { String($0.prefix(12)) }.sorted().joined(separator: "/"))"
                }
                mismatched.append(workload)
                evidence.append("\(workload): outputs differ — " + groups.joined(separator: ", "))
            } else if distinct.count == 1, digestsByArm.count >= 2 {
                identical += 1
                evidence.append("\(workload): identical output in \(digestsByArm.count) arms")
            } else {
                withoutDigest.append(workload)
            }
        }
        if !missing.isEmpty { evidence.append("did not run: " + missing.joined(separator: "; ")) }
        if !withoutDigest.isEmpty {
            evidence.append("no output digests in ≥ 2 arms for: " + withoutDigest.joined(separator: ", "))
        }
        let measured = "\(identical)/\(compared.count) workloads with identical output across arms"
        let verdict: Verdict
        let reason: String
        if !mismatched.isEmpty {
            (verdict, reason) = (.doesNotHold, "outputs differ across arms for \(mismatched.joined(separator: ", "))")
        } else if identical == 0 {
            return notMeasured(
                id, claim, metric: "output digests and exit codes across arms", rule: ClaimRules.portabilityRule,
                reason: "no workload has output digests from two arms", caveats: caveats, evidence: evidence)
        } else if !missing.isEmpty || !withoutDigest.isEmpty {
            (verdict, reason) = (
                .inconclusive, "identical where compared, but not every workload ran and was compared in every arm"
            )
        } else {
            (verdict, reason) = (.holds, "every workload ran in every arm with identical output")
        }
        return ClaimAssessment(
            id: id, claim: claim, metric: "output digests and exit codes across arms", measured: measured,
            ratio: nil, interval: nil, verdict: verdict, reason: reason, notMeasured: false,
            rule: ClaimRules.portabilityRule, caveats: caveats, evidence: evidence,
            references: ReferencePoints.byClaim[id] ?? [])
    }
}

extension ReportAnalysis {
    /// C8: the latency a container's and a VM's network path add, from the request/response workloads.
    func assessNetwork(_ caveats: [String]) -> ClaimAssessment {
        let id = "C8"
        let claim = "A container adds almost nothing to network latency; a VM's virtual NIC adds latency."
        let metric = Metric.named("work_rr_p50_ns")
        let netWorkloads = workloads.filter { w in rows.contains { $0.workload == w && $0.metric.name == metric.name } }
        guard !netWorkloads.isEmpty else {
            return notMeasured(
                id, claim, metric: "TCP request/response latency p50: container÷native, vm÷container",
                rule: ClaimRules.networkRule, reason: "no network workload (netrr) in this run", caveats: caveats)
        }
        var evidence: [String] = []
        var containerRatios: [RatioEstimate] = []
        var vmRatios: [RatioEstimate] = []
        var missing: [String] = []
        for kind in ["native", "container", "vm"] {
            if let absent = missingKind(kind) { missing.append(absent) }
        }
        for w in netWorkloads {
            for arm in arms(ofKind: "container") {
                guard let r = slowdown(workload: w, armKey: arm, metric: metric) else {
                    missing.append(missingReason(workload: w, armKey: arm, metric: metric.name))
                    continue
                }
                containerRatios.append(r)
                evidence.append("\(w): \(arm) ÷ native latency p50 \(NumberText.ratio(r.value, interval: r.interval))")
            }
            for p in pairs(
                workload: w, numeratorKind: "vm", denominatorKind: "container", numeratorMetric: metric.name,
                denominatorMetric: metric.name)
            {
                vmRatios.append(p.estimate)
                evidence.append(
                    "\(w): \(p.pair.numerator) ÷ \(p.pair.denominator) latency p50 \(NumberText.ratio(p.estimate.value, interval: p.estimate.interval))"
                )
            }
            // Container engines side by side: how far each is from the first (same network path, other runtime).
            let containers = arms(ofKind: "container")
            if let first = containers.first, let base = stats(workload: w, armKey: first, metric: metric.name) {
                for other in containers.dropFirst() {
                    guard let s = stats(workload: w, armKey: other, metric: metric.name) else { continue }
                    let r = Self.ratio(s, base, level: options.level)
                    evidence.append(
                        "\(w): \(other) ÷ \(first) latency p50 \(NumberText.ratio(r.value, interval: r.interval))")
                }
            }
        }
        guard !containerRatios.isEmpty || !vmRatios.isEmpty else {
            return notMeasured(
                id, claim, metric: "TCP request/response latency p50: container÷native, vm÷container",
                rule: ClaimRules.networkRule, reason: missing.joined(separator: "; "), caveats: caveats,
                evidence: evidence)
        }
        let tolerance = ClaimRules.overheadTolerance
        let verdict: Verdict
        var reason: String
        if containerRatios.contains(where: { ($0.interval?.lower ?? 0) > tolerance }) {
            (verdict, reason) = (.doesNotHold, "a container adds more than 10 % latency with 95% confidence")
        } else if vmRatios.contains(where: { ($0.interval?.upper ?? .infinity) <= tolerance }) {
            (verdict, reason) = (.doesNotHold, "a VM adds no more than 10 % latency over a container")
        } else if !containerRatios.isEmpty, !vmRatios.isEmpty,
            containerRatios.allSatisfy({ ($0.interval?.upper ?? .infinity) <= tolerance }),
            vmRatios.allSatisfy({ ($0.interval?.lower ?? 0) > tolerance })
        {
            (verdict, reason) = (.holds, "containers within 10 % of native, VMs more than 10 % over containers")
        } else {
            (verdict, reason) = (.inconclusive, "intervals do not settle the rule")
            if vmRatios.isEmpty {
                reason =
                    "the VM half is not measured (no VM arm ran a network workload)"
                    + (containerRatios.allSatisfy({ ($0.interval?.upper ?? .infinity) <= tolerance })
                        ? "; the container half holds: every container within 10 % of native" : "")
            }
        }
        let worst = (vmRatios + containerRatios).max { $0.value < $1.value }
        var measured: [String] = []
        if let c = containerRatios.max(by: { $0.value < $1.value }) {
            measured.append("max container÷native \(NumberText.ratio(c.value, interval: c.interval))")
        }
        if let v = vmRatios.min(by: { $0.value < $1.value }) {
            measured.append("min vm÷container \(NumberText.ratio(v.value, interval: v.interval))")
        }
        return ClaimAssessment(
            id: id, claim: claim, metric: "TCP request/response latency p50: container÷native, vm÷container",
            measured: measured.joined(separator: "; "), ratio: worst?.value, interval: worst?.interval,
            verdict: verdict, reason: reason, notMeasured: false, rule: ClaimRules.networkRule, caveats: caveats,
            evidence: evidence, references: ReferencePoints.byClaim[id] ?? [])
    }
}
