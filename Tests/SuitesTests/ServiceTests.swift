import Containers
import Foundation
import Machines
import Networks
import Probes
import Reports
import Results
import Testing

@testable import Suites

/// The load clients' reports, read as they print them.
@Suite struct ServiceReportTests {
    @Test func wrkLatencyDistributionIsRead() {
        let text = """
            Running 3s test @ http://10.231.0.2:80/
              1 threads and 8 connections
              Thread Stats   Avg      Stdev     Max   +/- Stdev
                Latency   512.31us  101.20us   3.01ms   90.00%
                Req/Sec    15.10k     1.20k   17.00k    70.00%
              Latency Distribution
                 50%  498.00us
                 75%  560.00us
                 90%  640.00us
                 99%    1.20ms
              45300 requests in 3.00s, 36.9MB read
            Requests/sec:  15098.77
            Transfer/sec:     12.30MB
            """
        let m = parseWrk(text)
        #expect(m["service_p50_ms"] == 0.498)
        #expect(m["service_p99_ms"] == 1.2)
        #expect(m["service_requests_per_s"] == 15098.77)
        #expect(m["service_requests"] == 45300)
        #expect(m["service_errors"] == nil)
        #expect(parseWrk("unable to connect to 10.231.0.2:80 Connection refused").isEmpty)
    }

    @Test func redisBenchmarkCSVIsRead() {
        let text = """
            "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
            "GET","39215.69","0.190","0.056","0.175","0.287","0.447","1.863"
            """
        let m = parseRedisBenchmark(text)
        #expect(m["service_p50_ms"] == 0.175)
        #expect(m["service_p99_ms"] == 0.447)
        #expect(m["service_requests_per_s"] == 39215.69)
        #expect(parseRedisBenchmark("Could not connect to Redis at 10.0.0.1:6379").isEmpty)
    }

    @Test(arguments: [
        ("service: {ready: http, load: [wrk]}", "workloads[0].service.port"),
        ("service: {port: 80, load: [wrk]}", "workloads[0].service.ready"),
        ("service: {port: 80, ready: http}", "workloads[0].service.load"),
        ("service: {port: 80, ready: smtp, load: [wrk]}", "workloads[0].service.ready"),
        ("service: {port: 80, ready: http, load: [curl, x]}", "workloads[0].service.load"),
        ("service: {port: 80, ready: http, path: nope, load: [wrk]}", "workloads[0].service.path"),
        ("service: {port: 7199, ready: tcp, load: [wrk]}", "workloads[0].service.control_port"),
        ("service: {port: 80, ready: tcp, load: [wrk], extra: 1}", "workloads[0].service.extra"),
        ("client: [netrr]\n    service: {port: 80, ready: tcp, load: [wrk]}", "workloads[0].service"),
    ])
    func badServicesAreNamed(service: String, key: String) {
        do {
            _ = try Suite.parse("arms: [{kind: native}]\nworkloads:\n  - name: s\n    \(service)\n", path: "s.yaml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.key == key, "\(error)")
        }
    }

    @Test func aServiceIsANetworkWorkload() throws {
        let s = try Suite.parse(
            """
            arms: [{kind: native}]
            workloads:
              - name: web
                service: {port: 8080, ready: http, path: /health, load: [wrk, "http://{address}:8080/"]}
            """, path: "/b/s.yaml")
        let service = try #require(s.workloads[0].service)
        #expect(
            service == ServiceSpec(port: 8080, ready: .http, path: "/health", load: ["wrk", "http://{address}:8080/"]))
        #expect(service.controlPort == 7199)
        #expect(s.workloads[0].usesNetwork)
    }
}

/// nginx and redis as services in the native, container and VM arms through the real runner: ready, loaded,
/// stopped; the C9 claim computed; nothing left running.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: network namespaces, containers, VMs"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().workloadBinary) && CNI.missingPlugins().isEmpty
            && access("/usr/bin/wrk", X_OK) == 0 && access("/usr/bin/redis-benchmark", X_OK) == 0
            && access("/usr/bin/mmdebstrap", X_OK) == 0,
        "needs the kit, the CNI plugins, wrk, redis-benchmark and mmdebstrap (scripts/setup)"),
    .enabled(
        if: FileManager.default.fileExists(atPath: BoxbenchPaths().kernelImage),
        "needs the guest kernel (scripts/setup)"))
struct ServiceTests {
    @Test func servicesAnswerUnderLoadInEveryArm() throws {
        let yaml = """
            name: services-small
            repetitions: 1
            warmups: 0
            timeout: 120
            arms:
              - kind: native
              - kind: container
              - kind: vm
                accel: tcg
                memory: 512
            workloads:
              - name: nginx
                dockerfile: workloads/nginx/Dockerfile.service
                service:
                  port: 80
                  ready: http
                  load: ["wrk", "-t1", "-c4", "-d1s", "--latency", "http://{address}:80/"]
              - name: redis
                service:
                  port: 6379
                  ready: redis
                  load: ["redis-benchmark", "-h", "{address}", "-p", "6379", "-c", "4", "-n", "2000", "-t", "get", "--csv"]
            """
        let before = try hostNetworkState()
        let doc = try runTestSuite(yaml, path: RealSuiteTests.repoRoot + "/Benchmarks/services-small.yaml", seed: 9)
        #expect(doc.samples.count == 6)
        for s in doc.samples {
            #expect(s.status == .ok, "\(s.arm) \(s.workload): \(s.failure ?? "")")
            let m = s.metrics
            #expect((m["work_service_ready_ms"] ?? 0) > 0, "\(s.arm) \(s.workload): \(m.keys.sorted())")
            #expect((m["work_service_p50_ms"] ?? 0) > 0 && (m["work_service_p99_ms"] ?? 0) >= m["work_service_p50_ms"]!)
            #expect((m["work_service_requests_per_s"] ?? 0) > 0)
            #expect((m["work_service_cpu_per_request_ns"] ?? 0) > 0)
            // Ready before it was loaded and stopped: the server's run outlasts its time to ready.
            #expect((m["startup_exit_ms"] ?? 0) > m["work_service_ready_ms"]!)
        }
        // The same answer from every arm (the probe's reply, not the servers' logs): C7 compares it.
        for w in ["nginx", "redis"] {
            let digests = Set(doc.samples.filter { $0.workload == w }.compactMap(\.outputDigest))
            #expect(digests.count == 1, "\(w): \(digests)")
        }
        let c9 = try #require(ReportAnalysis(doc).claims.first { $0.id == "C9" })
        #expect(!c9.notMeasured, "\(c9.reason)")
        #expect(c9.evidence.contains { $0.contains("vm ÷ container") }, "\(c9.evidence)")
        #expect(c9.evidence.contains { $0.contains("container ÷ native") }, "\(c9.evidence)")
        #expect(try hostNetworkState() == before, "the host's links, addresses, routes or namespaces changed")
        let servers = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return cmd.hasPrefix("nginx") || cmd.contains("redis-server") || cmd.contains("bbwork\u{0}serve")
        }
        #expect(servers.isEmpty, "servers still running: \(servers)")
    }

    /// A server that never answers is a failed run that says so, after the probe's wait, not a hang.
    @Test func aServerThatNeverGetsReadyFailsWithTheReason() throws {
        let yaml = """
            name: never-ready
            repetitions: 1
            warmups: 0
            timeout: 8
            arms:
              - kind: container
            workloads:
              - name: redis
                service:
                  port: 6380
                  ready: redis
                  load: ["redis-benchmark", "-h", "{address}", "-p", "6380", "-n", "10", "--csv"]
            """
        let started = monotonicNanos()
        let doc = try runTestSuite(yaml, path: RealSuiteTests.repoRoot + "/Benchmarks/never-ready.yaml", seed: 1)
        let s = try #require(doc.samples.first)
        #expect(s.status != .ok)
        #expect(s.failure?.contains("never became ready (timeout)") == true, "\(s.failure ?? "")")
        #expect(Double(monotonicNanos() - started) / 1e9 < 60)
    }
}
