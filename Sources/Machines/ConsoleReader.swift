import Foundation
import Probes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the serial FIFO live on its own thread, timestamping every chunk, until stopped.
final class ConsoleReader: Sendable {
    private let fd: Int32
    private let onMarker: @Sendable (ConsoleTranscript.Marker) -> Void
    private let onOutput: (@Sendable ([UInt8]) -> Void)?
    private struct State {
        var transcript = ConsoleTranscript()
        /// Bytes of the transcript's output already handed to `onOutput`.
        var delivered = 0
        var stopRequested = false
        var started = false
    }
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    init(
        fd: Int32, onOutput: (@Sendable ([UInt8]) -> Void)? = nil,
        onMarker: @escaping @Sendable (ConsoleTranscript.Marker) -> Void
    ) {
        self.fd = fd
        self.onOutput = onOutput
        self.onMarker = onMarker
    }

    func start() {
        state.withLock { $0.started = true }
        let t = Thread { [self] in loop() }
        t.name = "boxbench-console"
        t.start()
    }

    private func loop() {
        var buf = [UInt8](repeating: 0, count: 65536)
        let wantsOutput = onOutput != nil
        while true {
            let stopping = state.withLock { $0.stopRequested }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, stopping ? 0 : 50)
            if r < 0 && errno == EINTR { continue }
            if r > 0 {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let now = monotonicNanos()
                    let (markers, fresh) = state.withLock { state -> ([ConsoleTranscript.Marker], [UInt8]) in
                        let markers = state.transcript.feed(buf[0..<n], atNs: now)
                        guard wantsOutput, state.transcript.output.count > state.delivered else { return (markers, []) }
                        defer { state.delivered = state.transcript.output.count }
                        return (markers, Array(state.transcript.output[state.delivered...]))
                    }
                    if !fresh.isEmpty { onOutput?(fresh) }
                    for m in markers { onMarker(m) }
                    continue
                }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            }
            // Drained (or nothing readable) after a stop request: done.
            if stopping { break }
        }
        done.signal()
    }

    /// Stops after draining what is buffered; closes the fd; returns the transcript.
    func stop() -> ConsoleTranscript {
        let started = state.withLock { state in
            state.stopRequested = true
            return state.started
        }
        if started { done.wait() }
        close(fd)
        let (transcript, fresh) = state.withLock { state -> (ConsoleTranscript, [UInt8]) in
            state.transcript.finish(atNs: monotonicNanos())
            guard state.transcript.output.count > state.delivered else { return (state.transcript, []) }
            defer { state.delivered = state.transcript.output.count }
            return (state.transcript, Array(state.transcript.output[state.delivered...]))
        }
        if !fresh.isEmpty { onOutput?(fresh) }
        return transcript
    }
}

/// Samples QEMU's PSS/RSS (smaps_rollup), CPU, libvirt's cpu.time, balloon stats and the VM's cgroup memory
/// while the domain runs; also reaps QEMU the moment it turns zombie (so STOPPED is not delayed by PID 1).
final class QemuSampler: Sendable {
    struct Output {
        var memory = VMRunResult.Memory()
        var cpu = VMRunResult.CPU()
    }

    /// What the process and the domain are, set once at `start`; read by the sampling thread.
    private struct Target {
        var pid: Int32?
        var domain: LibvirtDomain?
        var cgroupMemoryDir: String?
        var cgroupV2 = false
    }
    private struct State {
        var out = Output()
        var target = Target()
        var stopRequested = false
        var running = false
    }

    private let interval: Duration
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)
    private let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))

    init(interval: Duration) { self.interval = interval }

    /// `domain` is libvirt's (cpu.time, balloon stats); nil when QEMU runs without libvirt.
    func start(pid: Int32?, domain: LibvirtDomain?) {
        var target = Target(pid: pid, domain: domain)
        if let pid { (target.cgroupMemoryDir, target.cgroupV2) = Self.memoryCgroup(pid: pid) }
        state.withLock { state in
            state.target = target
            state.running = true
        }
        let t = Thread { [self] in loop() }
        t.name = "boxbench-sampler"
        t.start()
    }

    private var target: Target { state.withLock { $0.target } }

    private func loop() {
        let periodUs = UInt32(
            max(1_000, interval.components.attoseconds / 1_000_000_000_000 + interval.components.seconds * 1_000_000))
        let pid = target.pid
        var tick = 0
        while true {
            if state.withLock({ $0.stopRequested }) { break }
            sampleMemory(atWorkloadStart: false)
            if tick % 5 == 0 { sampleSlow() }
            if let pid, QemuReaper.isZombie(pid) {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
            }
            tick += 1
            usleep(periodUs)
        }
        done.signal()
    }

    /// An extra sample right now (at workload start/exit markers), from the console thread.
    func sampleNow(atWorkloadStart: Bool) {
        sampleMemory(atWorkloadStart: atWorkloadStart)
        sampleSlow()
    }

    private func sampleMemory(atWorkloadStart: Bool) {
        guard let pid = target.pid, let text = try? readTextFile("/proc/\(pid)/smaps_rollup"),
            let s = try? SmapsRollup.parse(text), s.rssBytes > 0
        else { return }
        state.withLock { state in
            state.out.memory.samples += 1
            state.out.memory.qemuPeakPssBytes = max(state.out.memory.qemuPeakPssBytes ?? 0, s.pssBytes)
            state.out.memory.qemuPeakRssBytes = max(state.out.memory.qemuPeakRssBytes ?? 0, s.rssBytes)
            if atWorkloadStart {
                state.out.memory.qemuPssAtWorkloadStartBytes = s.pssBytes
                state.out.memory.qemuRssAtWorkloadStartBytes = s.rssBytes
            }
        }
    }

    private func sampleSlow() {
        let target = self.target
        let cpuNs = target.domain?.cpuTimeNs()
        let balloon = target.domain?.memoryStats() ?? [:]
        var qemuCpuMs: Double?
        if let pid = target.pid, let t = try? readTextFile("/proc/\(pid)/stat"), let s = try? ProcStat.parse(t),
            s.state != "Z"
        {
            qemuCpuMs = Double(s.utimeTicks + s.stimeTicks) / clockTicks * 1000
        }
        var current: UInt64?
        var peak: UInt64?
        if let cg = target.cgroupMemoryDir {
            let v2 = target.cgroupV2
            current = (try? readTextFile(cg + (v2 ? "/memory.current" : "/memory.usage_in_bytes")))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            peak = (try? readTextFile(cg + (v2 ? "/memory.peak" : "/memory.max_usage_in_bytes")))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        state.withLock { state in
            if let cpuNs, cpuNs > 0 { state.out.cpu.libvirtCpuTimeNs = cpuNs }
            if !balloon.isEmpty { state.out.memory.balloonKiB = balloon }
            if let qemuCpuMs { state.out.cpu.qemuCpuMs = qemuCpuMs }
            if let current, current > 0 { state.out.memory.cgroupCurrentBytes = current }
            if let peak, peak > 0 {
                state.out.memory.cgroupPeakBytes = max(peak, state.out.memory.cgroupPeakBytes ?? 0)
            }
        }
    }

    func stop() {
        let wasRunning = state.withLock { state in
            defer {
                state.stopRequested = true
                state.running = false
            }
            return state.running
        }
        if wasRunning { done.wait() }
    }

    func result() -> Output { state.withLock { $0.out } }

    /// The memory cgroup directory of a process: v1 `memory` controller, else the v2 unified path.
    static func memoryCgroup(pid: Int32) -> (String?, Bool) {
        guard let text = try? readTextFile("/proc/\(pid)/cgroup") else { return (nil, false) }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            if f[1].split(separator: ",").contains("memory") {
                return ("/sys/fs/cgroup/memory" + f[2], false)
            }
        }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let dir = "/sys/fs/cgroup" + line.dropFirst(3)
            if access(dir + "/memory.current", R_OK) == 0 { return (dir, true) }
        }
        return (nil, false)
    }
}

/// The guest's serial console as both launchers read it: the FIFO pair `console.in`/`console.out` in the run
/// directory, `.out` opened O_RDWR so QEMU's open/close never gives EOF, read by a `ConsoleReader` that tells the
/// sampler when the workload starts and exits.
struct GuestConsole {
    /// The FIFO pair's common path, as QEMU's pipe backend takes it.
    let path: String
    let reader: ConsoleReader
    let sampler: QemuSampler

    init(runDir: String, config: VMConfig) throws(MachineError) {
        path = runDir + "/console"
        for suffix in [".in", ".out"] where mkfifo(path + suffix, 0o600) != 0 {
            throw .system(operation: "mkfifo \(path + suffix)", errno: errno)
        }
        let outFd = open(path + ".out", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard outFd >= 0 else { throw .system(operation: "open \(path).out", errno: errno) }
        let sampler = QemuSampler(interval: config.sampleInterval)
        self.sampler = sampler
        reader = ConsoleReader(fd: outFd, onOutput: config.onOutput) { marker in
            if marker == .workloadStart { sampler.sampleNow(atWorkloadStart: true) }
            if marker == .workloadExit { sampler.sampleNow(atWorkloadStart: false) }
        }
        reader.start()
    }
}

extension ConsoleTranscript {
    /// The guest's marks and boot steps (modules, root, os-init, unit-start…) in the order they happened, as phases
    /// from the launch at `t0`.
    func guestPhases(since t0: UInt64) -> [VMRunResult.Phase] {
        let timed: [(String, UInt64?)] = [
            ("guest-init", initNs), ("workload-start", workloadStartNs), ("first-output", firstOutputNs),
            ("workload-exit", workloadExitNs), ("poweroff", poweroffNs),
        ]
        return (timed.compactMap { n, ns in ns.map { (n, $0) } } + stepNs.map { ($0.name, $0.ns) })
            .sorted { $0.1 < $1.1 }.map { .init(name: $0.0, ms: Double($0.1 &- t0) / 1e6) }
    }

    /// The workload's exit code, 128+N when killed by signal N; nil when it never reported one.
    var exitStatus: Int32? { exitCode ?? exitSignal.map { 128 + $0 } }

    /// Guest CLOCK_MONOTONIC from workload start to exit.
    var guestWorkloadMs: Double? {
        guard let a = guestWorkloadStartMonoNs, let b = guestWorkloadExitMonoNs, b >= a else { return nil }
        return Double(b - a) / 1e6
    }

    /// QEMU's sampled memory with the guest's own view (MemTotal, MemAvailable) added.
    func memory(_ sampled: VMRunResult.Memory) -> VMRunResult.Memory {
        var m = sampled
        m.guestMemTotalKiB = memTotalKiB
        m.guestMemAvailableKiB = memAvailableKiB
        return m
    }
}

extension VMRunResult.Sizes {
    init(_ a: GuestArtifacts) {
        self.init(
            kernelPath: a.kernel, initrdPath: a.initrd, diskPath: a.disk, kernelBytes: a.kernelBytes,
            initrdBytes: a.initrdBytes, diskAllocatedBytes: a.diskAllocatedBytes, diskVirtualBytes: a.diskVirtualBytes)
    }
}
