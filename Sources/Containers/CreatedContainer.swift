import CShim
import Foundation
import Probes
import Synchronization

/// Everything one container owns on the host; `run()` releases it once, from any path.
final class Teardown: Sendable {
    static let registry = TeardownRegistry()

    let id: String
    /// nil for host processes that own only an accounting cgroup.
    let stateDir: String?
    private struct State {
        var cgroup: (any CgroupManager)?
        var pid: pid_t = 0
    }
    private let state = Mutex(State())
    /// Held for the whole teardown: a second caller (the signal handler while the owner tears down) waits for
    /// the first to finish instead of letting the process exit halfway.
    private let done = Mutex(false)

    /// The group to kill and remove; set once it exists.
    var cgroup: (any CgroupManager)? {
        get { state.withLock { $0.cgroup } }
        set { state.withLock { $0.cgroup = newValue } }
    }
    /// The child to reap (0: none, or already reaped).
    var pid: pid_t {
        get { state.withLock { $0.pid } }
        set { state.withLock { $0.pid = newValue } }
    }

    init(id: String, stateDir: String?) {
        self.id = id
        self.stateDir = stateDir
        Self.registry.add(self)
    }

    func run() {
        done.withLock { done in
            if done { return }
            done = true
            let (cgroup, pid) = state.withLock { ($0.cgroup, $0.pid) }
            if let cgroup {
                cgroup.killAll()
                if pid > 0 {
                    var status: Int32 = 0
                    _ = cshim_wait4(pid, &status, WNOHANG, nil, nil, nil)
                }
                do { try cgroup.remove() } catch {
                    // Not fatal to the run, but never silent: the Janitor and the soak count what is left.
                    FileHandle.standardError.write(Data("boxbench: container \(id): remove cgroup: \(error)\n".utf8))
                }
            }
            if let stateDir { try? FileManager.default.removeItem(atPath: stateDir) }
            Self.registry.remove(self)
        }
    }
}

final class TeardownRegistry: Sendable {
    /// A list by identity, not a Dictionary keyed by ObjectIdentifier: a process holds a few at most, and the
    /// Dictionary type's first use cost every create ~0.35 M instructions of generic set-up.
    private let items = Mutex<[Teardown]>([])
    func add(_ t: Teardown) { items.withLock { list in if !list.contains(where: { $0 === t }) { list.append(t) } } }
    func remove(_ t: Teardown) { items.withLock { $0.removeAll { $0 === t } } }
    func all() -> [Teardown] { items.withLock { $0 } }
}

/// A container whose process exists: waiting for `start()` (create/start split) or already running.
public final class CreatedContainer: Sendable {
    public let id: String
    public let pid: pid_t
    public let cgroup: any CgroupManager
    let t0: UInt64
    public let createdNs: UInt64
    let teardown: Teardown
    private struct State {
        var startedNs: UInt64?
        var outputFds: [Int32]
        var startFd: Int32
        /// Output read by `waitForOutput`, handed back by `wait`.
        var earlyStdout: [UInt8] = []
    }
    private let state: Mutex<State>

    public var startedNs: UInt64? { state.withLock { $0.startedNs } }

    init(
        id: String, pid: pid_t, cgroup: any CgroupManager, t0: UInt64, createdNs: UInt64, outputFds: [Int32],
        startFd: Int32, teardown: Teardown
    ) {
        self.id = id
        self.pid = pid
        self.cgroup = cgroup
        self.t0 = t0
        self.createdNs = createdNs
        self.state = Mutex(State(outputFds: outputFds, startFd: startFd))
        self.teardown = teardown
    }

    /// The start descriptor, taken once (nil when already started or never gated).
    private func takeStartFd(recordingStart: Bool) -> Int32? {
        state.withLock { state in
            guard state.startFd >= 0 else { return nil }
            defer { state.startFd = -1 }
            if recordingStart { state.startedNs = monotonicNanos() - t0 }
            return state.startFd
        }
    }

    private func takeOutputFds() -> [Int32] {
        state.withLock { state in
            defer { state.outputFds = [] }
            return state.outputFds
        }
    }

    /// Releases a process created with `waitForStart`: it execs the workload now.
    public func start() throws(ContainerError) {
        guard let fd = takeStartFd(recordingStart: true) else { return }
        let n = write(fd, "s", 1)
        let e = errno
        close(fd)
        if n != 1 { throw ContainerError(id: id, operation: "start", detail: "signal the waiting process", errno: e) }
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Blocks until stdout contains `needle` (e.g. an idle workload's "ready"); returns ns since launch, nil on
    /// timeout or EOF. Used to measure N instances held at once (density).
    public func waitForOutput(_ needle: String, timeout: Duration) -> UInt64? {
        guard let fd = state.withLock({ $0.outputFds.first }) else { return nil }
        let deadline = monotonicNanos() + durationNanos(timeout)
        let target = Array(needle.utf8)
        var seen = state.withLock { $0.earlyStdout }
        defer { state.withLock { $0.earlyStdout = seen } }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while monotonicNanos() < deadline {
            if seen.count >= target.count,
                (0...(seen.count - target.count)).contains(where: {
                    seen[$0..<($0 + target.count)].elementsEqual(target)
                })
            {
                return monotonicNanos() - t0
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, (deadline - min(deadline, monotonicNanos())) / 1_000_000))
            if poll(&p, 1, left) <= 0 { continue }
            let n = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { return nil }
            seen += scratch[0..<n]
        }
        return nil
    }

    /// Waits for exit (killing the whole cgroup at the timeout), collects output and stats, tears down.
    public func wait(timeout: Duration?) -> ContainerResult {
        try? start()
        let deadline = timeout.map { monotonicNanos() + durationNanos($0) }
        let fds = takeOutputFds()
        let collected = collectOutput(
            pid: pid, stdoutFd: fds.first ?? -1, stderrFd: fds.count > 1 ? fds[1] : -1, t0: t0,
            deadline: deadline, kill: { cgroup.killAll() })
        var status: Int32 = 0
        var maxrss = 0
        if cshim_wait4(pid, &status, 0, &maxrss, nil, nil) < 0 { status = 0 }
        let stats = cgroup.stats()
        teardown.pid = 0
        teardown.run()

        let exit: ContainerExit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        let oom = (stats.memory?.oomKills ?? 0) > 0 && exit == .signaled(SIGKILL) && !collected.timedOut
        return ContainerResult(
            exit: exit, oomKilled: oom, timedOut: collected.timedOut,
            stdout: state.withLock { $0.earlyStdout } + collected.stdout, stderr: collected.stderr,
            createdNs: createdNs, firstOutputNs: collected.firstOutputNs, exitNs: collected.exitNs, stats: stats,
            maxRSSKilobytes: maxrss)
    }

    /// Leaves the process and its cgroup running past this process's exit (OCI `create`).
    public func detach() {
        takeOutputFds().forEach { close($0) }
        Teardown.registry.remove(teardown)
    }

    /// Kills and tears down without waiting for a result (delete --force, errors).
    public func destroy() {
        if let fd = takeStartFd(recordingStart: false) { close(fd) }
        cgroup.killAll()
        var status: Int32 = 0
        _ = cshim_wait4(pid, &status, 0, nil, nil, nil)
        takeOutputFds().forEach { close($0) }
        teardown.pid = 0
        teardown.run()
    }
}

func durationNanos(_ d: Duration) -> UInt64 {
    let c = d.components
    return UInt64(max(c.seconds, 0)) * 1_000_000_000 + UInt64(max(c.attoseconds, 0) / 1_000_000_000)
}
