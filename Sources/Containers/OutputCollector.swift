import CShim
import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// What came out of a process while it ran, timed on the host monotonic clock from the launch call.
struct CollectedOutput {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var firstOutputNs: UInt64?
    var exitNs: UInt64 = 0
    var timedOut = false
}

/// Reads stdout/stderr until the process exits and both pipes close, or until the deadline, when `kill` runs
/// (it must kill everything that can hold the pipes). `pidfd`: one the launch already made (else one is opened
/// here). Closes the fds.
func collectOutput(
    pid: pid_t, pidfd givenPidfd: Int32 = -1, stdoutFd: Int32, stderrFd: Int32, t0: UInt64, deadline: UInt64?,
    kill killAll: () -> Void
) -> CollectedOutput {
    var out = CollectedOutput()
    let fdsAll = [stdoutFd, stderrFd].filter { $0 >= 0 }
    var open = fdsAll
    let pidfd = givenPidfd >= 0 ? givenPidfd : cshim_pidfd_open(pid)
    var exited = false
    var scratch = [UInt8](repeating: 0, count: 65536)

    while !(exited && open.isEmpty) {
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        if !exited && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
        var waitMs: Int32 = -1
        if let deadline, !out.timedOut {
            let now = monotonicNanos()
            waitMs = now >= deadline ? 0 : Int32(min((deadline - now) / 1_000_000 + 1, 1_000_000))
        }
        if exited { waitMs = 200 }  // whatever still holds the pipes was killed with the group
        if pidfd < 0 && !exited { waitMs = waitMs < 0 ? 20 : min(waitMs, 20) }
        let r = poll(&fds, nfds_t(fds.count), waitMs)
        if r < 0 && errno == EINTR { continue }
        if r == 0 {
            if exited { break }
            if let deadline, !out.timedOut, monotonicNanos() >= deadline {
                out.timedOut = true
                killAll()
                continue
            }
            if pidfd < 0 {
                // No pidfd (old kernel): peek at the child's state without reaping it.
                var info = siginfo_t()
                if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0
                    && info._sifields._sigchld.si_pid == pid
                {
                    exited = true
                    out.exitNs = monotonicNanos() - t0
                    killAll()
                }
            }
            continue
        }
        var closed: [Int32] = []
        for p in fds where p.revents != 0 {
            if p.fd == pidfd {
                exited = true
                out.exitNs = monotonicNanos() - t0
                killAll()
                continue
            }
            let n = scratch.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, 65536) }
            if n > 0 {
                if p.fd == stdoutFd {
                    if out.firstOutputNs == nil { out.firstOutputNs = monotonicNanos() - t0 }
                    out.stdout.append(contentsOf: scratch[0..<n])
                } else {
                    out.stderr.append(contentsOf: scratch[0..<n])
                }
            } else if !(n < 0 && errno == EINTR) {
                closed.append(p.fd)
            }
        }
        open.removeAll { closed.contains($0) }
    }
    if out.exitNs == 0 { out.exitNs = monotonicNanos() - t0 }
    if pidfd >= 0 { close(pidfd) }
    fdsAll.forEach { close($0) }
    return out
}
