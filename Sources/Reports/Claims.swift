import Results
import Stats

/// The claims of CLAIMS.md as data: what each rule found, with its numbers and evidence. The rules are in
/// ClaimRules.swift, the words every renderer prints in ClaimWording.swift, the setup caveats in
/// SetupCaveats.swift and the published context in ClaimReferences.swift.

public enum Verdict: String, Sendable, Codable {
    case holds = "holds"
    case doesNotHold = "does not hold"
    case inconclusive = "inconclusive"
}

/// Two arms, numerator over denominator, by key.
public struct ArmPair: Sendable, Equatable {
    public let numerator: String
    public let denominator: String
}

/// One claim put to the test by one results document.
public struct ClaimAssessment: Sendable {
    public let id: String
    public let verdict: Verdict
    /// What decided the verdict (or what was missing), with its numbers.
    public let finding: Finding
    /// The claim's figure; nil when not measured.
    public let headline: Headline?
    /// What the figure was measured on.
    public let basis: ClaimBasis
    /// The headline ratio (or share of bytes) and its interval, for exports.
    public let ratio: Double?
    public let interval: ConfidenceInterval?
    /// Conditions of this run that bend the claim.
    public let setupCaveats: [SetupCaveat]
    /// Supporting figures (other workloads and pairs, phases, per-image bytes, probes, …).
    public let facts: [Evidence]
    /// Every pair of arms of the kinds the claim compares (e.g. each VM arm over each container arm), the first
    /// being the one that decided the verdict; empty for claims that are not pairwise.
    public var pairs: [ClaimPair] = []

    public var notMeasured: Bool {
        if case .notMeasured = finding { return true }
        return false
    }
}

/// One pair of arms put to a claim's rule.
public struct ClaimPair: Sendable {
    public let numerator: String
    public let denominator: String
    public let ratio: Double?
    public let interval: ConfidenceInterval?
    public let verdict: Verdict
}

/// What a claim's figure was measured on: the workload and metrics, and the pair of arms that decided.
public struct ClaimBasis: Sendable, Equatable {
    public var workload: String?
    public var metric: Metric?
    /// C2 when the VM's figure is another metric than the container's (QEMU's PSS against the cgroup peak).
    public var denominatorMetric: Metric?
    public var pair: ArmPair?

    public init(workload: String? = nil, metric: Metric? = nil, denominatorMetric: Metric? = nil, pair: ArmPair? = nil)
    {
        self.workload = workload
        self.metric = metric
        self.denominatorMetric = denominatorMetric
        self.pair = pair
    }
}

/// A claim's figure.
public enum Headline: Sendable {
    /// C1, C2: the deciding pair's ratio of medians.
    case ratio(RatioEstimate)
    /// C3: the largest container and VM slowdowns against native.
    case slowdowns(container: RatioEstimate?, vm: RatioEstimate?)
    /// C4: VM artifacts ÷ container layers, exact bytes, per image.
    case byteRatios([Double])
    /// C5: the share of image bytes pulled when the base is present.
    /// Bytes to pull given the base ÷ image size (store arithmetic), and pushed given the base ÷ pushed alone over
    /// the wire when every image was transferred.
    case pulledShare(Double, wire: Double?)
    /// C6: probes blocked, container arms and VM arms.
    case probes(containerBlocked: Int, containerTotal: Int, vmBlocked: Int, vmTotal: Int)
    /// C7: workloads with identical output across arms.
    case identicalOutputs(Int, of: Int)
    /// C8: the largest container ÷ native and the smallest VM ÷ container latency ratios.
    case latency(container: RatioEstimate?, vm: RatioEstimate?)
}

/// Why a figure is not there.
public enum Missing: Sendable, Equatable {
    case noArmOfKind(String)
    case armNotInRun(arm: String)
    case noSamples(arm: String, workload: String)
    case noneSucceeded(arm: String, workload: String, failed: Int, firstFailure: String?)
    case metricNotRecorded(arm: String, workload: String, metric: String)
    case workloadNotRun(String)
    case noImageSizes
    case noImageWithBothSizes
    case noLayerSharing
    case noIsolationProbes
    case probesOnlyNative
    case noWorkloads
    case noDigestsFromTwoArms
    case noNetworkWorkload
    case noServiceWorkload
}

/// What decided a verdict, by claim kind, with the numbers the rule compared.
public enum Finding: Sendable, Equatable {
    case notMeasured([Missing])
    /// C1, C2: the deciding pair's interval against the thresholds.
    case ratio(ArmPair, RatioFinding)
    case overhead(OverheadFinding, missing: [Missing])
    case imageSizes(ImageFinding)
    case layers(LayerFinding)
    case isolation(IsolationFinding)
    case portability(PortabilityFinding)
    case network(NetworkFinding)
}

public enum RatioFinding: Sendable, Equatable {
    case lowerAbove(lower: Double, threshold: Double)
    case upperBelow(upper: Double, threshold: Double)
    case straddles(lower: Double, upper: Double)
    case noInterval(minimumSamples: Int)
}

public enum OverheadFinding: Sendable, Equatable {
    case containerAbove(tolerance: Double)
    case noVMOverhead(tolerance: Double)
    case holds(tolerance: Double)
    case unsettled
}

public enum ImageFinding: Sendable, Equatable {
    case allAtLeast(Double)
    case allBelow(Double)
    case mixed
}

public enum LayerFinding: Sendable, Equatable {
    /// Images that share no bytes with their base, and the layer counts of rebuilds that made ≠ 1.
    /// Over the wire: images whose push to a registry holding the base sent no fewer bytes than alone, and the layer
    /// blobs pushed after a last-step change where that was ≠ 1.
    case failures(sharesNothing: [String], rebuildLayers: [Int], wireSavesNothing: [String], wireRebuildLayers: [Int])
    case rebuildNotMeasured
    case fullPullDespiteSharing
    case holds
}

public enum IsolationFinding: Sendable, Equatable {
    /// Container probes that got through, as "arm probe".
    case leaks([ArmProbe])
    case controlBlockedEverything
    case onlyKind(String)
    case holds(containerProbes: Int, nativeControl: Bool)
}

public struct ArmProbe: Sendable, Equatable {
    public let arm: String
    public let probe: String
}

public enum PortabilityFinding: Sendable, Equatable {
    case differ([String])
    case partial
    case holds
}

public enum NetworkFinding: Sendable, Equatable {
    case containerAbove(tolerance: Double)
    case vmNotAbove(tolerance: Double)
    case holds(tolerance: Double)
    case unsettled
    /// No VM arm ran a network workload; whether every container was within tolerance of native.
    case vmHalfMissing(containerHalfHolds: Bool, tolerance: Double)
}

/// One supporting figure of a claim.
public enum Evidence: Sendable {
    /// A ratio of medians between two arms on one workload and metric.
    case ratio(workload: String, metric: Metric, RatioEstimate)
    /// C3: every arm's slowdown against native on one workload (`runTimeOnly`: no workload metric was recorded).
    case slowdowns(workload: String, metric: Metric, runTimeOnly: Bool, [(arm: String, slowdown: RatioEstimate)])
    /// Median phase times from launch of a VM arm.
    case phases(arm: String, accel: String?, workload: String, [Phase])
    /// C2: memory per instance with N idle instances of each kind.
    case density(instances: Int, vm: String, vmBytes: Double, container: String, containerBytes: Double)
    case guestMemory(arm: String, bytes: Double)
    case image(ReportAnalysis.ImageBytes)
    case layers(LayerSharing)
    case probes(arm: String, accel: String?, blocked: Int, total: Int, through: [String])
    case outputsDiffer(workload: String, digestsByArm: [(arm: String, digests: [String])])
    case outputsIdentical(workload: String, arms: Int)
    case didNotRun([Missing])
    case withoutDigests([String])
}
