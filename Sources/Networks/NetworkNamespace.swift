import CShim
import Containers
import Foundation
import Probes

/// A network namespace boxbench made, pinned by a bind mount at `<run>/netns/<name>` (as `ip netns add` pins
/// under /run/netns), with the owner's pid in the name so the Janitor removes it after a `kill -9`.
public struct NetworkNamespace: Sendable, Equatable {
    public let path: String
    public var name: String { (path as NSString).lastPathComponent }

    public static func directory(_ paths: BoxbenchPaths = BoxbenchPaths()) -> String { paths.run + "/netns" }

    public static func create(name: String, paths: BoxbenchPaths = BoxbenchPaths()) throws(NetworkError) -> Self {
        let dir = directory(paths)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .system(operation: "mkdir", path: dir, errno: EACCES, detail: "\(error)")
        }
        let path = dir + "/" + name
        let rc = cshim_netns_create(path)
        guard rc == 0 else { throw .system(operation: "create network namespace", path: path, errno: -rc) }
        return NetworkNamespace(path: path)
    }

    init(path: String) { self.path = path }

    /// Unpins it; the namespace, its links and addresses go when no process is left in it.
    public func remove() {
        _ = cshim_netns_remove(path)
    }

    /// Runs `body` with the calling thread inside this namespace: what it launches meanwhile (a process, a
    /// container's init) is born there. Synchronous, so the thread cannot change under it.
    public func withThreadInside<T>(_ body: () throws -> T) throws -> T {
        var saved: Int32 = -1
        let rc = cshim_netns_enter(path, &saved)
        guard rc == 0 else { throw NetworkError.system(operation: "enter network namespace", path: path, errno: -rc) }
        defer {
            // Failing to come back would leave this thread in the bench network: nothing after could be trusted.
            if cshim_netns_leave(saved) != 0 { fatalError("cannot return to the host's network namespace") }
        }
        return try body()
    }
}

public enum NetworkError: Error, CustomStringConvertible, Equatable {
    case system(operation: String, path: String, errno: Int32, detail: String = "")
    /// A CNI plugin failed: the plugin, the command, and its error (the spec's JSON error or stderr).
    case plugin(plugin: String, command: String, message: String)
    case badConfig(String)

    public var description: String {
        switch self {
        case .system(let op, let path, let e, let detail):
            "\(op) \(path): \(String(cString: strerror(e)))" + (detail.isEmpty ? "" : " (\(detail))")
        case .plugin(let plugin, let command, let message): "CNI \(plugin) \(command): \(message)"
        case .badConfig(let m): m
        }
    }
}
