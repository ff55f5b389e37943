import Results
import Stats

/// Every word the reports print about the claims: statements, rules, what was measured, why the verdict, the
/// evidence and the caveats, all made from the rules' data (Claims.swift). Renderers read these.

enum ClaimText {
    static let statements: [String: String] = [
        "C1": "A container starts much faster than a VM, because it boots no guest kernel.",
        "C2": "A container uses much less memory than a VM, because it carries no guest OS.",
        "C3":
            "A container runs the workload with almost no overhead versus the bare host, while the hypervisor adds overhead.",
        "C4": "A VM image is large — it holds a whole OS; a container image is only files, though still not tiny.",
        "C5":
            "Layers make images efficient: an image built on a base reuses the base's layers, and a change transfers only the changed layer.",
        "C6": "Containers isolate processes (namespaces, cgroups) on one kernel; VMs isolate with a separate kernel.",
        "C7": "The same packaged application runs the same anywhere (portability, standardization).",
        "C8": "A container adds almost nothing to network latency; a VM's virtual NIC adds latency.",
        "C9": "A service answers as fast in a container as natively; a VM adds latency and memory.",
    ]

    static let ratioRule =
        "holds if the 95% CI lower bound of the ratio > \(NumberText.number(ClaimRules.ratioHolds)); does not hold if the upper bound < \(NumberText.number(ClaimRules.ratioFails)); otherwise inconclusive (also when n < \(Bootstrap.minimumSampleCount) per arm gives no interval)"

    static let rules: [String: String] = [
        "C1": ratioRule,
        "C2": ratioRule,
        "C3":
            "slowdown = arm ÷ native time (or native ÷ arm throughput). Holds if every measured workload has container slowdown CI upper ≤ \(NumberText.number(ClaimRules.overheadTolerance)) and at least one has VM slowdown CI lower > \(NumberText.number(ClaimRules.overheadTolerance)); does not hold if any container slowdown CI lower > \(NumberText.number(ClaimRules.overheadTolerance)) or every VM slowdown CI upper ≤ \(NumberText.number(ClaimRules.overheadTolerance)); otherwise inconclusive",
        "C4":
            "VM artifacts (kernel + initramfs + allocated disk) ÷ container uncompressed layers, per image (exact bytes, no sampling error), weighing a full-OS guest where the run has one (the claim is about a whole OS), else the first VM arm; every VM arm is listed: holds if every image ≥ \(NumberText.number(ClaimRules.ratioHolds)); does not hold if every image < \(NumberText.number(ClaimRules.ratioFails)); otherwise inconclusive",
        "C5":
            "holds if every image shares bytes with its base, needs fewer bytes to pull than its full size, and a rebuild after changing only the last step creates exactly 1 new layer; does not hold if any image shares nothing or such a rebuild creates ≠ 1 layer, or — over the wire, through a loopback registry — pushing where the base already is sends no fewer bytes than pushing alone, or pushing the rebuild sends ≠ 1 layer; otherwise inconclusive",
        "C6":
            "holds if every isolation probe in the container arms was blocked (they share the host kernel) and the VM arm ran them against its own guest kernel, with the native control not blocked everywhere; does not hold if any container probe got through; otherwise inconclusive. A probe that succeeds inside the VM acts on the guest's kernel, not the host's",
        "C7":
            "holds if every workload (except `probe`, whose output reports the arm by design) succeeded in every planned arm and its output digest is identical across arms; does not hold if digests differ; otherwise inconclusive",
        "C8":
            "holds if every container ÷ native ratio of TCP request/response latency (p50) has its 95% upper bound ≤ 1.10 and every VM ÷ container ratio its lower bound > 1.10; does not hold if a container ratio's lower bound > 1.10 or a VM ratio's upper bound ≤ 1.10; else inconclusive",
        "C9":
            "holds if every container ÷ native ratio of a service's latency p50 under its fixed load (wrk, redis-benchmark from the client namespace) has its 95% upper bound ≤ 1.10 and every VM ÷ container ratio its lower bound > 1.10; does not hold if a container ratio's lower bound > 1.10 or a VM ratio's upper bound ≤ 1.10; else inconclusive. p99, throughput, time to ready, memory and CPU per request are shown as evidence (C2 judges memory)",
    ]

    static func ratio(_ r: RatioEstimate?) -> String {
        r.map { NumberText.ratio($0.value, interval: $0.interval) } ?? "not measured"
    }

    /// How a metric is named in claim text ("latency p50" for the request/response workloads' figure).
    static func label(_ metric: Metric) -> String {
        switch metric.name {
        case "work_rr_p50_ns": "latency p50"
        case "work_service_p50_ms": "service latency p50"
        default: metric.title
        }
    }

    static func missing(_ m: Missing) -> String {
        switch m {
        case .noArmOfKind(let kind): "no \(kind) arm in this run"
        case .armNotInRun(let arm): "\(arm) arm not in this run"
        case .noSamples(let arm, let workload): "no \(arm) samples of \(workload)"
        case .noneSucceeded(let arm, let workload, let failed, let first):
            "\(arm) \(workload): 0 of \(failed) runs succeeded (\(first ?? "failed"))"
        case .metricNotRecorded(let arm, let workload, let metric): "\(arm) \(workload) did not record \(metric)"
        case .workloadNotRun(let workload): "\(workload) not run"
        case .noImageSizes: "no image sizes in the results"
        case .noImageWithBothSizes: "no image has both container uncompressed layers and VM artifacts"
        case .noLayerSharing: "no layer-sharing records in the results"
        case .noIsolationProbes: "no isolation probes in the results"
        case .probesOnlyNative: "isolation probes ran only natively"
        case .noWorkloads: "no workloads in the results"
        case .noDigestsFromTwoArms: "no workload has output digests from two arms"
        case .noNetworkWorkload: "no network workload (netrr) in this run"
        case .noServiceWorkload: "no service workload (nginx, redis under load) in this run"
        }
    }

    static func missing(_ list: [Missing]) -> String { list.map(missing).joined(separator: "; ") }

    static func finding(_ f: Finding) -> String {
        let n = { (value: Double) in NumberText.number(value) }
        switch f {
        case .notMeasured(let list): return missing(list)
        case .ratio(let pair, let r):
            let why: String
            switch r {
            case .lowerAbove(let lower, let threshold): why = "CI lower bound \(n(lower)) > \(n(threshold))"
            case .upperBelow(let upper, let threshold): why = "CI upper bound \(n(upper)) < \(n(threshold))"
            case .straddles(let lower, let upper): why = "CI [\(n(lower)), \(n(upper))] straddles the thresholds"
            case .noInterval(let minimum): why = "no interval: fewer than \(minimum) successful samples in an arm"
            }
            return "decided by \(pair.numerator)÷\(pair.denominator): \(why)"
        case .overhead(let o, let absent):
            switch o {
            case .containerAbove(let t): return "a container slowdown is above \(n(t)) with 95% confidence"
            case .noVMOverhead(let t):
                return "no VM slowdown exceeds \(n(t)): the hypervisor adds no measurable overhead"
            case .holds(let t):
                return "container slowdown ≤ \(n(t)) everywhere, VM slowdown > \(n(t)) somewhere"
                    + (absent.isEmpty ? "" : " (in the workloads this run has; \(missing(absent)))")
            case .unsettled:
                return "intervals do not settle the rule" + (absent.isEmpty ? "" : "; missing: " + missing(absent))
            }
        case .imageSizes(let i):
            switch i {
            case .allAtLeast(let t): return "every image's VM artifacts are ≥ ×\(n(t)) its container layers"
            case .allBelow(let t): return "every image's VM artifacts are < ×\(n(t)) its container layers"
            case .mixed: return "ratios between or on both sides of the thresholds"
            }
        case .layers(let l):
            switch l {
            case .failures(let sharesNothing, let rebuildLayers, let wireSavesNothing, let wireRebuildLayers):
                var why: [String] = []
                if !wireSavesNothing.isEmpty {
                    why.append(
                        "over the wire, \(wireSavesNothing.joined(separator: ", ")) sent as many bytes with the base in "
                            + "the registry as without")
                }
                if !wireRebuildLayers.isEmpty {
                    why.append(
                        "pushing a last-step rebuild sent \(wireRebuildLayers.map(String.init).joined(separator: ", ")) layers"
                    )
                }
                if !sharesNothing.isEmpty {
                    why.append("\(sharesNothing.joined(separator: ", ")) share no bytes with the base")
                }
                if !rebuildLayers.isEmpty {
                    why.append(
                        "a last-step rebuild created \(rebuildLayers.map(String.init).joined(separator: ", ")) layers")
                }
                return why.joined(separator: "; ")
            case .rebuildNotMeasured:
                return "layers are shared, but the last-step rebuild was not measured for every image"
            case .fullPullDespiteSharing: return "an image needs its full size pulled despite sharing bytes"
            case .holds: return "every image reuses its base and a last-step rebuild adds exactly one layer"
            }
        case .isolation(let i):
            switch i {
            case .leaks(let leaks):
                return "got through: " + leaks.map { "\($0.arm) \($0.probe)" }.joined(separator: ", ")
            case .controlBlockedEverything:
                return "the native control blocked every probe too, so the probes do not discriminate"
            case .onlyKind(let kind): return "probes ran only in the \(kind) arm"
            case .holds(let count, let control):
                return "all \(count) container probes blocked; the VM ran them against its own kernel"
                    + (control ? "" : " (no native control recorded)")
            }
        case .portability(let p):
            switch p {
            case .differ(let workloads): return "outputs differ across arms for \(workloads.joined(separator: ", "))"
            case .partial:
                return "identical where compared, but not every workload ran and was compared in every arm"
            case .holds: return "every workload ran in every arm with identical output"
            }
        case .network(let w):
            let percent = { (t: Double) in "\(n((t - 1) * 100)) %" }
            switch w {
            case .containerAbove(let t): return "a container adds more than \(percent(t)) latency with 95% confidence"
            case .vmNotAbove(let t): return "a VM adds no more than \(percent(t)) latency over a container"
            case .holds(let t):
                return "containers within \(percent(t)) of native, VMs more than \(percent(t)) over containers"
            case .unsettled: return "intervals do not settle the rule"
            case .vmHalfMissing(let containerHalfHolds, let t):
                return "the VM half is not measured (no VM arm ran a network workload)"
                    + (containerHalfHolds
                        ? "; the container half holds: every container within \(percent(t)) of native" : "")
            }
        }
    }

    static func headline(_ h: Headline?) -> String {
        guard let h else { return "not measured" }
        let n = { (value: Double) in NumberText.number(value) }
        switch h {
        case .ratio(let r): return ratio(r)
        case .slowdowns(let container, let vm):
            return [
                container.map { "max container slowdown \(ratio($0))" }, vm.map { "max vm slowdown \(ratio($0))" },
            ].compactMap { $0 }.joined(separator: "; ")
        case .byteRatios(let ratios):
            return ratios.count == 1
                ? "×\(n(ratios[0])) (exact bytes)"
                : "×\(n(ratios.min()!))–×\(n(ratios.max()!)) over \(ratios.count) images (exact bytes)"
        case .pulledShare(let share, let wire):
            return "\(n(share * 100))% of image bytes pulled when the base is present (exact bytes)"
                + (wire.map { "; over the wire \(n($0 * 100))% pushed" } ?? "")
        case .probes(let containerBlocked, let containerTotal, let vmBlocked, let vmTotal):
            return [
                containerTotal > 0 ? "container: \(containerBlocked)/\(containerTotal) blocked" : nil,
                vmTotal > 0 ? "VM: \(vmBlocked)/\(vmTotal) blocked (on the guest's kernel)" : nil,
            ].compactMap { $0 }.joined(separator: "; ")
        case .identicalOutputs(let identical, let total):
            return "\(identical)/\(total) workloads with identical output across arms"
        case .latency(let container, let vm):
            return [
                container.map { "max container÷native \(ratio($0))" }, vm.map { "min vm÷container \(ratio($0))" },
            ].compactMap { $0 }.joined(separator: "; ")
        }
    }

    static func metric(id: String, basis: ClaimBasis, measured: Bool) -> String {
        let pair = basis.pair.map { ": \($0.numerator)÷\($0.denominator)" } ?? ""
        switch id {
        case "C1":
            guard measured, let metric = basis.metric, let workload = basis.workload else {
                return "startup vm÷container"
            }
            return "startup \(metric.title) (\(metric.name)), \(workload)\(pair)"
        case "C2":
            guard measured, let metric = basis.metric, let workload = basis.workload else {
                return "host memory per instance vm÷container"
            }
            let what =
                basis.denominatorMetric.map {
                    "VM \(metric.title) (\(metric.name)) ÷ container \($0.title) (\($0.name))"
                }
                ?? "\(metric.title) (\(metric.name))"
            return "host memory per instance, \(workload): \(what)\(pair)"
        case "C3":
            return measured
                ? "slowdown vs native of cpu, memory, syscall, fileio; fio IOPS per job"
                : "slowdown vs native (cpu, memory, syscall, fileio; fio IOPS per job)"
        case "C4": return "bytes: VM artifacts ÷ container uncompressed layers"
        case "C5":
            return measured
                ? "bytes to pull given the base ÷ image size (store; and pushed over the wire); new layers after last-step rebuild"
                : "bytes to pull given base; new layers after last-step rebuild"
        case "C6":
            return measured
                ? "isolation probes blocked in container arms; VM probes on the guest kernel"
                : "isolation probes per arm"
        case "C7": return "output digests and exit codes across arms"
        case "C8": return "TCP request/response latency p50: container÷native, vm÷container"
        case "C9": return "service latency p50 under a fixed load: container÷native, vm÷container"
        default: return basis.metric?.name ?? ""
        }
    }

    static func evidence(_ e: Evidence) -> String {
        let n = { (value: Double) in NumberText.number(value) }
        switch e {
        case .ratio(let workload, let metric, let r):
            return "\(workload), \(label(metric)): \(r.numeratorArm) ÷ \(r.denominatorArm) \(ratio(r))"
        case .slowdowns(let workload, let metric, let runTimeOnly, let slowdowns):
            let note = runTimeOnly ? " (run time incl. startup: no workload metric recorded)" : ""
            return "\(workload), slowdown vs native by \(metric.name)\(note): "
                + slowdowns.map { "\($0.arm) \(ratio($0.slowdown))" }.joined(separator: ", ")
        case .phases(let arm, let accel, let workload, let phases):
            return "\(arm)\(accel.map { " (\($0))" } ?? "") phases of \(workload) (median ms from launch): "
                + phases.map { "\($0.name) \(n($0.ms))" }.joined(separator: ", ")
        case .density(let instances, let vm, let vmBytes, let container, let containerBytes):
            return
                "density at N = \(instances): \(NumberText.quantity(vmBytes, unit: "B")) per VM (\(vm)) vs \(NumberText.quantity(containerBytes, unit: "B")) per container (\(container)) (×\(n(vmBytes / containerBytes)), single run, no interval)"
        case .guestMemory(let arm, let bytes):
            return "\(arm): guest MemTotal \(NumberText.quantity(bytes, unit: "B")) (the guest's own view)"
        case .image(let image):
            var line = "\(image.image):"
            if let compressed = image.containerCompressed {
                line += " container compressed \(NumberText.bytes(compressed)),"
            }
            if let uncompressed = image.containerUncompressed {
                line += " uncompressed \(NumberText.bytes(uncompressed));"
            }
            for vm in image.vms where !vm.components.isEmpty {
                line +=
                    " VM \(vm.armKey) (\(vm.guest)): "
                    + vm.components.map { "\($0.component) \(NumberText.bytes($0.bytes))" }.joined(separator: " + ")
                line += " = \(NumberText.bytes(vm.total))"
                if let r = image.ratio(of: vm) { line += " (×\(n(r)))" }
                if let os = vm.osLayerUncompressed {
                    line += ", the disk holding an OS layer (systemd) of \(NumberText.bytes(os))"
                }
                if vm.components.contains(where: { $0.component == "initramfs" }) && vm.diskVirtual == nil {
                    line += ", the rootfs gzip'd in the initramfs"
                }
                if let virtual = vm.diskVirtual { line += "; disk virtual size \(NumberText.bytes(virtual))" }
                line += ";"
            }
            if line.hasSuffix(";") { line.removeLast() }
            return line
        case .layers(let record):
            let fraction =
                record.imageCompressedBytes > 0
                ? Double(record.bytesToPullGivenBase) / Double(record.imageCompressedBytes) : .nan
            var line =
                "\(record.image) on \(record.base): pull \(NumberText.bytes(record.bytesToPullGivenBase)) of \(NumberText.bytes(record.imageCompressedBytes)) (\(n(fraction * 100))%), shared \(NumberText.bytes(record.sharedCompressedBytes))"
            if let w = record.wire {
                let share = w.pushAloneBytes > 0 ? Double(w.pushGivenBaseBytes) / Double(w.pushAloneBytes) : .nan
                line +=
                    "; over the wire (\(w.registry)): push alone \(NumberText.bytes(w.pushAloneBytes)), "
                    + "push with the base there \(NumberText.bytes(w.pushGivenBaseBytes)) (\(n(share * 100))%), "
                    + "pull with the base present \(NumberText.bytes(w.pullGivenBaseBytes))"
                if let b = w.pushAfterLastStepChangeBytes, let layers = w.layersSentAfterLastStepChange {
                    line +=
                        ", push after a last-step change \(NumberText.bytes(b)) (\(layers) layer\(layers == 1 ? "" : "s"))"
                }
            }
            if let layers = record.newLayersOnLastStepRebuild {
                line += "; last-step rebuild created \(layers) new layer\(layers == 1 ? "" : "s")"
            } else {
                line += "; last-step rebuild not measured"
            }
            return line
        case .probes(let arm, let accel, let blocked, let total, let through):
            return "\(arm)\(accel.map { " (\($0))" } ?? ""): \(blocked)/\(total) probes blocked"
                + (through.isEmpty ? "" : "; not blocked: \(through.joined(separator: ", "))")
        case .outputsDiffer(let workload, let digestsByArm):
            return "\(workload): outputs differ — "
                + digestsByArm.map { "\($0.arm) \($0.digests.map { String($0.prefix(12)) }.joined(separator: "/"))" }
                .joined(separator: ", ")
        case .outputsIdentical(let workload, let arms): return "\(workload): identical output in \(arms) arms"
        case .didNotRun(let list): return "did not run: " + missing(list)
        case .withoutDigests(let workloads):
            return "no output digests in ≥ 2 arms for: " + workloads.joined(separator: ", ")
        }
    }

    static func caveat(_ kind: SetupCaveat.Kind) -> String {
        let n = { (value: Double) in NumberText.number(value) }
        switch kind {
        case .tcg:
            return
                "VM under TCG software emulation, far slower than KVM: VM timings and CPU overhead are not KVM figures"
        case .mixedAccel(let accels): return "VM samples mix accelerators (\(accels.joined(separator: ", ")))"
        case .hybridCgroups:
            return
                "host uses hybrid cgroups (v1 controllers, v2 hugetlb only): memory and CPU accounting come from cgroup v1; crun needs a workaround"
        case .warmCache:
            return "warm page cache: image and guest files were cached, so cold-start times would be higher"
        case .singleVCPU: return "VM has a single vCPU: multi-threaded work cannot scale inside the guest"
        case .vcpusUnrecorded:
            return "VM vCPU count not recorded in the results (the arm's `vcpus`): cannot tell single from multi-vCPU"
        case .fewHostCPUs(let cpus):
            return "host has \(NumberText.count(cpus, "CPU")): QEMU's own threads compete with the guest"
        case .incomplete: return "the run did not finish (interrupted or still running)"
        case .calibrationOff(let harness, let hyperfine, let ratio):
            return
                "harness calibration off: native hello median \(n(harness)) ms vs hyperfine \(n(hyperfine)) ms (×\(n(ratio)))"
        case .failedSamples(let failed, let total):
            return "\(failed) of \(total) samples failed and are excluded from statistics (see Failures)"
        }
    }
}

extension ClaimAssessment {
    public var claim: String { ClaimText.statements[id] ?? id }
    /// What was measured to test it.
    public var metric: String { ClaimText.metric(id: id, basis: basis, measured: !notMeasured) }
    /// The headline figure with its interval, or "not measured".
    public var measured: String { ClaimText.headline(headline) }
    /// Why the rule gave this verdict, or what data is missing.
    public var reason: String { ClaimText.finding(finding) }
    /// The decision rule, stated in the output.
    public var rule: String { ClaimText.rules[id] ?? "" }
    public var caveats: [String] { setupCaveats.map(\.text) }
    public var evidence: [String] { facts.map(ClaimText.evidence) }
    /// Published reference points, context only: not measured here.
    public var references: [String] { ReferencePoints.byClaim[id] ?? [] }

    public var verdictText: String {
        notMeasured ? "inconclusive — not measured (\(reason))" : verdict.rawValue
    }
}

extension ClaimPair {
    public var measured: String {
        ratio.map { NumberText.ratio($0, interval: interval) } ?? "not measured"
    }
}

extension SetupCaveat {
    public var text: String { ClaimText.caveat(kind) }
}
