/// What the guest init runs: the image's entrypoint + cmd, its environment and working directory.
public struct GuestWorkload: Sendable, Equatable, Hashable, Codable {
    public var argv: [String]
    public var env: [String]
    public var cwd: String
    /// The image's USER (nil: root), which boxbench-init switches to before exec, as the container arms do.
    public var uid: UInt32?
    public var gid: UInt32?
    /// The guest's NIC address on a bench network, "a.b.c.d/prefix" (boxbench-init brings eth0 up with it).
    public var network: String? = nil
    /// A data volume to mount before the workload starts, "<device> <dir>" (e.g. "/dev/vdb /data").
    public var volume: String? = nil

    public init(
        argv: [String], env: [String] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        cwd: String = "/", uid: UInt32? = nil, gid: UInt32? = nil
    ) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.uid = uid
        self.gid = gid
    }

    /// `/etc/boxbench/workload` as boxbench-init reads it: one `key=value` per line, `arg=` and `env=` repeated.
    /// A value cannot hold a newline or NUL (the format is line-based), so those are refused, not mangled.
    public func specText() throws(MachineError) -> String {
        guard let first = argv.first, !first.isEmpty else { throw .invalidInput("workload argv is empty") }
        var lines: [String] = []
        for (i, a) in argv.enumerated() {
            try Self.check(a, "argv[\(i)]")
            lines.append("arg=" + a)
        }
        for (i, e) in env.enumerated() {
            try Self.check(e, "env[\(i)]")
            guard e.contains("=") else { throw .invalidInput("env[\(i)] \"\(e)\" is not KEY=VALUE") }
            lines.append("env=" + e)
        }
        try Self.check(cwd, "cwd")
        lines.append("cwd=" + (cwd.isEmpty ? "/" : cwd))
        if let uid { lines.append("uid=\(uid)") }
        if let gid { lines.append("gid=\(gid)") }
        if let network {
            try Self.check(network, "network")
            lines.append("net=" + network)
        }
        if let volume {
            try Self.check(volume, "volume")
            lines.append("volume=" + volume)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func check(_ value: String, _ field: String) throws(MachineError) {
        if value.utf8.contains(where: { $0 == 0x0A || $0 == 0x00 || $0 == 0x0D }) {
            throw .invalidInput(
                "\(field) contains a newline, carriage return or NUL, which the guest workload file cannot carry")
        }
    }
}
