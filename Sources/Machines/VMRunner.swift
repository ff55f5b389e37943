import CLibvirt
import CShim
import Foundation
import Logging
import Probes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How to boot one guest.
public struct VMConfig: Sendable {
    public var accel: Accel
    public var machine: DomainSpec.Machine
    public var memoryMiB: Int
    public var vcpus: Int
    /// From the launch call to the domain being destroyed if it has not powered off by itself.
    public var timeout: Duration
    /// Create paused (`VIR_DOMAIN_START_PAUSED`), then `virDomainResume`: records both phases.
    public var startPaused: Bool
    /// QEMU smaps_rollup sampling period.
    public var sampleInterval: Duration
    /// virtio memballoon with 1 s stats (pc/q35); nil: on except for microvm.
    public var balloon: Bool?
    public var cmdline: String
    /// The QEMU binary (domain XML `<emulator>`); nil: libvirt's choice for the arch.
    public var emulator: String?
    /// A NIC on `bridge`, which lives in the network namespace pinned at `networkNamespace`: the domain is
    /// created from a thread inside it, so libvirt makes the tap there and hands QEMU its descriptor.
    public var bridge: String?
    public var mac: String?
    public var cpuset: String?
    public var networkNamespace: String?
    /// A data volume: a raw disk file attached after the root disk with cache=none (the guest mounts it as its
    /// workload file says).
    public var dataDisk: String?
    /// Called on the console thread with the workload's output as it arrives (complete lines).
    public var onOutput: (@Sendable ([UInt8]) -> Void)?

    public init(
        accel: Accel = .tcg, machine: DomainSpec.Machine = .pc, memoryMiB: Int = 256, vcpus: Int = 1,
        timeout: Duration = .seconds(60), startPaused: Bool = false, sampleInterval: Duration = .milliseconds(20),
        balloon: Bool? = nil, cmdline: String = DomainSpec.defaultCmdline, emulator: String? = nil,
        onOutput: (@Sendable ([UInt8]) -> Void)? = nil
    ) {
        self.emulator = emulator
        self.onOutput = onOutput
        self.accel = accel
        self.machine = machine
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.timeout = timeout
        self.startPaused = startPaused
        self.sampleInterval = sampleInterval
        self.balloon = balloon
        self.cmdline = cmdline
    }
}

/// What boots a prepared guest and measures it: libvirt's runner today, QEMU driven directly next.
public protocol VMLauncher: Sendable {
    func runBlocking(_ artifacts: GuestArtifacts, config: VMConfig) throws(MachineError) -> VMRunResult
    /// Releases the launcher's connection (after every run has finished).
    func close()
    /// The management layer's version for provenance ("libvirt 9.0.0"); nil when it has none or cannot say.
    func managementVersion() -> String?
}

extension VMLauncher {
    public func managementVersion() -> String? { nil }
}

/// Boots guests through libvirt's C API (embedded QEMU driver by default) and measures them.
/// One connection per runner, opened on first use and kept until `close()`.
public final class VMRunner: VMLauncher, Sendable {
    public let uri: String
    public let paths: BoxbenchPaths
    public let logger: Logger?
    private let connection = Mutex<LibvirtConnection?>(nil)

    /// - Parameter uri: nil for `qemu:///embed?root=<BoxbenchPaths().libvirtEmbedRoot>`.
    public init(uri: String? = nil, paths: BoxbenchPaths = BoxbenchPaths(), logger: Logger? = nil) {
        self.uri = uri ?? LibvirtConnection.embedURI(root: paths.libvirtEmbedRoot)
        self.paths = paths
        self.logger = logger
        // QEMU is daemonized by libvirt and re-parented to us: reap it at once instead of waiting for PID 1.
        _ = cshim_set_child_subreaper()
    }

    deinit { close() }

    /// Closes the libvirt connection (after every run has finished).
    public func close() {
        let c = connection.withLock { c in
            defer { c = nil }
            return c
        }
        c?.close()
        QemuReaper.sweep()
    }

    /// libvirt's library version, from the connection the runs use.
    public func managementVersion() -> String? {
        guard let (c, _) = try? connect() else { return nil }
        return "libvirt \(c.libraryVersion)"
    }

    /// The open connection, opening it if needed; `opened` says whether this call opened it.
    func connect() throws(MachineError) -> (LibvirtConnection, opened: Bool) {
        try connection.withLock { (connection) throws(MachineError) -> (LibvirtConnection, opened: Bool) in
            if let connection { return (connection, false) }
            if uri.hasPrefix("qemu:///embed"), let r = uri.range(of: "root=") {
                let raw = String(uri[r.upperBound...].prefix { $0 != "&" })
                try LibvirtConnection.prepareEmbedRoot(raw.removingPercentEncoding ?? raw)
            }
            QemuReaper.acquire()
            defer { QemuReaper.release() }
            let c = try LibvirtConnection(uri: uri)
            connection = c
            return (c, true)
        }
    }

    /// Boots `artifacts` and waits for the guest to power off (or the timeout); off the cooperative pool.
    public func run(_ artifacts: GuestArtifacts, config: VMConfig) async throws(MachineError) -> VMRunResult {
        let result: Result<VMRunResult, MachineError> = await withCheckedContinuation { cont in
            let t = Thread { [self] in
                do throws(MachineError) {
                    cont.resume(returning: .success(try runBlocking(artifacts, config: config)))
                } catch {
                    cont.resume(returning: .failure(error))
                }
            }
            t.name = "boxbench-vm"
            t.start()
        }
        return try result.get()
    }

    /// Destroys every domain this process is running and waits (bounded) for their cleanup.
    /// For the CLI's SIGINT/SIGTERM handler; later runs fail with `.cancelled`.
    public static func cancelAll() { ActiveRuns.shared.cancelAll() }

    /// The synchronous run; call it from a thread you own, not from the cooperative pool.
    public func runBlocking(_ artifacts: GuestArtifacts, config: VMConfig) throws(MachineError) -> VMRunResult {
        let t0 = monotonicNanos()
        let active = ActiveRun()
        guard ActiveRuns.shared.add(active) else { throw .cancelled }
        defer { ActiveRuns.shared.remove(active) }
        QemuReaper.acquire()
        defer { QemuReaper.release() }

        var phases: [VMRunResult.Phase] = []
        func mark(_ name: String, _ ns: UInt64 = monotonicNanos()) {
            phases.append(.init(name: name, ms: Double(ns &- t0) / 1e6))
        }
        let (conn, opened) = try connect()
        if opened { mark("connected") }

        let name = DomainNames.next()
        let runDir = paths.run + "/vm/" + name
        try GuestArtifactBuilder.mkdirs(runDir)
        chmod(paths.run + "/vm", 0o755)
        chmod(runDir, 0o755)
        defer { GuestArtifactBuilder.removeTree(runDir) }

        // Serial console: FIFOs made first, read before QEMU exists.
        let console = try GuestConsole(runDir: runDir, config: config)
        let (fifo, sampler, reader) = (console.path, console.sampler, console.reader)

        let watch = LifecycleWatch(name: name)
        do { try watch.register(on: conn) } catch {
            _ = reader.stop()
            throw error
        }

        var spec = DomainSpec(
            name: name, type: config.accel.domainType, machine: config.machine, memoryMiB: config.memoryMiB,
            vcpus: config.vcpus, kernel: artifacts.kernel, initrd: artifacts.initrd, cmdline: config.cmdline,
            disk: artifacts.disk.map { DomainSpec.Disk(path: $0, transient: artifacts.guest == .fullOS) },
            serial: .pipe(path: fifo),
            balloon: (config.balloon ?? (config.machine != .microvm))
                ? .virtio(statsPeriod: 1) : DomainSpec.Balloon.none, emulator: config.emulator)
        spec.bridge = config.bridge
        spec.mac = config.mac
        spec.cpuset = config.cpuset
        spec.dataDisk = config.dataDisk.map {
            DomainSpec.Disk(path: $0, target: artifacts.disk == nil ? "vda" : "vdb", directIO: true)
        }

        var dom: LibvirtDomain?
        var failure: String?
        var timedOut = false
        var qemuPid: Int32?
        var launchError: MachineError?
        let deadline =
            t0 + UInt64(max(0, config.timeout.components.seconds)) * 1_000_000_000
            + UInt64(max(0, config.timeout.components.attoseconds / 1_000_000_000))

        do throws(MachineError) {
            let xml = try spec.xml()
            // Embedded drivers refuse AUTODESTROY (their domains die with the connection anyway).
            var flags: UInt32 = conn.embedRoot == nil ? UInt32(VIR_DOMAIN_START_AUTODESTROY.rawValue) : 0
            if config.startPaused { flags |= UInt32(VIR_DOMAIN_START_PAUSED.rawValue) }
            logger?.debug("virDomainCreateXML", metadata: ["name": "\(name)", "accel": "\(config.accel.rawValue)"])
            // libvirt's embedded driver makes the NIC's tap in the calling thread: that thread is in the bench
            // network for the call, so the tap (plugged into its bridge) never appears on the host.
            var savedNetns: Int32 = -1
            if let netns = config.networkNamespace {
                let rc = cshim_netns_enter(netns, &savedNetns)
                guard rc == 0 else { throw .system(operation: "enter network namespace \(netns)", errno: -rc) }
            }
            let created = bb_virDomainCreateXML(conn.ptr, xml, flags)
            if savedNetns >= 0, cshim_netns_leave(savedNetns) != 0 {
                fatalError("cannot return to the host's network namespace")
            }
            guard let d = created else {
                var e = conn.error("virDomainCreateXML \(name)")
                if case .libvirt(let op, let msg) = e, let log = conn.logFile(domain: name), let tail = Self.tail(log) {
                    e = .libvirt(operation: op, message: msg + "\nQEMU log:\n" + tail)
                }
                throw e
            }
            mark("create-returned")
            let domain = LibvirtDomain(ptr: d, conn: conn)
            dom = domain
            active.attach(domain)
            if let pidFile = conn.pidFile(domain: name),
                let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0
            {
                qemuPid = pid
                mark("qemu-alive")
            }
            sampler.start(pid: qemuPid, domain: domain)
            if config.startPaused {
                try domain.resume()
                mark("resume-returned")
            }
            // Wait for STOPPED, the timeout, or a cancel.
            while !watch.waitStopped(untilNs: min(deadline, monotonicNanos() + 100_000_000)) {
                if active.isCancelled || monotonicNanos() >= deadline { break }
            }
        } catch {
            launchError = error
        }

        // Teardown, on every path.
        if let domain = dom {
            if !watch.isStopped {
                if active.isCancelled {
                    failure = "cancelled"
                } else if launchError == nil {
                    timedOut = true
                    failure = "timed out after \(config.timeout): destroyed"
                }
                if domain.isActive {
                    do { try domain.destroy() } catch {
                        if domain.isActive { logger?.warning("\(error)") }
                    }
                }
                if !watch.waitStopped(untilNs: monotonicNanos() + 10_000_000_000), domain.isActive {
                    logger?.warning("domain \(name) still active 10 s after virDomainDestroy")
                } else {
                    watch.markStopped()
                }
            }
        }
        sampler.stop()
        if let pid = qemuPid { QemuReaper.reap(pid: pid, timeoutNs: 10_000_000_000) }
        if dom != nil { mark("domain-gone") }
        let transcript = reader.stop()
        watch.deregister(from: conn)
        if let d = dom { bb_virDomainFree(d.ptr) }
        active.detach()
        QemuReaper.sweep()
        if let launchError { throw launchError }

        // Assemble the result.
        var ordered = phases.filter { $0.name != "domain-gone" } + transcript.guestPhases(since: t0)
        if let gone = phases.first(where: { $0.name == "domain-gone" }) { ordered.append(gone) }

        if failure == nil && transcript.workloadExitNs == nil {
            if transcript.initNs == nil {
                failure = "guest stopped before reaching init"
            } else if transcript.workloadStartNs == nil {
                failure = "guest init stopped before starting the workload"
            } else {
                failure = "domain stopped before the workload reported its exit"
            }
        } else if let f = failure, transcript.initNs == nil, timedOut {
            failure = f + "; the guest did not reach init"
        }
        if !transcript.errors.isEmpty && failure != nil {
            failure! += "; guest errors: " + transcript.errors.joined(separator: "; ")
        }
        let samples = sampler.result()
        return VMRunResult(
            domainName: name, uri: conn.uri, accel: config.accel, machine: config.machine, rootfsMode: artifacts.mode,
            memoryMiB: config.memoryMiB, vcpus: config.vcpus, startPaused: config.startPaused,
            exitCode: transcript.exitStatus,
            exitSignal: transcript.exitSignal, output: String(decoding: transcript.output, as: UTF8.self),
            phases: ordered,
            lifecycle: watch.all.map { .init(name: lifecycleEventName($0.event), ms: Double($0.ns &- t0) / 1e6) },
            guestBootToInitMs: transcript.guestInitBootNs.map { Double($0) / 1e6 },
            guestWorkloadMs: transcript.guestWorkloadMs, memory: transcript.memory(samples.memory), cpu: samples.cpu,
            sizes: .init(artifacts), qemuPid: qemuPid, timedOut: timedOut, cancelled: active.isCancelled,
            failure: failure,
            guestErrors: transcript.errors, guestWarnings: transcript.warnings,
            consoleTail: failure == nil && transcript.exitCode == 0 ? nil : transcript.consoleTail())
    }

    static func tail(_ path: String, lines: Int = 12) -> String? {
        guard let t = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return t.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Unique per run: `boxbench-<pid>-<counter>-<random>`.
enum DomainNames {
    private static let counter = Counter()
    static func next() -> String {
        let r = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return OwnedName.domain.name(String(counter.next()), String(r))
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { v in
            v += 1
            return v
        }
    }
}

/// A run in progress, for cancelAll.
final class ActiveRun: Sendable {
    private struct State {
        var domain: LibvirtDomain?
        var cancelled = false
    }
    private let state = Mutex(State())
    let finished = DispatchSemaphore(value: 0)

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func attach(_ d: LibvirtDomain) {
        let cancelled = state.withLock {
            $0.domain = d
            return $0.cancelled
        }
        if cancelled { try? d.destroy() }
    }

    func detach() { state.withLock { $0.domain = nil } }

    func cancel() {
        let d = state.withLock {
            $0.cancelled = true
            return $0.domain
        }
        if let d, d.isActive { try? d.destroy() }
    }
}

final class ActiveRuns: Sendable {
    static let shared = ActiveRuns()
    private struct State {
        var runs: [ObjectIdentifier: ActiveRun] = [:]
        var cancelling = false
    }
    private let state = Mutex(State())

    func add(_ r: ActiveRun) -> Bool {
        state.withLock {
            if $0.cancelling { return false }
            $0.runs[ObjectIdentifier(r)] = r
            return true
        }
    }

    func remove(_ r: ActiveRun) {
        state.withLock { _ = $0.runs.removeValue(forKey: ObjectIdentifier(r)) }
        r.finished.signal()
    }

    /// Tests only: accept runs again after a cancelAll.
    func resetAfterCancel() { state.withLock { $0.cancelling = false } }

    func cancelAll() {
        let all = state.withLock {
            $0.cancelling = true
            return Array($0.runs.values)
        }
        for r in all { r.cancel() }
        // Each run destroys, waits for STOPPED, reaps QEMU and removes its files; give them 15 s.
        let deadline = DispatchTime.now() + .seconds(15)
        for r in all { _ = r.finished.wait(timeout: deadline) }
    }
}

/// Reaps QEMU processes re-parented to us (we are a child subreaper); never `waitpid(-1)`.
enum QemuReaper {
    /// Waits for `pid` to exit, reaping it if it is our zombie child.
    static func reap(pid: Int32, timeoutNs: UInt64) {
        let deadline = monotonicNanos() + timeoutNs
        while monotonicNanos() < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return }
            if r < 0 && errno == ECHILD {
                // Not our child (qemu:///system, or already reaped): wait for /proc to forget it.
                if kill(pid, 0) != 0 && errno == ESRCH { return }
            }
            usleep(5000)
        }
    }

    /// Reaps zombie children of ours whose command is qemu-* and that stayed zombie across two sweeps at least
    /// `graceNs` apart: libvirt waits for its own direct children (QEMU before `-daemonize` forks) at once, so
    /// what is still a zombie later is an orphan re-parented to us, which nobody else will reap.
    static func sweep(graceNs: UInt64 = 60_000_000) {
        let now = monotonicNanos()
        var zombies: Set<Int32> = []
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for t in tasks {
            guard let text = try? readTextFile("/proc/self/task/\(t)/children") else { continue }
            for field in text.split(separator: " ") {
                guard let pid = Int32(field.trimmingCharacters(in: .whitespacesAndNewlines)),
                    let st = try? readTextFile("/proc/\(pid)/stat"), let stat = try? ProcStat.parse(st),
                    stat.state == "Z", stat.comm.hasPrefix("qemu")
                else { continue }
                zombies.insert(pid)
            }
        }
        let ripe = seen.update(zombies, now: now, graceNs: graceNs)
        for pid in ripe {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }

    private static let seen = ZombieSightings()

    private static let service = ReaperService()
    /// Keeps a 10 ms reaping loop running while any connection opens or any run is active: libvirt waits for
    /// its QEMU children (capability probes, guests) to vanish, and as their subreaper we must reap them.
    static func acquire() { service.acquire() }
    static func release() { service.release() }

    /// Zombie check for one pid (cheap: one small procfs read).
    static func isZombie(_ pid: Int32) -> Bool {
        guard let text = try? readTextFile("/proc/\(pid)/stat"), let s = try? ProcStat.parse(text) else { return false }
        return s.state == "Z"
    }
}

final class ReaperService: Sendable {
    private struct State {
        var users = 0
        var running = false
    }
    private let state = Mutex(State())

    func acquire() {
        let start = state.withLock { s in
            s.users += 1
            let wasRunning = s.running
            s.running = true
            return !wasRunning
        }
        guard start else { return }
        let t = Thread { [self] in
            while true {
                QemuReaper.sweep()
                let done = state.withLock {
                    if $0.users == 0 { $0.running = false }
                    return !$0.running
                }
                if done { return }
                usleep(20_000)
            }
        }
        t.name = "boxbench-reaper"
        t.start()
    }

    func release() { state.withLock { $0.users -= 1 } }
}

/// When each zombie was first seen, to tell orphans (ours to reap) from children libvirt is about to wait for.
final class ZombieSightings: Sendable {
    private let firstSeen = Mutex<[Int32: UInt64]>([:])

    func update(_ zombies: Set<Int32>, now: UInt64, graceNs: UInt64) -> [Int32] {
        firstSeen.withLock { firstSeen in
            firstSeen = firstSeen.filter { zombies.contains($0.key) }
            var ripe: [Int32] = []
            for z in zombies {
                if let t = firstSeen[z] {
                    if now - t >= graceNs { ripe.append(z) }
                } else {
                    firstSeen[z] = now
                }
            }
            return ripe
        }
    }
}
