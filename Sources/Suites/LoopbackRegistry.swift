import Containers
import Foundation
import Probes

/// Debian's docker-registry (distribution v2) serving on 127.0.0.1 only, from a temporary config and storage
/// directory, for C5's real pushes and pulls. It runs in its own accounting cgroup through boxbench's launcher, so a
/// signal's teardown kills it, and the Janitor removes what a killed owner left (the `boxbench-registry-<pid>-…`
/// directory and the cgroup of the same name).
public final class LoopbackRegistry: Sendable {
    public static let program = "/usr/bin/docker-registry"
    public let port: Int
    public let directory: String
    let cgroupName: String
    private let finished = DispatchSemaphore(value: 0)
    public var host: String { "127.0.0.1:\(port)" }

    public struct Failure: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "loopback registry: \(reason)" }
    }
    /// "docker-registry github.com/docker/distribution 2.8.2+ds1".
    public let version: String

    /// Starts the registry and waits until it accepts connections (10 s at most).
    public init() throws {
        guard access(Self.program, X_OK) == 0 else {
            throw Failure(reason: "\(Self.program) is missing (Debian's docker-registry): run scripts/setup")
        }
        let name = OwnedName.registry.name(String(UInt32.random(in: 0...UInt32.max)))
        directory = try makeTempDirectory(name)
        cgroupName = "boxbench/" + name
        version = programVersion(Self.program)?.replacingOccurrences(of: "/usr/bin/", with: "") ?? "docker-registry"
        do {
            port = try Self.freeLoopbackPort()
            let config = """
                version: 0.1
                log:
                  level: error
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: \(directory)/data
                http:
                  addr: 127.0.0.1:\(port)

                """
            try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let request = HostProcessRequest(
            path: Self.program, args: ["docker-registry", "serve", directory + "/config.yml"],
            env: ["PATH=/usr/bin:/bin", "HOME=" + directory], cgroupName: cgroupName, timeout: .seconds(3600))
        let done = finished
        // The launcher waits for the process; this thread is where it waits until `stop` kills the group.
        Thread.detachNewThread {
            _ = try? HostProcess.run(request)
            done.signal()
        }
        let deadline = monotonicNanos() + 10_000_000_000
        while monotonicNanos() < deadline {
            if Self.accepts(port: port) { return }
            usleep(50_000)
        }
        stop()
        throw Failure(reason: "docker-registry did not listen on 127.0.0.1:\(port) within 10 s")
    }

    /// Kills the registry (its whole cgroup), waits for the launcher to reap it, removes its storage.
    public func stop() {
        makeCgroupManager(name: cgroupName, layout: .detect(), accountingOnly: true).killAll()
        _ = finished.wait(timeout: .now() + 10)
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(reason: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard bound == 0, named == 0 else {
            throw Failure(reason: "bind 127.0.0.1:0: \(String(cString: strerror(errno)))")
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = loopback(port: port)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }
}
