import CShim
import Foundation
import Probes

/// Everything one container owns on the host; `run()` releases it once, from any path.
final class Teardown: @unchecked Sendable {
    static let registry = TeardownRegistry()

    let id: String
    let stateDir: String
    private let lock = NSLock()
    private var done = false
    var cgroup: (any CgroupManager)?
    var pid: pid_t = 0

    init(id: String, stateDir: String) {
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
            try? cgroup.remove()
            removeEmptyParents(of: cgroup)
        }
        try? FileManager.default.removeItem(atPath: stateDir)
        Self.registry.remove(self)
    }

    /// The shared `boxbench` parent group goes too once the last container is gone.
    private func removeEmptyParents(of cgroup: any CgroupManager) {
        for procs in cgroup.procsPaths {
            var dir = (procs as NSString).deletingLastPathComponent
            for _ in 1..<cgroup.name.split(separator: "/").count {
                dir = (dir as NSString).deletingLastPathComponent
                if rmdir(dir) != 0 { break }
            }
        }
    }
}

final class TeardownRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ObjectIdentifier: Teardown] = [:]
    func add(_ t: Teardown) {
        lock.lock()
        items[ObjectIdentifier(t)] = t
        lock.unlock()
    }
    func remove(_ t: Teardown) {
        lock.lock()
        items[ObjectIdentifier(t)] = nil
        lock.unlock()
    }
    func all() -> [Teardown] {
        lock.lock()
        defer { lock.unlock() }
        return Array(items.values)
    }
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

    /// Waits for exit (killing the whole cgroup at the timeout), collects output and stats, tears down.
    public func wait(timeout: Duration?) -> ContainerResult {
        if startFd >= 0 { try? start() }
        let deadline = timeout.map { monotonicNanos() + UInt64($0.components.seconds) * 1_000_000_000 + UInt64($0.components.attoseconds / 1_000_000_000) }
        var buffers: [[UInt8]] = Array(repeating: [], count: outputFds.count)
        var firstOutput: UInt64?
        var timedOut = false
        let pidfd = cshim_pidfd_open(pid)
        var open = outputFds
        var exited = false
        var scratch = [UInt8](repeating: 0, count: 65536)

        func drain(_ index: Int) -> Bool {
            let fd = outputFds[index]
            let n = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n > 0 {
                if index == 0 && firstOutput == nil { firstOutput = monotonicNanos() - t0 }
                buffers[index].append(contentsOf: scratch[0..<n])
                return true
            }
            return n < 0 && errno == EINTR
        }

        while !(exited && open.isEmpty) {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if !exited && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            var waitMs: Int32 = -1
            if let deadline, !timedOut {
                let now = monotonicNanos()
                waitMs = now >= deadline ? 0 : Int32(min((deadline - now) / 1_000_000 + 1, 1_000_000))
            }
            if exited { waitMs = 200 }  // leftovers that hold the pipe were killed with the cgroup
            if pidfd < 0 && !exited { waitMs = waitMs < 0 ? 20 : min(waitMs, 20) }
            let r = poll(&fds, nfds_t(fds.count), waitMs)
            if r < 0 && errno == EINTR { continue }
            if r == 0 {
                if exited { break }
                if let deadline, !timedOut, monotonicNanos() >= deadline {
                    timedOut = true
                    cgroup.killAll()
                    continue
                }
                if pidfd < 0 {
                    // No pidfd (old kernel): peek at the child's state without reaping it.
                    var info = siginfo_t()
                    if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0
                        && info._sifields._sigchld.si_pid == pid
                    {
                        exited = true
                        cgroup.killAll()
                    }
                }
                continue
            }
            var closed: [Int32] = []
            for p in fds where p.revents != 0 {
                if p.fd == pidfd {
                    exited = true
                    // Anything left in the group (a daemonized child) must not hold the pipes open.
                    cgroup.killAll()
                } else if let index = outputFds.firstIndex(of: p.fd) {
                    if !drain(index) { closed.append(p.fd) }
                }
            }
            open.removeAll { closed.contains($0) }
        }
        let exitNs = monotonicNanos() - t0
        if pidfd >= 0 { close(pidfd) }
        outputFds.forEach { close($0) }
        outputFds = []

        var status: Int32 = 0
        var maxrss = 0
        if cshim_wait4(pid, &status, 0, &maxrss, nil, nil) < 0 { status = 0 }
        let stats = cgroup.stats()
        teardown.pid = 0
        teardown.run()

        let exit: ContainerExit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        let oom = (stats.memory?.oomKills ?? 0) > 0 && exit == .signaled(SIGKILL) && !timedOut
        return ContainerResult(
            exit: exit, oomKilled: oom, timedOut: timedOut, stdout: buffers.first ?? [],
            stderr: buffers.count > 1 ? buffers[1] : [], createdNs: createdNs, firstOutputNs: firstOutput,
            exitNs: exitNs, stats: stats, maxRSSKilobytes: maxrss)
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
