import CShim
import Foundation
import Probes

/// A plain host process: the native arm (no isolation, a bare accounting cgroup) and the peer runtimes
/// (crun, runc), launched from C like everything else, timed the same way as the container arm.
public struct HostProcessRequest: Sendable {
    public var path: String
    public var args: [String]
    public var env: [String]
    /// Accounting cgroup name below each hierarchy (nil: none).
    public var cgroupName: String?
    public var timeout: Duration?
    /// Run in a private mount namespace with this mount detached first (crun on hybrid hosts).
    public var detachMountInPrivateNamespace: String?
    /// chroot here before exec (`path` is then inside it), and change into `workingDirectory` (nil: stay).
    public var rootDirectory: String?
    public var workingDirectory: String?
    /// Born in the network namespace pinned here (the bench network), not the host's.
    public var networkNamespace: String?
    /// A file read as standard input (a CNI plugin's configuration); nil: /dev/null.
    public var stdinPath: String?

    public init(
        path: String, args: [String], env: [String], cgroupName: String? = nil, timeout: Duration? = nil,
        detachMountInPrivateNamespace: String? = nil, rootDirectory: String? = nil, workingDirectory: String? = nil,
        networkNamespace: String? = nil, stdinPath: String? = nil
    ) {
        self.networkNamespace = networkNamespace
        self.stdinPath = stdinPath
        self.rootDirectory = rootDirectory
        self.workingDirectory = workingDirectory
        self.path = path
        self.args = args
        self.env = env
        self.cgroupName = cgroupName
        self.timeout = timeout
        self.detachMountInPrivateNamespace = detachMountInPrivateNamespace
    }
}

public struct HostProcessResult: Sendable {
    public var exit: ContainerExit
    public var timedOut: Bool
    public var oomKilled: Bool
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var firstOutputNs: UInt64?
    public var exitNs: UInt64
    public var maxRSSKilobytes: Int
    public var cpuNs: UInt64
    public var stats: CgroupStats?
}

public enum HostProcess {
    /// `layout`: the host's cgroup layout, detected once by long-lived callers; detected here only when needed.
    public static func run(_ request: HostProcessRequest, layout: CgroupLayout? = nil) throws(ContainerError)
        -> HostProcessResult
    {
        let label = (request.path as NSString).lastPathComponent
        // Held until the process and its cgroup are registered for teardown, like a container's creation: a
        // SIGINT/SIGTERM handler cleaning up meanwhile cannot miss them, and nothing starts after it began.
        guard ContainerRuntime.gate.enter() else {
            throw ContainerError(id: label, operation: "launch", detail: "cancelled (SIGINT/SIGTERM)")
        }
        var gateHeld = true
        defer { if gateHeld { ContainerRuntime.gate.leave() } }
        var cgroup: (any CgroupManager)?
        var teardown: Teardown?
        if let name = request.cgroupName {
            let manager = makeCgroupManager(name: name, layout: layout ?? .detect(), accountingOnly: true)
            do { try manager.create() } catch {
                throw ContainerError(id: label, operation: "create accounting cgroup", detail: error.description)
            }
            cgroup = manager
            let t = Teardown(id: label, stateDir: nil)
            t.cgroup = manager
            teardown = t
        }
        // The clock starts at the launch itself (read in C right before clone): the accounting cgroup, pipes, argv
        // and the launcher's stack are the harness's bookkeeping, not the workload's start-up (the calibration
        // against hyperfine checks exactly this).
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard cshim_pipe_cloexec(&outPipe) == 0, cshim_pipe_cloexec(&errPipe) == 0 else {
            let e = errno
            teardown?.run()
            throw ContainerError(id: label, operation: "pipe", detail: "", errno: e)
        }
        var strings = CStringArena()
        defer { strings.free() }
        let argv = strings.array(request.args)
        let envp = strings.array(request.env)
        let cgroupPaths = strings.string(cgroup?.join.selfJoinOnly.joined(separator: "\n"))
        let detach = strings.string(request.detachMountInPrivateNamespace)
        let rootDirectory = strings.string(request.rootDirectory)
        let workingDirectory = strings.string(request.workingDirectory)
        var spawnErrno: Int32 = 0
        var pidfd: Int32 = -1
        var t0: UInt64 = 0
        let inFd = request.stdinPath.map { open($0, O_RDONLY | O_CLOEXEC) } ?? -1
        if let stdinPath = request.stdinPath, inFd < 0 {
            let e = errno
            close(outPipe[0])
            close(outPipe[1])
            close(errPipe[0])
            close(errPipe[1])
            teardown?.run()
            throw ContainerError(id: label, operation: "open stdin", detail: stdinPath, errno: e)
        }
        // The network namespace is per thread: this thread enters the bench network for the clone only.
        var savedNetns: Int32 = -1
        if let netns = request.networkNamespace {
            let rc = cshim_netns_enter(netns, &savedNetns)
            if rc != 0 {
                close(outPipe[0])
                close(outPipe[1])
                close(errPipe[0])
                close(errPipe[1])
                if inFd >= 0 { close(inFd) }
                teardown?.run()
                throw ContainerError(id: label, operation: "enter network namespace", detail: netns, errno: -rc)
            }
        }
        let pid = cshim_spawn_process(
            request.path, argv, envp, inFd, outPipe[1], errPipe[1], cgroupPaths, detach == nil ? 0 : 1, detach,
            rootDirectory, workingDirectory, &pidfd, &t0, &spawnErrno)
        if savedNetns >= 0, cshim_netns_leave(savedNetns) != 0 {
            fatalError("cannot return to the host's network namespace")
        }
        if inFd >= 0 { close(inFd) }
        close(outPipe[1])
        close(errPipe[1])
        if pid > 0 { teardown?.pid = pid }
        ContainerRuntime.gate.leave()
        gateHeld = false
        if pid < 0 {
            close(outPipe[0])
            close(errPipe[0])
            teardown?.run()
            throw ContainerError(id: label, operation: "execve", detail: request.path, errno: spawnErrno)
        }
        let deadline = request.timeout.map { monotonicNanos() + durationNanos($0) }
        let collected = collectOutput(
            pid: pid, pidfd: pidfd, stdoutFd: outPipe[0], stderrFd: errPipe[0], t0: t0, deadline: deadline,
            kill: {
                if let cgroup { cgroup.killAll() } else { kill(pid, SIGKILL) }
            })
        var status: Int32 = 0
        var maxrss = 0
        var utime = 0
        var stime = 0
        _ = cshim_wait4(pid, &status, 0, &maxrss, &utime, &stime)
        let stats = cgroup?.stats()
        teardown?.run()
        let exit: ContainerExit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return HostProcessResult(
            exit: exit, timedOut: collected.timedOut,
            oomKilled: (stats?.memory?.oomKills ?? 0) > 0 && exit == .signaled(SIGKILL),
            stdout: collected.stdout, stderr: collected.stderr, firstOutputNs: collected.firstOutputNs,
            exitNs: collected.exitNs, maxRSSKilobytes: maxrss, cpuNs: UInt64(utime + stime) * 1000, stats: stats)
    }
}

/// Peer OCI runtimes that run the identical bundle.
/// An OCI runtime driven through its runc-compatible command line: Debian's crun or runc, or another build of
/// one of them or of `boxbench-runtime` named by the suite (`path:`), for A/B runs of two builds.
public struct PeerRuntime: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case crun, runc
        case boxbench = "boxbench-runtime"
    }

    public var kind: Kind
    public var path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    public static let crun = PeerRuntime(kind: .crun, path: "/usr/bin/crun")
    public static let runc = PeerRuntime(kind: .runc, path: "/usr/sbin/runc")
    /// The peers Debian installs.
    public static let allCases = [crun, runc]

    /// The name it runs under (argv[0]) and is recorded as.
    public var rawValue: String { kind.rawValue }
    public var description: String { path == Self.installed(kind)?.path ? rawValue : "\(rawValue) (\(path))" }

    static func installed(_ kind: Kind) -> PeerRuntime? { allCases.first { $0.kind == kind } }

    public var isInstalled: Bool { access(path, X_OK) == 0 }

    /// The first line of `<runtime> --version` (e.g. "crun version 1.8.1"), for provenance; nil if it fails.
    public func version() -> String? {
        programVersion(path, argv0: rawValue)
    }

    /// `<runtime> run --bundle B ID`; crun on a hybrid host runs with the v2 mount hidden (it refuses hybrid).
    public func request(bundle: String, id: String, timeout: Duration?, layout: CgroupLayout) -> HostProcessRequest {
        let detach = kind == .crun && layout.mode == .hybrid ? layout.unifiedMountPoint : nil
        return HostProcessRequest(
            path: path, args: [rawValue, "run", "--bundle", bundle, id],
            env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], cgroupName: nil,
            timeout: timeout, detachMountInPrivateNamespace: detach)
    }

    /// Removes a container the runtime may have left after a timeout.
    public func forceDelete(id: String) {
        _ = try? HostProcess.run(
            HostProcessRequest(path: path, args: [rawValue, "delete", "--force", id], env: [], timeout: .seconds(10)))
    }
}

/// The first line `PROGRAM --version` prints, for provenance (e.g. "QEMU emulator version 7.2.19"); nil when it
/// cannot run or prints nothing.
public func programVersion(_ path: String, argv0: String? = nil) -> String? {
    guard access(path, X_OK) == 0,
        let r = try? HostProcess.run(
            HostProcessRequest(
                path: path, args: [argv0 ?? (path as NSString).lastPathComponent, "--version"],
                env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeout: .seconds(10))),
        r.exit == .exited(0)
    else { return nil }
    let line = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init)
    return line?.trimmingCharacters(in: .whitespaces).isEmpty == false ? line : nil
}
