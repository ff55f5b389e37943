import CShim
import Foundation
import Probes
import Synchronization

/// Everything one container owns on the host; `run()` releases it once, from any path.
final class Teardown: @unchecked Sendable {
    static let registry = TeardownRegistry()

    let id: String
    /// nil for host processes that own only an accounting cgroup.
    let stateDir: String?
    private let lock = NSLock()
    private var done = false
    var cgroup: (any CgroupManager)?
    var pid: pid_t = 0

    init(id: String, stateDir: String?) {
        self.id = id
        self.stateDir = stateDir
        Self.registry.add(self)
    }

    func run() {
        lock.lock()
        defer { lock.unlock() }
        if done { return }
        done = true
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

final class TeardownRegistry: Sendable {
    private let items = Mutex<[ObjectIdentifier: Teardown]>([:])
    func add(_ t: Teardown) { items.withLock { $0[ObjectIdentifier(t)] = t } }
    func remove(_ t: Teardown) { items.withLock { $0[ObjectIdentifier(t)] = nil } }
    func all() -> [Teardown] { items.withLock { Array($0.values) } }
}

/// A container whose process exists: waiting for `start()` (create/start split) or already running.
public final class CreatedContainer: @unchecked Sendable {
    public let id: String
    public let pid: pid_t
    public let cgroup: any CgroupManager
    let t0: UInt64
    public let createdNs: UInt64
    public private(set) var startedNs: UInt64?
    var outputFds: [Int32]
    var startFd: Int32
    let teardown: Teardown

    init(
        id: String, pid: pid_t, cgroup: any CgroupManager, t0: UInt64, createdNs: UInt64, outputFds: [Int32],
        startFd: Int32, teardown: Teardown
    ) {
        self.id = id
        self.pid = pid
        self.cgroup = cgroup
        self.t0 = t0
        self.createdNs = createdNs
        self.outputFds = outputFds
        self.startFd = startFd
        self.teardown = teardown
    }

    /// Releases a process created with `waitForStart`: it execs the workload now.
    public func start() throws(ContainerError) {
        guard startFd >= 0 else { return }
        startedNs = monotonicNanos() - t0
        let n = write(startFd, "s", 1)
        let e = errno
        close(startFd)
        startFd = -1
        if n != 1 { throw ContainerError(id: id, operation: "start", detail: "signal the waiting process", errno: e) }
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Output read by `waitForOutput`, handed back by `wait`.
    var earlyStdout: [UInt8] = []

    /// Blocks until stdout contains `needle` (e.g. an idle workload's "ready"); returns ns since launch, nil on
    /// timeout or EOF. Used to measure N instances held at once (density).
    public func waitForOutput(_ needle: String, timeout: Duration) -> UInt64? {
        guard let fd = outputFds.first else { return nil }
        let deadline = monotonicNanos() + durationNanos(timeout)
        let target = Array(needle.utf8)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while monotonicNanos() < deadline {
            if earlyStdout.count >= target.count,
                (0...(earlyStdout.count - target.count)).contains(where: {
                    earlyStdout[$0..<($0 + target.count)].elementsEqual(target)
                })
            {
                return monotonicNanos() - t0
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, (deadline - min(deadline, monotonicNanos())) / 1_000_000))
            if poll(&p, 1, left) <= 0 { continue }
            let n = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { return nil }
            earlyStdout += scratch[0..<n]
        }
        return nil
    }

    /// Waits for exit (killing the whole cgroup at the timeout), collects output and stats, tears down.
    public func wait(timeout: Duration?) -> ContainerResult {
        if startFd >= 0 { try? start() }
        let deadline = timeout.map { monotonicNanos() + durationNanos($0) }
        let collected = collectOutput(
            pid: pid, stdoutFd: outputFds.first ?? -1, stderrFd: outputFds.count > 1 ? outputFds[1] : -1, t0: t0,
            deadline: deadline, kill: { cgroup.killAll() })
        outputFds = []
        var status: Int32 = 0
        var maxrss = 0
        if cshim_wait4(pid, &status, 0, &maxrss, nil, nil) < 0 { status = 0 }
        let stats = cgroup.stats()
        teardown.pid = 0
        teardown.run()

        let exit: ContainerExit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        let oom = (stats.memory?.oomKills ?? 0) > 0 && exit == .signaled(SIGKILL) && !collected.timedOut
        return ContainerResult(
            exit: exit, oomKilled: oom, timedOut: collected.timedOut, stdout: earlyStdout + collected.stdout,
            stderr: collected.stderr,
            createdNs: createdNs, firstOutputNs: collected.firstOutputNs, exitNs: collected.exitNs, stats: stats,
            maxRSSKilobytes: maxrss)
    }

    /// Leaves the process and its cgroup running past this process's exit (OCI `create`).
    public func detach() {
        outputFds.forEach { close($0) }
        outputFds = []
        Teardown.registry.remove(teardown)
    }

    /// Kills and tears down without waiting for a result (delete --force, errors).
    public func destroy() {
        if startFd >= 0 {
            close(startFd)
            startFd = -1
        }
        cgroup.killAll()
        var status: Int32 = 0
        _ = cshim_wait4(pid, &status, 0, nil, nil, nil)
        outputFds.forEach { close($0) }
        outputFds = []
        teardown.pid = 0
        teardown.run()
    }
}

func durationNanos(_ d: Duration) -> UInt64 {
    let c = d.components
    return UInt64(max(c.seconds, 0)) * 1_000_000_000 + UInt64(max(c.attoseconds, 0) / 1_000_000_000)
}
