import Foundation
import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the serial FIFO live on its own thread, timestamping every chunk, until stopped.
final class ConsoleReader: @unchecked Sendable {
    private let fd: Int32
    private let onMarker: @Sendable (ConsoleTranscript.Marker) -> Void
    private let onOutput: (@Sendable ([UInt8]) -> Void)?
    private var delivered = 0
    private let lock = NSLock()
    private var transcript = ConsoleTranscript()
    private var stopRequested = false
    private let done = DispatchSemaphore(value: 0)
    private var thread: Thread?

    init(
        fd: Int32, onOutput: (@Sendable ([UInt8]) -> Void)? = nil,
        onMarker: @escaping @Sendable (ConsoleTranscript.Marker) -> Void
    ) {
        self.fd = fd
        self.onOutput = onOutput
        self.onMarker = onMarker
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "boxbench-console"
        t.start()
        thread = t
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    private func loop() {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let stopping = shouldStop
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, stopping ? 0 : 50)
            if r < 0 && errno == EINTR { continue }
            if r > 0 {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let now = monotonicNanos()
                    lock.lock()
                    let markers = transcript.feed(buf[0..<n], atNs: now)
                    var fresh: [UInt8] = []
                    if onOutput != nil && transcript.output.count > delivered {
                        fresh = Array(transcript.output[delivered...])
                        delivered = transcript.output.count
                    }
                    lock.unlock()
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
        lock.lock()
        stopRequested = true
        lock.unlock()
        if thread != nil { done.wait() }
        close(fd)
        lock.lock()
        defer { lock.unlock() }
        transcript.finish(atNs: monotonicNanos())
        if transcript.output.count > delivered {
            onOutput?(Array(transcript.output[delivered...]))
            delivered = transcript.output.count
        }
        return transcript
    }
}

/// Samples QEMU's PSS/RSS (smaps_rollup), CPU, libvirt's cpu.time, balloon stats and the VM's cgroup memory
/// while the domain runs; also reaps QEMU the moment it turns zombie (so STOPPED is not delayed by PID 1).
final class QemuSampler: @unchecked Sendable {
    struct Output {
        var memory = VMRunResult.Memory()
        var cpu = VMRunResult.CPU()
    }

    private let interval: Duration
    private let lock = NSLock()
    private var out = Output()
    private var pid: Int32?
    private var domain: LibvirtDomain?
    private var cgroupMemoryDir: String?
    private var cgroupV2 = false
    private var stopRequested = false
    private let done = DispatchSemaphore(value: 0)
    private var running = false
    private let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))

    init(interval: Duration) { self.interval = interval }

    func start(pid: Int32?, domain: LibvirtDomain) {
        lock.lock()
        self.pid = pid
        self.domain = domain
        if let pid { (cgroupMemoryDir, cgroupV2) = Self.memoryCgroup(pid: pid) }
        running = true
        lock.unlock()
        let t = Thread { [self] in loop() }
        t.name = "boxbench-sampler"
        t.start()
    }

    private func loop() {
        let periodUs = UInt32(
            max(1_000, interval.components.attoseconds / 1_000_000_000_000 + interval.components.seconds * 1_000_000))
        var tick = 0
        while true {
            lock.lock()
            let stop = stopRequested
            lock.unlock()
            if stop { break }
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
        guard let pid, let text = try? readTextFile("/proc/\(pid)/smaps_rollup"),
            let s = try? SmapsRollup.parse(text), s.rssBytes > 0
        else { return }
        lock.lock()
        defer { lock.unlock() }
        out.memory.samples += 1
        out.memory.qemuPeakPssBytes = max(out.memory.qemuPeakPssBytes ?? 0, s.pssBytes)
        out.memory.qemuPeakRssBytes = max(out.memory.qemuPeakRssBytes ?? 0, s.rssBytes)
        if atWorkloadStart {
            out.memory.qemuPssAtWorkloadStartBytes = s.pssBytes
            out.memory.qemuRssAtWorkloadStartBytes = s.rssBytes
        }
    }

    private func sampleSlow() {
        lock.lock()
        let domain = self.domain
        let pid = self.pid
        let cg = cgroupMemoryDir
        let v2 = cgroupV2
        lock.unlock()
        let cpuNs = domain?.cpuTimeNs()
        let balloon = domain?.memoryStats() ?? [:]
        var qemuCpuMs: Double?
        if let pid, let t = try? readTextFile("/proc/\(pid)/stat"), let s = try? ProcStat.parse(t), s.state != "Z" {
            qemuCpuMs = Double(s.utimeTicks + s.stimeTicks) / clockTicks * 1000
        }
        var current: UInt64?
        var peak: UInt64?
        if let cg {
            current = (try? readTextFile(cg + (v2 ? "/memory.current" : "/memory.usage_in_bytes")))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            peak = (try? readTextFile(cg + (v2 ? "/memory.peak" : "/memory.max_usage_in_bytes")))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        lock.lock()
        defer { lock.unlock() }
        if let cpuNs, cpuNs > 0 { out.cpu.libvirtCpuTimeNs = cpuNs }
        if !balloon.isEmpty { out.memory.balloonKiB = balloon }
        if let qemuCpuMs { out.cpu.qemuCpuMs = qemuCpuMs }
        if let current, current > 0 { out.memory.cgroupCurrentBytes = current }
        if let peak, peak > 0 { out.memory.cgroupPeakBytes = max(peak, out.memory.cgroupPeakBytes ?? 0) }
    }

    func stop() {
        lock.lock()
        let wasRunning = running
        stopRequested = true
        running = false
        lock.unlock()
        if wasRunning { done.wait() }
    }

    func result() -> Output {
        lock.lock()
        defer { lock.unlock() }
        return out
    }

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
