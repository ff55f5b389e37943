import CShim
import Containers
import Foundation
import Logging
import Networks
import Probes
import Results
import Stats
import Synchronization

/// One scheduled run: repetition < 0 marks a warmup.
public struct PlannedRun: Sendable, Equatable {
    public var arm: String
    public var workload: String
    public var repetition: Int
    public var isWarmup: Bool { repetition < 0 }
}

/// Warmups first, then each repetition runs every arm × workload once, in a fresh shuffled order:
/// interleaving spreads slow drifts (thermal, page cache, noisy neighbours) over all arms alike.
/// `includes(arm, workload)`: the pairs that run (an arm's `workloads:` list leaves the others out).
public func planRuns(
    arms: [String], workloads: [String], repetitions: Int, warmups: Int, seed: UInt64,
    includes: (String, String) -> Bool = { _, _ in true }
) -> [PlannedRun] {
    var rng = SplitMix64(seed: seed)
    var plan: [PlannedRun] = []
    for round in 0..<(warmups + repetitions) {
        let repetition = round < warmups ? -(round + 1) : round - warmups
        var items = arms.flatMap { a in
            workloads.filter { includes(a, $0) }.map { w in PlannedRun(arm: a, workload: w, repetition: repetition) }
        }
        items.shuffle(using: &rng)
        plan += items
    }
    return plan
}

public protocol ProgressSink: Sendable {
    func update(_ line: String, final: Bool)
}

/// One line redrawn in place on a TTY, plain lines otherwise; silent with --quiet.
public struct TerminalProgress: ProgressSink {
    let quiet: Bool
    let tty: Bool
    public init(quiet: Bool) {
        self.quiet = quiet
        self.tty = isatty(STDERR_FILENO) == 1
    }
    public func update(_ line: String, final: Bool) {
        if quiet { return }
        let text = tty ? "\r\u{1B}[2K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Provides the prepared image for a workload (built by the Images module in the real CLI).
public typealias ImageProvider = @Sendable (WorkloadSpec) throws -> PreparedImage

public final class SuiteRunner {
    public let suite: Suite
    let engines: [String: any Engine]
    let images: ImageProvider
    public let resultsPath: String
    let seed: UInt64
    let progress: any ProgressSink
    let tool: ToolInfo
    let logger: Logger?
    public private(set) var document: ResultsDocument

    public init(
        suite: Suite, engines: [any Engine], images: @escaping ImageProvider, resultsPath: String, seed: UInt64? = nil,
        progress: any ProgressSink, tool: ToolInfo, logger: Logger? = nil
    ) {
        self.suite = suite
        self.engines = Dictionary(uniqueKeysWithValues: engines.map { ($0.arm.name, $0) })
        self.images = images
        self.resultsPath = resultsPath
        self.seed = seed ?? suite.seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        self.progress = progress
        self.tool = tool
        self.logger = logger
        let facts = HostFacts.read()
        let layout = CgroupLayout.detect()
        let plan = PlanSummary(
            arms: suite.arms.map(\.name), workloads: suite.workloads.map(\.name), repetitions: suite.repetitions,
            warmups: suite.warmups, timeoutSeconds: suite.timeoutSeconds, cacheMode: suite.cacheMode.rawValue)
        document = ResultsDocument(
            suite: suite.name, startedAt: isoNow(), seed: self.seed,
            host: HostInfo(
                hostname: facts.hostname, kernel: facts.kernel, cpuModel: facts.cpuModel, cpus: facts.cpus,
                memTotalBytes: facts.memTotalBytes, cgroupMode: layout.mode.rawValue, bootID: facts.bootID),
            tool: tool, plan: plan)
        document.arms = suite.arms.map { arm in
            var record = arm.record
            let engine = engines.first { $0.arm.name == arm.name }
            // The engine as it runs ("boxbench-runtime" for boxbench's runtime through its OCI CLI).
            if let engine { record.engine = engine.engineName }
            record.memoryFigure = engine?.memoryFigure
            record.seccomp = engine?.seccompProfile
            record.engineVersion = engine?.engineVersion()
            return record
        }
    }

    func flush() {
        do { try ResultsStore.write(document, to: resultsPath) } catch {
            logger?.error("could not write results", metadata: ["path": "\(resultsPath)", "error": "\(error)"])
        }
    }

    /// Runs the whole suite; the results file is rewritten atomically after every run.
    public func run(
        notes: [String] = [], layerSharing: (PreparedImage, WorkloadSpec) -> LayerSharing? = { _, _ in nil }
    ) -> ResultsDocument {
        document.notes += notes
        let planned = planRuns(
            arms: suite.arms.map(\.name), workloads: suite.workloads.map(\.name), repetitions: suite.repetitions,
            warmups: suite.warmups, seed: seed,
            includes: { [arms = suite.arms] a, w in arms.first { $0.name == a }?.runs(w) ?? true })
        document.plan.order = planned.filter { !$0.isWarmup }.map { "\($0.arm)/\($0.workload)#\($0.repetition)" }
        flush()

        // Images: built once per workload; a failure marks that workload's runs failed, the suite goes on.
        var prepared: [String: PreparedImage] = [:]
        var imageFailures: [String: String] = [:]
        for w in suite.workloads {
            progress.update("building image for \(w.name)…", final: false)
            do {
                let image = try images(w)
                prepared[w.name] = image
                document.images += image.sizes
                if let sharing = layerSharing(image, w) { document.layerSharing.append(sharing) }
            } catch {
                imageFailures[w.name] = "image build failed: \(error)"
            }
        }
        if suite.workloads.contains(where: { $0.volume != nil }) { document.notes.append(RunVolume.placement()) }
        // The bench network, for network workloads only: made before the engines need it, gone on every path.
        var armFailures: [String: String] = [:]
        let (benchNetwork, armNetworks) = setUpNetwork(failures: &armFailures)
        defer { benchNetwork?.teardown() }

        // Engines: prepared once per arm × workload.
        var preparedPairs: [(any Engine, PreparedImage, WorkloadSpec)] = []
        defer {
            for (engine, image, w) in preparedPairs { engine.cleanup(image, workload: w) }
        }
        for arm in suite.arms {
            guard let engine = engines[arm.name] else {
                for w in suite.workloads { armFailures["\(arm.name)/\(w.name)"] = "no engine for arm \(arm.name)" }
                continue
            }
            for w in suite.workloads where arm.runs(w.name) && armFailures["\(arm.name)/\(w.name)"] == nil {
                guard let image = prepared[w.name] else { continue }
                progress.update("preparing \(arm.name) for \(w.name)…", final: false)
                do {
                    let sizes = try engine.prepare(
                        image, workload: w, network: w.usesNetwork ? armNetworks[arm.name] : nil)
                    preparedPairs.append((engine, image, w))
                    for s in sizes where !document.images.contains(s) { document.images.append(s) }
                } catch {
                    armFailures["\(arm.name)/\(w.name)"] = "\(error)"
                }
            }
        }
        flush()

        let total = planned.count
        let startedNs = monotonicNanos()
        for (index, run) in planned.enumerated() {
            let key = "\(run.arm)/\(run.workload)"
            guard let workload = suite.workloads.first(where: { $0.name == run.workload }),
                suite.arms.contains(where: { $0.name == run.arm })
            else { continue }
            let runStart = isoNow()
            var result: RunOutcome
            if let reason = imageFailures[run.workload] ?? armFailures[key] {
                result = RunOutcome(status: .failed, failure: reason)
            } else if let engine = engines[run.arm], let image = prepared[run.workload] {
                if suite.cacheMode == .cold { dropPageCache() }
                let network = workload.usesNetwork ? armNetworks[run.arm] : nil
                let timeout = Duration.milliseconds(Int64(suite.timeoutSeconds * 1000))
                // A network workload: the client starts with the server and connects once it listens.
                let client = workload.client.flatMap { argv in
                    network.flatMap { n in
                        benchNetwork.map { ClientRun.start(argv, server: n, net: $0, timeout: timeout) }
                    }
                }
                // A service workload: probed until ready, loaded, then stopped, from the client namespace.
                let service = workload.service.flatMap { spec in
                    network.flatMap { n in
                        benchNetwork.map {
                            ServiceRun.start(spec, server: n, net: $0, timeout: timeout, launchedNs: monotonicNanos())
                        }
                    }
                }
                let limits = RunLimits(
                    memoryBytes: workload.memoryLimitBytes, pidsMax: workload.pidsLimit, network: network)
                // Client and server on different CPUs: the server is launched from this thread pinned to CPU 0 (the
                // affinity is inherited at clone), the client's thread pins itself to CPU 1.
                result = withThreadPinned(client == nil && service == nil ? nil : NetworkCPUs.server) {
                    engine.run(image, workload: workload, limits: limits, timeout: timeout, runIndex: index)
                }
                if let client { result = client.merge(into: result) }
                if let service { result = service.merge(into: result) }
            } else {
                result = RunOutcome(status: .failed, failure: "not prepared")
            }
            let elapsed = Double(monotonicNanos() - startedNs) / 1e9
            let eta = elapsed / Double(index + 1) * Double(total - index - 1)
            let last =
                result.measurements.exitMs.map { String(format: "%.1f ms", $0) }
                ?? result.status.rawValue
            let line =
                "run \(index + 1)/\(total) \(run.isWarmup ? "warmup " : "")\(run.arm) \(run.workload): \(last)  ETA \(Int(eta)) s"
            if run.isWarmup {
                progress.update(line, final: false)
                continue
            }
            // The workload's output, read once: its values join the measurements, the rest is its behaviour (C7).
            let output = WorkloadOutput(result.stdout)
            result.measurements.workload.merge(output.values) { engine, _ in engine }
            document.samples.append(
                Sample(
                    arm: run.arm, workload: run.workload, repetition: run.repetition, status: result.status,
                    failure: result.failure, exitCode: result.exitCode, startedAt: runStart, finishedAt: isoNow(),
                    measurements: result.measurements, outputDigest: result.status == .ok ? output.digest : nil))
            // Written before it is announced: a run the progress line reports is in the results file.
            flush()
            progress.update(line, final: false)
        }
        progress.update("ran \(total) runs in \(Int(Double(monotonicNanos() - startedNs) / 1e9)) s", final: true)

        if suite.isolationProbe { runIsolationProbes(prepared: prepared) }
        if let density = suite.density, let image = prepared[density.workload],
            let w = suite.workloads.first(where: { $0.name == density.workload })
        {
            var idle = image
            idle.argv = image.entrypoint
            runDensity(density, image: idle, workload: w)
        }
        document.finishedAt = isoNow()
        document.complete = true
        flush()
        return document
    }

    /// C6: the probe workload's attempts, per arm, from its `bbwork: probe name=… result=…` lines.
    func runIsolationProbes(prepared: [String: PreparedImage]) {
        // The probe need not be a measured workload: build it on the side from the suite's workloads dir.
        let baseDir = (suite.sourcePath as NSString).deletingLastPathComponent
        let w =
            suite.workloads.first(where: { $0.name == "probe" })
            ?? WorkloadSpec(
                name: "probe", dockerfile: "\(baseDir)/workloads/probe/Dockerfile",
                context: "\(baseDir)/workloads/probe",
                args: nil, memoryLimitBytes: nil, pidsLimit: nil)
        let image: PreparedImage
        if let p = prepared[w.name] {
            image = p
        } else {
            do { image = try images(w) } catch {
                document.notes.append("isolation probes skipped: probe image: \(error)")
                return
            }
        }
        for arm in suite.arms where arm.kind != .native {
            guard let engine = engines[arm.name] else { continue }
            if prepared[w.name] == nil {
                do { _ = try engine.prepare(image, workload: w) } catch {
                    document.notes.append("isolation probes in \(arm.name) skipped: \(error)")
                    continue
                }
            }
            defer { if prepared[w.name] == nil { engine.cleanup(image, workload: w) } }
            let r = engine.run(
                image, workload: w, limits: RunLimits(), timeout: .seconds(Int64(suite.timeoutSeconds)),
                runIndex: 900_000)
            let records = isolationRecords(arm: arm.name, probeOutput: r.stdout, hostPID1: hostPID1Cmdline())
            document.isolation += records.records
            document.notes += records.notes
            flush()
        }
    }

    func hostPID1Cmdline() -> String {
        let raw = (try? readTextFile("/proc/1/cmdline")) ?? ""
        return raw.split(separator: "\u{0}").joined(separator: ",")
    }

    func runDensity(_ density: DensitySpec, image: PreparedImage, workload: WorkloadSpec) {
        for armName in density.arms {
            guard let engine = engines[armName] as? any DensityCapable else {
                document.notes.append("density: arm \(armName) cannot hold idle instances (skipped)")
                continue
            }
            for n in density.levels {
                progress.update("density \(armName) N=\(n)…", final: false)
                do {
                    let point = try engine.density(
                        image, workload: workload, instances: n, timeout: .seconds(Int64(suite.timeoutSeconds)))
                    document.density.append(point)
                } catch {
                    document.notes.append("density \(armName) N=\(n): \(error)")
                }
                flush()
            }
        }
        progress.update("density done", final: true)
    }
}

/// Engines that can start N idle instances at once and report host memory per instance.
public protocol DensityCapable: Engine {
    func density(_ image: PreparedImage, workload: WorkloadSpec, instances: Int, timeout: Duration) throws
        -> DensityPoint
}

func dropPageCache() {
    sync()
    let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
    if fd >= 0 {
        _ = write(fd, "3", 1)
        close(fd)
    }
}

func isoNow() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
}

/// Turns the probe workload's lines into C6 records. Two probes need reading, not just their result:
/// - `result=failed` means the attempt was inconclusive on this kernel (e.g. no /proc/sysrq-trigger): noted, no record;
/// - `proc1_environ` always reads *a* PID 1: it is an escape only if that is the host's init, so it counts as blocked
///   when the PID 1 the probe saw (`probe-info pid1_cmdline`) is not the host's.
func isolationRecords(arm: String, probeOutput: String, hostPID1: String) -> (
    records: [IsolationRecord], notes: [String]
) {
    var records: [IsolationRecord] = []
    var notes: [String] = []
    var info: [String: String] = [:]
    for line in probeOutput.split(separator: "\n") where line.hasPrefix("bbwork: probe-info ") {
        let kv = line.dropFirst(19).split(separator: "=", maxSplits: 1)
        if kv.count == 2 { info[String(kv[0])] = String(kv[1]) }
    }
    for line in probeOutput.split(separator: "\n") where line.hasPrefix("bbwork: probe ") {
        var fields: [String: String] = [:]
        for token in line.dropFirst(14).split(separator: " ") {
            let kv = token.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let name = fields["name"], let result = fields["result"] else { continue }
        var detail = fields.filter { $0.key != "name" && $0.key != "result" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        if result == "failed" {
            notes.append("isolation probe \(name) in \(arm) was inconclusive (\(detail)); not counted")
            continue
        }
        var blocked = result == "blocked"
        if name == "proc1_environ", result == "succeeded", let seen = info["pid1_cmdline"], seen != hostPID1 {
            blocked = true
            detail = "read PID 1 of its own pid namespace (\(seen)), not the host's init (\(hostPID1))"
        }
        records.append(IsolationRecord(armKey: arm, probe: name, blocked: blocked, detail: detail))
    }
    return (records, notes)
}

extension SuiteRunner {
    /// The bench network and each arm's place in it, when some workload is a network workload; an arm that cannot
    /// take part gets its network workloads failed with the reason.
    func setUpNetwork(failures: inout [String: String]) -> (BenchNetwork?, [String: RunNetwork]) {
        let networkWorkloads = suite.workloads.filter(\.usesNetwork)
        guard !networkWorkloads.isEmpty else { return (nil, [:]) }
        func fail(_ arm: String, _ reason: String) {
            for w in networkWorkloads { failures["\(arm)/\(w.name)"] = reason }
        }
        progress.update("creating the bench network \(suite.networkSubnet)…", final: false)
        let net: BenchNetwork
        do {
            net = try BenchNetwork.create(subnet: suite.networkSubnet)
        } catch {
            for arm in suite.arms { fail(arm.name, "bench network: \(error)") }
            return (nil, [:])
        }
        var networks: [String: RunNetwork] = [:]
        var vmIndex = 0
        for arm in suite.arms {
            switch arm.config {
            case .native: networks[arm.name] = RunNetwork(namespace: net.bench.path, address: net.gateway)
            case .container(let c):
                switch c.network {
                case .bridge:
                    do {
                        let a = try net.attach(arm.name)
                        networks[arm.name] = RunNetwork(namespace: a.namespace.path, address: a.address)
                    } catch {
                        fail(arm.name, "attach to the bench network: \(error)")
                    }
                case .host: networks[arm.name] = RunNetwork(namespace: net.bench.path, address: net.gateway)
                case .none: fail(arm.name, "the arm has network: none")
                }
            case .vm:
                // Static addresses from the top of the range, which the CNI IPAM never hands out.
                guard let address = net.subnet.reservedAddress(vmIndex) else {
                    fail(arm.name, "the bench subnet \(suite.networkSubnet) has no address left for another VM")
                    continue
                }
                vmIndex += 1
                networks[arm.name] = RunNetwork(
                    namespace: net.bench.path, address: address, bridge: BenchNetwork.bridgeName,
                    prefix: net.subnet.prefix)
            }
        }
        if let s = NetworkCPUs.server, let c = NetworkCPUs.client {
            document.notes.append(
                "network workloads: server on CPU \(s) (the VM's vCPUs pinned there by libvirt), client on CPU \(c)")
        }
        document.notes.append(
            "bench network \(suite.networkSubnet) in namespaces of its own (the host's gets no link, address or route): "
                + "client \(net.clientAddress) in the client namespace; native serves in the bench namespace on the "
                + "bridge's address \(net.gateway); container arms with network: bridge in their own namespace on the "
                + "bridge (CNI bridge + host-local + loopback), network: host in the bench namespace")
        return (net, networks)
    }
}

/// The client of a network workload: the kit's bbwork in the client namespace, run beside the server.
final class ClientRun: Sendable {
    private let result = Mutex<Result<HostProcessResult, ContainerError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Debian's iperf3, the reference client of `netstream` (the server in the image is the same build).
    static let iperf3 = "/usr/bin/iperf3"

    static func start(_ argv: [String], server: RunNetwork, net: BenchNetwork, timeout: Duration) -> ClientRun {
        let run = ClientRun()
        let substituted = argv.map { $0.replacingOccurrences(of: "{address}", with: server.address) }
        let isIperf = argv.first == "iperf3"
        let request = HostProcessRequest(
            path: isIperf ? iperf3 : BoxbenchPaths().workloadBinary,
            args: isIperf ? substituted : ["bbwork"] + substituted, env: [], cgroupName: clientCgroupName(),
            timeout: timeout, networkNamespace: net.client.path)
        let deadline = monotonicNanos() + UInt64(timeout.components.seconds) * 1_000_000_000
        startClientThread(name: "boxbench-client") {
            var r: Result<HostProcessResult, ContainerError>
            repeat {
                do throws(ContainerError) { r = .success(try HostProcess.run(request)) } catch { r = .failure(error) }
                // iperf3 does not wait for its server: refused while the server starts, it is tried again (with -J
                // it reports the refusal in its JSON and exits 0).
                guard isIperf, case .success(let done) = r, monotonicNanos() < deadline,
                    let error = iperf3Error(String(decoding: done.stdout, as: UTF8.self)),
                    error.contains("Connection refused") || error.contains("No route to host")
                else { break }
                usleep(20_000)
            } while true
            run.result.withLock { $0 = r }
            run.done.signal()
        }
        return run
    }

    /// The server's outcome with the client's figures added; a failed client fails the sample.
    func merge(into outcome: RunOutcome) -> RunOutcome {
        done.wait()
        var o = outcome
        switch result.withLock({ $0 })! {
        case .failure(let e):
            if o.status == .ok { o.status = .failed }
            o.failure = [o.failure, "client: \(e)"].compactMap { $0 }.joined(separator: "; ")
        case .success(let r):
            let out = String(decoding: r.stdout, as: UTF8.self)
            o.measurements.workload.merge(WorkloadOutput(out).values) { server, _ in server }
            o.measurements.workload.merge(parseIperf3(out)) { server, _ in server }
            let tail = String(decoding: (r.stderr.isEmpty ? r.stdout : r.stderr).suffix(300), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let iperfError = iperf3Error(out)
            if r.exit != .exited(0) || iperfError != nil {
                if o.status == .ok { o.status = .failed }
                o.failure = [o.failure, "client exit \(r.exit): \(tail)"].compactMap { $0 }.joined(separator: "; ")
            } else if o.status != .ok {
                o.failure = [o.failure, "the client ended normally: \(tail)"].compactMap { $0 }.joined(separator: "; ")
            }
        }
        return o
    }
}

/// iperf3's `-J` report → `iperf3_*` workload values: the receiver's bytes per second (the figure iperf3 itself
/// reports as the result), the sender's, and TCP retransmits.
func parseIperf3(_ json: String) -> [String: Double] {
    guard json.contains("\"end\""), let data = json.data(using: .utf8),
        let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let end = root["end"] as? [String: Any]
    else { return [:] }
    var m: [String: Double] = [:]
    if let r = end["sum_received"] as? [String: Any], let bps = r["bits_per_second"] as? Double {
        m["iperf3_received_bytes_per_s"] = bps / 8
    }
    if let s = end["sum_sent"] as? [String: Any] {
        if let bps = s["bits_per_second"] as? Double { m["iperf3_sent_bytes_per_s"] = bps / 8 }
        if let retransmits = s["retransmits"] as? Double { m["iperf3_retransmits"] = retransmits }
    }
    return m
}

/// Where a network workload's server and client run on a host with two or more CPUs (nil: not pinned).
enum NetworkCPUs {
    static let available = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    static var server: Int? { available >= 2 ? 0 : nil }
    static var client: Int? { available >= 2 ? 1 : nil }
    /// The VM's vCPUs and emulator threads (libvirt sets QEMU's affinity itself, so it is said in the domain).
    static var vmCPUSet: String? { server.map(String.init) }
}

/// A client process's own group, named with this process's pid: a signal's teardown kills it, and after a kill -9
/// the next run's Janitor does (a client left running would outlive its run).
func clientCgroupName() -> String {
    "boxbench/" + OwnedName.bench.name("client", String(UInt32.random(in: 0...UInt32.max)))
}

/// Starts the client side of a network or service workload on its own thread, pinned to the client's CPU (what it
/// launches inherits that), while the runner's thread launches the server.
func startClientThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let t = Thread {
        if let cpu = NetworkCPUs.client {
            var saved = cshim_cpu_mask()
            _ = cshim_thread_pin(Int32(cpu), &saved)
        }
        body()
    }
    t.name = name
    t.start()
}

/// Runs `body` with the calling thread pinned to `cpu` (nil: as it is); what it launches meanwhile inherits it.
func withThreadPinned<T>(_ cpu: Int?, _ body: () -> T) -> T {
    guard let cpu else { return body() }
    var saved = cshim_cpu_mask()
    guard cshim_thread_pin(Int32(cpu), &saved) == 0 else { return body() }
    defer { _ = cshim_thread_unpin(&saved) }
    return body()
}

/// The `error` of an iperf3 `-J` report (iperf3 3.12 exits 0 when it could not connect), or nil.
func iperf3Error(_ json: String) -> String? {
    guard json.contains("\"error\""), let data = json.data(using: .utf8),
        let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return root["error"] as? String
}
