import Foundation
import Probes
import Synchronization

/// The network of one suite run, contained: a bench namespace holding a Linux bridge (made by the CNI bridge
/// plugin run inside it), a client namespace attached to the bridge, and one namespace per container arm attached
/// the same way. Every benchmark packet travels between addresses inside these namespaces; the host's own
/// namespace gets no link, address, route or firewall rule. Removing the namespaces removes everything in them.
public final class BenchNetwork: Sendable {
    public let subnet: IPv4Subnet
    public let bench: NetworkNamespace
    public let client: NetworkNamespace
    /// The bridge's address in the bench namespace: where the native arm's server listens.
    public var gateway: String { subnet.gateway }
    public let clientAddress: String
    public let cni: CNI
    let networkName: String
    /// The bridge's name inside the bench namespace (the same in every bench network: each has its own namespace).
    public static let bridgeName = "bbbr0"
    let paths: BoxbenchPaths
    private let attachments = Mutex<[String: (NetworkNamespace, String)]>([:])

    /// The default range, documented in Benchmarks/README.md; private to the run's namespaces, so it cannot clash
    /// with the host's networks.
    public static let defaultSubnet = "10.231.0.0/24"
    private static let sequence = Atomic<Int>(0)

    public static func create(subnet text: String = defaultSubnet, paths: BoxbenchPaths = BoxbenchPaths())
        throws(NetworkError) -> BenchNetwork
    {
        let subnet = try IPv4Subnet(text)
        let missing = CNI.missingPlugins()
        guard missing.isEmpty else {
            throw .badConfig(
                "CNI plugins missing in \(CNI.pluginDirectory): \(missing.joined(separator: ", ")) "
                    + "(scripts/setup installs containernetworking-plugins)")
        }
        // Several bench networks may live in one process (tests): each takes a number of its own.
        let id = String(sequence.add(1, ordering: .relaxed).newValue)
        let bench = try NetworkNamespace.create(name: OwnedName.netns.name(id, "bench"), paths: paths)
        var made = [bench]
        do throws(NetworkError) {
            let cni = CNI(pluginNamespace: bench, dataDirectory: paths.run + "/" + OwnedName.cniData.name(id))
            let name = OwnedName.netns.name(id)
            try cni.add(cni.loopbackConfig(name: name), containerID: "bench", netns: bench, interface: "lo")
            let client = try NetworkNamespace.create(name: OwnedName.netns.name(id, "client"), paths: paths)
            made.append(client)
            try cni.add(cni.loopbackConfig(name: name), containerID: "client", netns: client, interface: "lo")
            let bridge = bridgeConfig(cni, name: name, subnet: subnet)
            guard let address = try cni.add(bridge, containerID: "client", netns: client)?.address else {
                throw .plugin(plugin: "bridge", command: "ADD", message: "no IPv4 address in the result")
            }
            return BenchNetwork(
                subnet: subnet, bench: bench, client: client, clientAddress: address, cni: cni, networkName: name,
                paths: paths)
        } catch {
            for ns in made { ns.remove() }
            try? FileManager.default.removeItem(atPath: paths.run + "/" + OwnedName.cniData.name(id))
            throw error
        }
    }

    init(
        subnet: IPv4Subnet, bench: NetworkNamespace, client: NetworkNamespace, clientAddress: String, cni: CNI,
        networkName: String, paths: BoxbenchPaths
    ) {
        self.paths = paths
        self.subnet = subnet
        self.bench = bench
        self.client = client
        self.clientAddress = clientAddress
        self.cni = cni
        self.networkName = networkName
    }

    var bridgeConfig: [String: Any] { Self.bridgeConfig(cni, name: networkName, subnet: subnet) }

    static func bridgeConfig(_ cni: CNI, name: String, subnet: IPv4Subnet) -> [String: Any] {
        cni.bridgeConfig(
            name: name, bridge: bridgeName, subnet: subnet.text, gateway: subnet.gateway, rangeEnd: subnet.lastLeasable)
    }

    /// A namespace of its own for `name` (a container arm), attached to the bridge; the same one on every call.
    public func attach(_ name: String) throws(NetworkError) -> (namespace: NetworkNamespace, address: String) {
        if let existing = attachments.withLock({ $0[name] }) { return existing }
        let ns = try NetworkNamespace.create(name: "\(networkName)-\(name)", paths: paths)
        do throws(NetworkError) {
            try cni.add(cni.loopbackConfig(name: networkName), containerID: name, netns: ns, interface: "lo")
            guard let address = try cni.add(bridgeConfig, containerID: name, netns: ns)?.address else {
                throw .plugin(plugin: "bridge", command: "ADD", message: "no IPv4 address in the result")
            }
            attachments.withLock { $0[name] = (ns, address) }
            return (ns, address)
        } catch {
            try? cni.delete(bridgeConfig, containerID: name, netns: ns)
            ns.remove()
            throw error
        }
    }

    /// CNI DEL for every attachment (the IPAM leases), then the namespaces and the plugins' state go.
    public func teardown() {
        let all = attachments.withLock { a in
            defer { a = [:] }
            return a
        }
        for (name, (ns, _)) in all.sorted(by: { $0.key < $1.key }) {
            try? cni.delete(bridgeConfig, containerID: name, netns: ns)
            ns.remove()
        }
        try? cni.delete(bridgeConfig, containerID: "client", netns: client)
        client.remove()
        bench.remove()
        try? FileManager.default.removeItem(atPath: cni.dataDirectory)
    }
}

/// An IPv4 network in CIDR form; the gateway is its first host address.
public struct IPv4Subnet: Sendable, Equatable {
    public let text: String
    public let base: UInt32
    public let prefix: Int

    public init(_ text: String) throws(NetworkError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let prefix = Int(parts[1]), (8...26).contains(prefix) else {
            throw .badConfig("\(text): not an IPv4 CIDR with a prefix of 8 to 26 bits (e.g. 10.231.0.0/24)")
        }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 <= 255 }) else {
            throw .badConfig("\(text): \(parts[0]) is not an IPv4 address")
        }
        let address = octets.reduce(UInt32(0)) { $0 << 8 | $1 }
        let mask = UInt32.max << UInt32(32 - prefix)
        guard address & ~mask == 0 else {
            throw .badConfig("\(text): host bits are set (the network is \(Self.dotted(address & mask))/\(prefix))")
        }
        self.text = text
        self.base = address
        self.prefix = prefix
    }

    public var gateway: String { Self.dotted(base + 1) }

    /// Addresses the CNI IPAM never hands out (the top 16 below broadcast): for VM NICs, set statically.
    public static let reservedCount: UInt32 = 16
    var size: UInt32 { UInt32(1) << UInt32(32 - prefix) }
    var lastLeasable: String { Self.dotted(base + size - 2 - Self.reservedCount) }

    public func reservedAddress(_ index: Int) -> String? {
        guard index >= 0, UInt32(index) < Self.reservedCount else { return nil }
        return Self.dotted(base + size - 2 - UInt32(index))
    }

    static func dotted(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }
}
