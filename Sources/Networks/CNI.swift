import Containers
import Foundation
import Probes

/// Calls CNI plugins (Debian's containernetworking-plugins) per the CNI spec: the configuration as JSON on stdin,
/// the command and the container in CNI_* variables, the result (or the spec's error object) as JSON on stdout.
/// Plugins run inside the bench namespace, so the bridge and the veths' outer ends are made there, never on the
/// host.
public struct CNI: Sendable {
    public static let pluginDirectory = "/usr/lib/cni"
    public static let version = "1.0.0"
    /// Where the plugins run (the bench namespace), and where their IPAM keeps its leases (boxbench's own).
    public let pluginNamespace: NetworkNamespace
    public let dataDirectory: String

    public static func missingPlugins() -> [String] {
        ["bridge", "host-local", "loopback"].filter { access("\(pluginDirectory)/\($0)", X_OK) != 0 }
    }

    /// The bridge network: `bridge` with host-local IPAM over `subnet`, its gateway on the bridge (the native arm's
    /// address), no masquerading (no traffic leaves the bench namespace).
    public func bridgeConfig(name: String, bridge: String, subnet: String, gateway: String, rangeEnd: String)
        -> [String: Any]
    {
        [
            "cniVersion": Self.version, "name": name, "type": "bridge", "bridge": bridge, "isGateway": true,
            "ipMasq": false, "hairpinMode": false,
            "ipam": [
                "type": "host-local", "ranges": [[["subnet": subnet, "gateway": gateway, "rangeEnd": rangeEnd]]],
                "dataDir": dataDirectory + "/ipam",
            ] as [String: Any],
        ]
    }

    public func loopbackConfig(name: String) -> [String: Any] {
        ["cniVersion": Self.version, "name": name, "type": "loopback"]
    }

    /// The first IPv4 address (without prefix) of an ADD result.
    public struct Attachment: Sendable, Equatable {
        public var address: String
        public var interface: String
    }

    @discardableResult
    public func add(_ config: [String: Any], containerID: String, netns: NetworkNamespace, interface: String = "eth0")
        throws(NetworkError) -> Attachment?
    {
        let out = try call("ADD", config, containerID: containerID, netns: netns, interface: interface)
        guard let json = try? JSONSerialization.jsonObject(with: Data(out)) as? [String: Any] else { return nil }
        let ips = json["ips"] as? [[String: Any]] ?? []
        guard let cidr = ips.compactMap({ $0["address"] as? String }).first(where: { !$0.contains(":") }) else {
            return nil
        }
        return Attachment(address: String(cidr.prefix { $0 != "/" }), interface: interface)
    }

    public func delete(
        _ config: [String: Any], containerID: String, netns: NetworkNamespace, interface: String = "eth0"
    )
        throws(NetworkError)
    {
        _ = try call("DEL", config, containerID: containerID, netns: netns, interface: interface)
    }

    func call(
        _ command: String, _ config: [String: Any], containerID: String, netns: NetworkNamespace, interface: String
    )
        throws(NetworkError) -> [UInt8]
    {
        let plugin = config["type"] as? String ?? "?"
        let configPath = "\(dataDirectory)/\(containerID)-\(plugin)-\(command).json"
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(
                to: URL(fileURLWithPath: configPath))
        } catch {
            throw .system(operation: "write CNI configuration", path: configPath, errno: EIO, detail: "\(error)")
        }
        defer { unlink(configPath) }
        let request = HostProcessRequest(
            path: "\(Self.pluginDirectory)/\(plugin)", args: [plugin],
            env: [
                "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(containerID)", "CNI_NETNS=\(netns.path)",
                "CNI_IFNAME=\(interface)", "CNI_PATH=\(Self.pluginDirectory)",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ],
            timeout: .seconds(30), networkNamespace: pluginNamespace.path, stdinPath: configPath)
        let result: HostProcessResult
        do {
            result = try HostProcess.run(request)
        } catch {
            throw .plugin(plugin: plugin, command: command, message: error.description)
        }
        guard result.exit == .exited(0) else {
            // The spec's error object on stdout: {"code": N, "msg": "...", "details": "..."}.
            let json = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any]
            let message =
                [json?["msg"] as? String, json?["details"] as? String].compactMap { $0 }.joined(separator: ": ")
            let stderr = String(decoding: result.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .plugin(
                plugin: plugin, command: command,
                message: message.isEmpty ? (stderr.isEmpty ? "exit \(result.exit)" : stderr) : message)
        }
        return result.stdout
    }
}
