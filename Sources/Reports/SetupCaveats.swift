import Results

/// A condition of the run that bends one or more claims, found in the results (never assumed).
public struct SetupCaveat: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case tcg
        case mixedAccel([String])
        case hybridCgroups
        case warmCache
        case singleVCPU
        case vcpusUnrecorded
        case fewHostCPUs(Int)
        case incomplete
        case calibrationOff(harnessMs: Double, hyperfineMs: Double, ratio: Double)
        case failedSamples(Int, of: Int)
    }

    public let kind: Kind
    /// Claim ids it applies to; empty means the whole report.
    public let claims: [String]
}

extension ReportAnalysis {
    /// Caveats of this run, from the arms' records, the samples' accelerators, the host and the plan.
    func computeSetupCaveats() -> [SetupCaveat] {
        let doc = document
        var caveats: [SetupCaveat] = []
        // One pass over the VM samples for the accels they ran with; the rest is once per document.
        var accels = Set(doc.density.compactMap(\.accel))
        let vmArms = Set(doc.arms.filter { $0.kind == .vm }.map(\.key))
        let vcpus = Set(doc.arms.filter { $0.kind == .vm }.compactMap(\.vcpus))
        var hasVMSamples = false
        var lastAccel: String? = nil
        doc.forEachSample { sample in
            guard vmArms.contains(sample.pointee.arm) else { return }
            hasVMSamples = true
            if let accel = sample.pointee.measurements.vm.accel, accel != lastAccel {
                accels.insert(accel)
                lastAccel = accel
            }
        }
        if accels.contains("tcg") { caveats.append(SetupCaveat(kind: .tcg, claims: ["C1", "C2", "C3", "C8", "C9"])) }
        if accels.count > 1 {
            caveats.append(SetupCaveat(kind: .mixedAccel(accels.sorted()), claims: ["C1", "C2", "C3", "C8", "C9"]))
        }
        if doc.host.cgroupMode == "hybrid" {
            caveats.append(SetupCaveat(kind: .hybridCgroups, claims: ["C1", "C2", "C3", "C6"]))
        }
        if doc.plan.cacheMode == "warm" { caveats.append(SetupCaveat(kind: .warmCache, claims: ["C1", "C3"])) }
        if vcpus == [1] {
            caveats.append(SetupCaveat(kind: .singleVCPU, claims: ["C1", "C3"]))
        } else if hasVMSamples && vcpus.isEmpty {
            caveats.append(SetupCaveat(kind: .vcpusUnrecorded, claims: ["C3"]))
        }
        if doc.host.cpus <= 2 && hasVMSamples {
            caveats.append(SetupCaveat(kind: .fewHostCPUs(doc.host.cpus), claims: ["C1", "C3", "C8", "C9"]))
        }
        if !doc.complete { caveats.append(SetupCaveat(kind: .incomplete, claims: [])) }
        if let calibration = doc.calibration, !calibration.withinTolerance {
            caveats.append(
                SetupCaveat(
                    kind: .calibrationOff(
                        harnessMs: calibration.harnessMedianMs, hyperfineMs: calibration.hyperfineMedianMs,
                        ratio: calibration.ratio), claims: []))
        }
        let failed = failedSampleCount
        if failed > 0 { caveats.append(SetupCaveat(kind: .failedSamples(failed, of: doc.samples.count), claims: [])) }
        return caveats
    }
}
