import Containers
import Foundation
import Probes
import Synchronization
import Testing

@testable import Networks

/// The host's network as `ip` sees it from the host namespace: links, addresses, routes, rules of both families.
func hostNetworkSnapshot() throws -> String {
    var out = ""
    for args in [["-o", "link"], ["-o", "addr"], ["route"], ["-6", "route"], ["rule"], ["netns", "list"]] {
        let r = try HostProcess.run(
            HostProcessRequest(path: "/usr/sbin/ip", args: ["ip"] + args, env: [], timeout: .seconds(10)))
        // Counters and timers change by themselves; the rest may not.
        out += String(decoding: r.stdout, as: UTF8.self).replacingOccurrences(
            of: #"valid_lft \S+ preferred_lft \S+"#, with: "", options: .regularExpression)
    }
    return out
}

@Suite(.serialized, .enabled(if: getuid() == 0, "network namespaces need root"))
struct BenchNetworkTests {
    let kit = BoxbenchPaths().workloadBinary

    final class Cell: Sendable {
        let value = Mutex<HostProcessResult?>(nil)
    }

    func serve(in ns: NetworkNamespace, port: Int) -> Cell {
        let result = Cell()
        let kit = self.kit
        let t = Thread {
            let r = try? HostProcess.run(
                HostProcessRequest(
                    path: kit, args: ["bbwork", "netserver", "\(port)"], env: [], timeout: .seconds(20),
                    networkNamespace: ns.path))
            result.value.withLock { $0 = r }
        }
        t.start()
        return result
    }

    func client(_ net: BenchNetwork, to address: String, port: Int) throws -> HostProcessResult {
        try HostProcess.run(
            HostProcessRequest(
                path: kit, args: ["bbwork", "netrr", address, "\(port)", "500", "64", "5000"], env: [],
                timeout: .seconds(20), networkNamespace: net.client.path))
    }

    /// Client namespace → bridge → the bench namespace's own stack (native) and → a container arm's namespace;
    /// the host's links, addresses, routes and namespaces are the same before, during and after.
    @Test func requestResponseCrossesTheBridgeAndTheHostIsUntouched() throws {
        let before = try hostNetworkSnapshot()
        let net = try BenchNetwork.create()
        var tornDown = false
        defer { if !tornDown { net.teardown() } }
        #expect(net.gateway == "10.231.0.1")
        #expect(net.clientAddress.hasPrefix("10.231.0."))
        let arm = try net.attach("armx")
        #expect(arm.address.hasPrefix("10.231.0.") && arm.address != net.clientAddress)
        #expect(try net.attach("armx").address == arm.address, "one attachment per name")
        for (ns, address) in [(net.bench, net.gateway), (arm.namespace, arm.address)] {
            let served = serve(in: ns, port: 7100)
            let r = try client(net, to: address, port: 7100)
            let text = String(decoding: r.stdout, as: UTF8.self)
            #expect(r.exit == .exited(0), "\(address): \(String(decoding: r.stderr, as: UTF8.self))")
            #expect(text.contains("rr_p50_ns="), "\(text)")
            for _ in 0..<200 where served.value.withLock({ $0 == nil }) { usleep(10_000) }
            let serverOutput = served.value.withLock { $0.map { String(decoding: $0.stdout, as: UTF8.self) } }
            #expect(serverOutput?.contains("served=500") == true, "\(serverOutput ?? "no server result")")
        }
        #expect(try hostNetworkSnapshot() == before, "the host namespace changed while the bench network existed")
        net.teardown()
        tornDown = true
        #expect(try hostNetworkSnapshot() == before)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory())) ?? []
        let mine = String(net.bench.name.dropLast("-bench".count))
        #expect(!left.contains { $0.hasPrefix(mine + "-") }, "\(left)")
    }

    @Test func badSubnetsAreNamed() throws {
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.1/24", "300.1.1.0/24", "fd00::/64"] {
            #expect(throws: NetworkError.self) { try IPv4Subnet(bad) }
        }
        #expect(try IPv4Subnet("192.168.77.0/24").gateway == "192.168.77.1")
    }
}
