import Containers
import Foundation
import Networks
import Probes
import Synchronization

/// The client side of a service workload, beside the server's run: from the client namespace, the kit's
/// `bbwork ready` probes the server until it answers (launch → first good answer), Debian's load client (wrk,
/// redis-benchmark) puts the fixed load on it, and `bbwork stop` ends the server so the arm's run completes.
final class ServiceRun: Sendable {
    private let state = Mutex<Figures?>(nil)
    private let done = DispatchSemaphore(value: 0)
    /// Set once the server's run has returned: a probe still waiting for it gives up at its next slice.
    private let serverEnded = Mutex(false)

    struct Figures: Sendable {
        var values: [String: Double] = [:]
        var failure: String?
        /// The probe's `reply …` line: the service's answer as compared across arms (C7).
        var reply: String = ""
    }

    /// `launchedNs`: the host monotonic clock at the server's launch call (the probe prints the same clock).
    static func start(
        _ spec: ServiceSpec, server: RunNetwork, net: BenchNetwork, timeout: Duration, launchedNs: UInt64
    ) -> ServiceRun {
        let run = ServiceRun()
        let bbwork = BoxbenchPaths().workloadBinary
        let timeoutMs = max(1000, Int(timeout.components.seconds) * 1000)
        let deadline = launchedNs + UInt64(timeoutMs) * 1_000_000
        startClientThread(name: "boxbench-service-client") {
            func inClient(_ path: String, _ argv: [String]) throws(ContainerError) -> HostProcessResult {
                try HostProcess.run(
                    HostProcessRequest(
                        path: path, args: argv, env: ["PATH=/usr/bin:/bin"], cgroupName: clientCgroupName(),
                        timeout: timeout, networkNamespace: net.client.path))
            }
            var figures = Figures()
            do throws(ContainerError) {
                // Probed in 2 s slices until the suite's timeout: between slices, a server whose run already ended
                // (it failed to start) ends the wait.
                var ready: HostProcessResult
                repeat {
                    ready = try inClient(
                        bbwork,
                        ["bbwork", "ready", spec.ready.rawValue, server.address, "\(spec.port)", spec.path, "2000"])
                } while ready.exit != .exited(0) && !run.serverEnded.withLock({ $0 }) && monotonicNanos() < deadline
                let readyText = String(decoding: ready.stdout, as: UTF8.self)
                let readyValues = WorkloadOutput(readyText).values
                figures.reply = readyText.split(separator: "\n").filter { $0.hasPrefix("bbwork: reply ") }.joined()
                if ready.exit == .exited(0), let at = readyValues["ready_mono_ns"], at >= Double(launchedNs) {
                    figures.values["service_ready_ms"] = (at - Double(launchedNs)) / 1e6
                    let argv = spec.load.map { $0.replacingOccurrences(of: "{address}", with: server.address) }
                    let load = try inClient(ServiceSpec.loadPrograms[argv[0]]!, argv)
                    let text = String(decoding: load.stdout, as: UTF8.self)
                    var parsed = argv[0] == "wrk" ? parseWrk(text) : parseRedisBenchmark(text)
                    // redis-benchmark sends exactly -n requests (10000 unless given) or fails.
                    if argv[0] == "redis-benchmark", !parsed.isEmpty {
                        let n = argv.firstIndex(of: "-n").flatMap {
                            argv.indices.contains($0 + 1) ? Double(argv[$0 + 1]) : nil
                        }
                        parsed["service_requests"] = n ?? 10_000
                    }
                    if load.exit != .exited(0) || parsed.isEmpty {
                        let tail = String(decoding: (load.stderr + load.stdout).suffix(300), as: UTF8.self)
                        figures.failure = "load client \(argv[0]) exit \(load.exit): \(tail)"
                    }
                    figures.values.merge(parsed) { $1 }
                } else {
                    let tail = String(decoding: (ready.stderr + ready.stdout).suffix(300), as: UTF8.self)
                    figures.failure =
                        run.serverEnded.withLock({ $0 }) && monotonicNanos() < deadline
                        ? "the server's run ended before it answered \(spec.ready.rawValue) on port \(spec.port)"
                        : "the service never became ready (timeout): "
                            + tail.trimmingCharacters(in: .whitespacesAndNewlines)
                }
            } catch {
                figures.failure = "service client: \(error)"
            }
            // Always told to stop: a server that came up late (or never answered right) still ends before the timeout.
            _ = try? inClient(bbwork, ["bbwork", "stop", server.address, "\(spec.controlPort)", "\(timeoutMs)"])
            run.state.withLock { $0 = figures }
            run.done.signal()
        }
        return run
    }

    /// The server's outcome with the client's figures; a server that never got ready or a failed load fails it. The
    /// outcome's output becomes the probe's `reply` line, so C7 compares answers, not server logs.
    /// CPU time per request: the instance's CPU time (start-up included) over the requests the load completed.
    func merge(into outcome: RunOutcome) -> RunOutcome {
        serverEnded.withLock { $0 = true }
        done.wait()
        let figures = state.withLock { $0! }
        var o = outcome
        // The service's behaviour is its answer, not the server's log (pids, timestamps): what C7 compares.
        o.stdout = figures.reply + "\n"
        o.measurements.workload.merge(figures.values) { server, _ in server }
        if let cpu = o.measurements.cpuNs, let requests = figures.values["service_requests"], requests > 0 {
            o.measurements.workload["service_cpu_per_request_ns"] = cpu / requests
        }
        if let failure = figures.failure {
            if o.status == .ok { o.status = .failed }
            o.failure = [failure, o.failure].compactMap { $0 }.joined(separator: "; ")
        }
        return o
    }
}

/// wrk's report with `--latency`: p50/p99 latency (ms), requests per second and requests completed.
func parseWrk(_ text: String) -> [String: Double] {
    var m: [String: Double] = [:]
    func milliseconds(_ s: Substring) -> Double? {
        for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where s.hasSuffix(unit) {
            return Double(s.dropLast(unit.count)).map { $0 * factor }
        }
        return nil
    }
    for line in text.split(separator: "\n") {
        let words = line.split(separator: " ")
        guard let first = words.first else { continue }
        if first == "50%", words.count == 2 { m["service_p50_ms"] = milliseconds(words[1]) }
        if first == "99%", words.count == 2 { m["service_p99_ms"] = milliseconds(words[1]) }
        if first == "Requests/sec:", words.count == 2 { m["service_requests_per_s"] = Double(words[1]) }
        if words.count >= 3, words[1] == "requests", words[2] == "in" { m["service_requests"] = Double(first) }
        if first == "Non-2xx" || first == "Socket" { m["service_errors"] = Double(words.last ?? "") ?? 1 }
    }
    return m.compactMapValues { $0 }
}

/// redis-benchmark's `--csv` report: the first test's p50/p99 latency (ms) and requests per second.
func parseRedisBenchmark(_ text: String) -> [String: Double] {
    let lines = text.split(separator: "\n").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: ["\""]) } }
    guard let header = lines.first, let row = lines.dropFirst().first(where: { $0.count == header.count }) else {
        return [:]
    }
    func value(_ column: String) -> Double? { header.firstIndex(of: column).flatMap { Double(row[$0]) } }
    var m: [String: Double] = [:]
    m["service_p50_ms"] = value("p50_latency_ms")
    m["service_p99_ms"] = value("p99_latency_ms")
    m["service_requests_per_s"] = value("rps")
    return m.compactMapValues { $0 }
}
