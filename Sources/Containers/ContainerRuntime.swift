import CShim
import Foundation
import Logging
import Probes
import Synchronization

/// Layers mounted as the container's root: lowerdirs top-most first; upper/work nil ⇒ per-container dirs.
public struct OverlayRootfs: Sendable, Equatable {
    public var lowerDirs: [String]
    public var upperDir: String?
    public var workDir: String?
    public init(lowerDirs: [String], upperDir: String? = nil, workDir: String? = nil) {
        self.lowerDirs = lowerDirs
        self.upperDir = upperDir
        self.workDir = workDir
    }
}

/// Where the container's stdio goes.
public enum ContainerIO: Sendable {
    /// Pipes read by the runtime; output returned in the result with the first byte's timestamp.
    case capture
    /// The given host fds are handed to the container as 0, 1, 2 (-1 ⇒ /dev/null).
    case inherit(stdin: Int32, stdout: Int32, stderr: Int32)
}

/// OCI hooks in the runtime-spec lifecycle. The child stops before pivot_root while `runtimeHooks` runs the
/// runtime-namespace ones (prestart, createRuntime) with its host pid; then the child itself runs createContainer
/// (container namespaces, before pivot_root) and, once started, startContainer (inside the rootfs, right before
/// exec), each with the OCI state on stdin: `statePrefix` + host pid + the creating / created suffix.
public struct ContainerHooks: Sendable {
    public var createContainer: [RuntimeSpec.Hook]
    public var startContainer: [RuntimeSpec.Hook]
    public var statePrefix: String
    public var creatingSuffix: String
    public var createdSuffix: String
    public var runtimeHooks: @Sendable (pid_t) throws -> Void

}

public struct ContainerRequest: Sendable {
    public var id: String
    public var bundle: String
    public var spec: RuntimeSpec
    public var overlay: OverlayRootfs?
    public var io: ContainerIO
    public var timeout: Duration?
    /// Extra limits on top of `linux.resources` (the harness sets them per suite).
    public var limitsOverride: CgroupLimits?
    /// OCI CLI create/start: the created process blocks opening `<state>/exec.fifo` until `start` reads it,
    /// so the waiting container outlives the `create` command.
    public var useExecFifo = false
    /// OCI hooks around create and start (the OCI CLI sets them; the harness does not).
    public var hooks: ContainerHooks?

    public init(
        id: String, bundle: String, spec: RuntimeSpec, overlay: OverlayRootfs? = nil, io: ContainerIO = .capture,
        timeout: Duration? = nil, limitsOverride: CgroupLimits? = nil
    ) {
        self.id = id
        self.bundle = bundle
        self.spec = spec
        self.overlay = overlay
        self.io = io
        self.timeout = timeout
        self.limitsOverride = limitsOverride
    }
}

public enum ContainerExit: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// Shell convention: 128 + signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let c): c
        case .signaled(let s): 128 + s
        }
    }
}

public struct ContainerResult: Sendable {
    public var exit: ContainerExit
    public var oomKilled: Bool
    public var timedOut: Bool
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Host monotonic ns from the launch call.
    public var createdNs: UInt64
    public var firstOutputNs: UInt64?
    public var exitNs: UInt64
    public var stats: CgroupStats
    public var maxRSSKilobytes: Int

    public var status: String {
        if timedOut { return "timeout" }
        if oomKilled { return "oom-killed" }
        switch exit {
        case .exited(let c): return "exited \(c)"
        case .signaled(let s): return "killed by signal \(s)"
        }
    }
}

public struct ContainerError: Error, CustomStringConvertible {
    public var id: String
    public var operation: String
    public var detail: String
    public var errno: Int32?
    public init(id: String, operation: String, detail: String, errno: Int32? = nil) {
        self.id = id
        self.operation = operation
        self.detail = detail
        self.errno = errno
    }
    public var description: String {
        var s = "container \(id): \(operation)"
        if !detail.isEmpty { s += " \(detail)" }
        if let errno { s += ": \(String(cString: strerror(errno))) (errno \(errno))" }
        return s
    }
}

/// boxbench's own OCI runtime: spec → cgroup → clone (C) → wait, and teardown on every path.
/// Makes the cgroup manager of a container's group: the real v1/v2 managers by default, a fake in tests that
/// exercise the runtime's cgroup handling without root.
public typealias CgroupManagerFactory = @Sendable (_ name: String, _ layout: CgroupLayout) -> any CgroupManager

public final class ContainerRuntime: Sendable {
    public let stateRoot: String
    let layout: CgroupLayout
    let logger: Logger?
    let filterCache: FilterCache
    let cgroups: CgroupManagerFactory

    public init(
        stateRoot: String = BoxbenchPaths.current().containers, layout: CgroupLayout = .detect(), logger: Logger? = nil,
        cgroups: @escaping CgroupManagerFactory = { makeCgroupManager(name: $0, layout: $1) },
        seccompStore: SeccompFilterStore? = SeccompFilterStore(directory: BoxbenchPaths.current().seccompFilters)
    ) {
        self.stateRoot = stateRoot
        filterCache = FilterCache(store: seccompStore)
        self.layout = layout
        self.logger = logger
        self.cgroups = cgroups
    }

    /// Runs a container to completion (or timeout) and tears everything down.
    public func run(_ request: ContainerRequest) throws(ContainerError) -> ContainerResult {
        let t0 = monotonicNanos()
        let created = try create(request, launchedAt: t0, waitForStart: false)
        return created.wait(timeout: request.timeout)
    }

    /// Sets everything up; with `waitForStart` the process waits before exec until `start()`.
    public func create(_ request: ContainerRequest, launchedAt t0: UInt64 = monotonicNanos(), waitForStart: Bool)
        throws(ContainerError) -> CreatedContainer
    {
        let id = request.id
        guard Self.isValidID(id) else {
            throw ContainerError(id: id, operation: "validate id", detail: "must be [A-Za-z0-9_.-]{1,64}")
        }
        // Held until the container's cgroup and pid are recorded, so cancelAll never sees it half made.
        guard Self.gate.enter() else {
            throw ContainerError(id: id, operation: "create", detail: "cancelled (SIGINT/SIGTERM)")
        }
        defer { Self.gate.leave() }
        let stateDir = "\(stateRoot)/\(id)"
        guard makeDirectories(stateRoot) else {
            throw ContainerError(id: id, operation: "create state root", detail: stateRoot, errno: errno)
        }
        // Upper dirs of running containers hold whatever they wrote, setuid files included: root only.
        chmod(stateRoot, 0o700)
        if mkdir(stateDir, 0o700) != 0 {
            throw ContainerError(
                id: id, operation: "create state dir", detail: errno == EEXIST ? "\(stateDir) (id in use)" : stateDir,
                errno: errno)
        }
        let cleanup = Teardown(id: id, stateDir: stateDir)
        do {
            let container = try createInside(
                request, stateDir: stateDir, t0: t0, waitForStart: waitForStart, cleanup: cleanup)
            return container
        } catch {
            cleanup.run()
            throw error
        }
    }

    private func createInside(
        _ request: ContainerRequest, stateDir: String, t0: UInt64, waitForStart: Bool, cleanup: Teardown
    ) throws(ContainerError) -> CreatedContainer {
        let id = request.id
        let spec = request.spec
        guard let process = spec.process, let root = spec.root else {
            throw ContainerError(id: id, operation: "validate spec", detail: "process and root are required")
        }
        let rootPath = root.path.hasPrefix("/") ? root.path : "\(request.bundle)/\(root.path)"
        var overlayLower: String?
        var overlayUpper: String?
        var overlayWork: String?
        if let overlay = request.overlay {
            guard !overlay.lowerDirs.isEmpty else {
                throw ContainerError(id: id, operation: "mount overlay", detail: "no lower layers")
            }
            overlayLower = overlay.lowerDirs.joined(separator: ":")
            overlayUpper = overlay.upperDir ?? "\(stateDir)/upper"
            overlayWork = overlay.workDir ?? "\(stateDir)/work"
            for dir in [overlayUpper!, overlayWork!] where mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw ContainerError(id: id, operation: "create overlay dir", detail: dir, errno: errno)
            }
            if mkdir(rootPath, 0o755) != 0 && errno != EEXIST {
                throw ContainerError(id: id, operation: "create rootfs mount point", detail: rootPath, errno: errno)
            }
        }
        var rootStat = stat()
        guard stat(rootPath, &rootStat) == 0, rootStat.st_mode & S_IFMT == S_IFDIR else {
            throw ContainerError(id: id, operation: "find rootfs", detail: rootPath, errno: ENOENT)
        }

        // cgroup
        let cgroupName = Self.cgroupName(spec: spec, id: id)
        let cgroup = cgroups(cgroupName, layout)
        // Teardown kills every member: never adopt a group that already holds someone else's processes. Checked
        // before creating anything, so a refusal leaves no directory behind.
        if let busy = cgroup.busyMember() {
            throw ContainerError(
                id: id, operation: "cgroup", detail: "\(busy) already has processes (cgroupsPath in use)",
                errno: EBUSY)
        }
        do { try cgroup.create() } catch {
            throw ContainerError(id: id, operation: "cgroup", detail: error.description)
        }
        cleanup.cgroup = cgroup
        do {
            try cgroup.apply(request.limitsOverride ?? CgroupLimits(spec.linux?.resources))
            try cgroup.applyDevices(DeviceRules.forContainer(spec.linux?.resources))
        } catch {
            // A field this host cannot apply is the bundle's problem (ENOTSUP), not a failed operation.
            throw ContainerError(
                id: id, operation: "cgroup", detail: error.description, errno: error.field == nil ? nil : ENOTSUP)
        }

        let filter: SeccompFilter?
        if let seccomp = spec.linux?.seccomp {
            do { filter = try filterCache.filter(for: seccomp) } catch {
                throw ContainerError(id: id, operation: "compile seccomp", detail: error.description)
            }
        } else {
            filter = nil
        }

        // stdio
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        var stdinFd: Int32 = -1
        var stdoutFd: Int32 = -1
        var stderrFd: Int32 = -1
        switch request.io {
        case .capture:
            for _ in 0..<2 {
                var fds: [Int32] = [0, 0]
                guard cshim_pipe_cloexec(&fds) == 0 else {
                    (parentEnds + childEnds).forEach { close($0) }
                    throw ContainerError(id: id, operation: "pipe", detail: "", errno: errno)
                }
                parentEnds.append(fds[0])
                childEnds.append(fds[1])
            }
            stdoutFd = childEnds[0]
            stderrFd = childEnds[1]
        case .inherit(let i, let o, let e):
            stdinFd = i
            stdoutFd = o
            stderrFd = e
        }
        var startPipe: [Int32] = [-1, -1]
        let execFifo = request.useExecFifo ? "\(stateDir)/exec.fifo" : nil
        if let execFifo, mkfifo(execFifo, 0o600) != 0 {
            throw ContainerError(id: id, operation: "mkfifo", detail: execFifo, errno: errno)
        }
        // In a user namespace the process opening the FIFO is the container's root, a different host uid (runc
        // chowns its FIFO the same way).
        if let execFifo, let root = Self.hostIDs(ofContainerRootIn: spec), chown(execFifo, root.uid, root.gid) != 0 {
            throw ContainerError(id: id, operation: "chown exec fifo", detail: execFifo, errno: errno)
        }
        if waitForStart && execFifo == nil {
            guard cshim_pipe_cloexec(&startPipe) == 0 else {
                (parentEnds + childEnds).forEach { close($0) }
                throw ContainerError(id: id, operation: "pipe", detail: "start gate", errno: errno)
            }
        }

        let plan = ChildPlan(
            spec: spec, process: process, rootfs: rootPath, readonly: root.readonly == true,
            overlay: overlayLower.map { ($0, overlayUpper!, overlayWork!) },
            mounts: try translateMounts(spec.mounts ?? [], bundle: request.bundle, id: id))
        let joinNetwork = plan.joinNetwork
        let join = cgroup.join
        // If the directory cannot be opened the parent writes cgroup.procs instead (the slow path).
        let cloneIntoFd = join.cloneInto.map { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
        defer { if cloneIntoFd >= 0 { close(cloneIntoFd) } }
        let hooks = request.hooks
        var paused = cshim_paused(report_fd: -1, go_fd: -1)
        var spawnError = cshim_spawn_error()
        // The network namespace is per thread: this thread is in the joined one for the clone only.
        var savedNetns: Int32 = -1
        if let joinNetwork {
            let rc = cshim_netns_enter(joinNetwork, &savedNetns)
            guard rc == 0 else {
                throw ContainerError(id: id, operation: "join network namespace", detail: joinNetwork, errno: -rc)
            }
        }
        var pid: pid_t = plan.withConfig { config, strings in
            config.cgroup_join_paths = strings.string(join.selfJoin.joined(separator: "\n"))
            config.cgroup_fd = cloneIntoFd
            config.cgroup_procs_paths = strings.string(join.cloneInto.map { $0 + "/cgroup.procs" })
            config.stdin_fd = stdinFd
            config.stdout_fd = stdoutFd
            config.stderr_fd = stderrFd
            config.exec_fifo = strings.string(execFifo)
            config.start_fd = startPipe[0]
            func cHooks(_ list: [RuntimeSpec.Hook]) -> [cshim_hook] {
                list.map { h in
                    cshim_hook(
                        path: strings.string(h.path), argv: strings.array(h.args ?? [h.path]),
                        envp: strings.array(h.env ?? []),
                        timeout_s: Int32(clamping: h.timeout ?? OCIHookDefaults.timeout))
                }
            }
            let createHooks = cHooks(hooks?.createContainer ?? [])
            let startHooks = cHooks(hooks?.startContainer ?? [])
            config.hook_state_prefix = strings.string(hooks?.statePrefix)
            config.hook_state_creating_suffix = strings.string(hooks?.creatingSuffix)
            config.hook_state_created_suffix = strings.string(hooks?.createdSuffix)
            return withUnsafeMutablePointer(to: &paused) { pausedPtr in
                createHooks.withUnsafeBufferPointer { createBuf in
                    startHooks.withUnsafeBufferPointer { startBuf in
                        (filter?.bytes ?? []).withUnsafeBytes { bpf in
                            config.seccomp_filter = filter == nil ? nil : bpf.baseAddress
                            config.seccomp_filter_len = filter == nil ? 0 : bpf.count
                            config.paused = hooks == nil ? nil : pausedPtr
                            config.create_container_hooks = createBuf.baseAddress
                            config.n_create_container_hooks = createBuf.count
                            config.start_container_hooks = startBuf.baseAddress
                            config.n_start_container_hooks = startBuf.count
                            return cshim_container_spawn(&config, &spawnError)
                        }
                    }
                }
            }
        }
        if savedNetns >= 0, cshim_netns_leave(savedNetns) != 0 {
            fatalError("cannot return to the host's network namespace")
        }
        var hookFailure: (any Error)?
        if pid > 0, let hooks, spawnError.step == Int32(CSHIM_STEP_PAUSED.rawValue) {
            // Paused before pivot_root: the runtime-namespace hooks run now, then the child goes on. On failure the
            // caller's teardown kills the child (cleanup.pid) and removes its cgroup.
            cleanup.pid = pid
            do { try hooks.runtimeHooks(pid) } catch { hookFailure = error }
            if hookFailure != nil {
                cshim_container_abandon(&paused)
            } else if cshim_container_continue(&paused, pid, &spawnError) != 0 {
                cleanup.pid = 0
                pid = -1
            }
        }
        childEnds.forEach { close($0) }
        if startPipe[0] >= 0 { close(startPipe[0]) }
        if pid < 0 || hookFailure != nil {
            parentEnds.forEach { close($0) }
            if startPipe[1] >= 0 { close(startPipe[1]) }
            if let hookFailure {
                throw ContainerError(id: id, operation: "runtime hooks", detail: "\(hookFailure)")
            }
            let detail = withUnsafeBytes(of: spawnError.detail) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            // errno 0: the step failed without a system error (a hook's own exit status is in the detail).
            throw ContainerError(
                id: id, operation: String(cString: cshim_step_name(spawnError.step)), detail: detail,
                errno: spawnError.err == 0 ? nil : spawnError.err)
        }
        let createdNs = monotonicNanos() - t0
        cleanup.pid = pid
        logger?.debug("container created", metadata: ["id": "\(id)", "pid": "\(pid)", "cgroup": "\(cgroupName)"])
        return CreatedContainer(
            id: id, pid: pid, cgroup: cgroup, t0: t0, createdNs: createdNs,
            outputFds: parentEnds, startFd: startPipe[1], teardown: cleanup)
    }

    /// The host uid and gid container root maps to when the spec has a user namespace, else nil.
    static func hostIDs(ofContainerRootIn spec: RuntimeSpec) -> (uid: uid_t, gid: gid_t)? {
        guard spec.linux?.namespaces?.contains(where: { $0.type == "user" }) == true else { return nil }
        func host(_ maps: [RuntimeSpec.IDMapping]?) -> UInt32? {
            maps?.first { $0.containerID == 0 && $0.size > 0 }.map(\.hostID)
        }
        guard let uid = host(spec.linux?.uidMappings) else { return nil }
        return (uid, host(spec.linux?.gidMappings) ?? uid)
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id != "." && id != ".."
            && id.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
                    || c == 0x5F
                    || c == 0x2E
            }
    }

    static func cgroupName(spec: RuntimeSpec, id: String) -> String {
        if let path = spec.linux?.cgroupsPath, !path.isEmpty, !path.contains(":"),
            !path.split(separator: "/").contains("..")
        {
            return path.split(separator: "/").joined(separator: "/")
        }
        return "boxbench/\(id)"
    }

    func translateMounts(_ mounts: [RuntimeSpec.Mount], bundle: String, id: String) throws(ContainerError)
        -> [ChildPlan.Mount]
    {
        var out: [ChildPlan.Mount] = []
        for (i, m) in mounts.enumerated() {
            let opts = MountOptions(m.options ?? [])
            var type = m.type
            var source = m.source
            var isFile = false
            let isBind = opts.flags & UInt(MS_BIND) != 0 || type == "bind"
            if type == "cgroup" || type == "cgroup2" {
                throw ContainerError(id: id, operation: "mounts[\(i)]", detail: "type \(type!) is not supported")
            }
            if isBind {
                type = nil
                if let s = source, !s.hasPrefix("/") { source = "\(bundle)/\(s)" }
                var st = stat()
                guard let s = source, stat(s, &st) == 0 else {
                    throw ContainerError(
                        id: id, operation: "mounts[\(i)] bind source", detail: source ?? "(none)", errno: errno)
                }
                isFile = (st.st_mode & S_IFMT) != S_IFDIR
            }
            out.append(
                ChildPlan.Mount(
                    source: source ?? type, target: m.destination, fstype: type,
                    flags: opts.flags | (isBind ? UInt(MS_BIND) : 0), data: opts.data.isEmpty ? nil : opts.data,
                    propagation: opts.propagation, isFile: isFile))
        }
        return out
    }

    // MARK: - cancellation (SIGINT, SIGTERM)

    /// Kills and tears down every container this process created and has not cleaned up yet. Waits for
    /// creations in flight to finish first (a signal landing between cgroup creation and spawn used to leave
    /// the new container running after exit); creations after this call fail with "cancelled".
    public static func cancelAll() {
        gate.cancel {
            for teardown in Teardown.registry.all() {
                teardown.cgroup?.killAll()
                teardown.run()
            }
            RunMounts.unmountAll()
        }
    }

    static let gate = CreateGate()
}

/// Creations hold it shared, cancellation exclusively; once cancelled it stays closed.
final class CreateGate: Sendable {
    private let state = Mutex<(inFlight: Int, cancelled: Bool)>((0, false))

    func enter() -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.inFlight += 1
            return true
        }
    }

    func leave() { state.withLock { $0.inFlight -= 1 } }

    /// Refuses new creations, waits for those in flight (a signal landing between cgroup creation and spawn must
    /// not leave a container running after exit), then runs `body`.
    func cancel(_ body: () -> Void) {
        state.withLock { $0.cancelled = true }
        while state.withLock({ $0.inFlight }) > 0 { usleep(1_000) }
        body()
    }
}

/// Caches compiled seccomp programs per profile: in memory for this process and, with a store, on disk for the
/// next command (compiling costs ~1 ms, loading is free).
final class FilterCache: Sendable {
    private struct Entry {
        let spec: RuntimeSpec.Seccomp
        let filter: SeccompFilter
    }
    /// Searched in order by the profile itself (a run has one profile or a few): a Dictionary's first use cost a
    /// one-shot command ~0.9 M instructions of generic set-up, and the store's key text is built only on a miss.
    private let cache = Mutex<[Entry]>([])
    let store: SeccompFilterStore?

    init(store: SeccompFilterStore? = nil) {
        self.store = store
    }

    func filter(for spec: RuntimeSpec.Seccomp) throws(SeccompError) -> SeccompFilter {
        if let f = cache.withLock({ $0.first { $0.spec == spec }?.filter }) { return f }
        let key = SeccompFilterStore.key(spec)
        let f: SeccompFilter
        if let stored = store?.load(key: key) {
            f = stored
        } else {
            f = try SeccompProfile.compile(spec)
            store?.save(key: key, filter: f)
        }
        cache.withLock { $0.append(Entry(spec: spec, filter: f)) }
        return f
    }
}

/// C strings that must outlive one spawn call.
struct CStringArena {
    private var owned: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []

    mutating func string(_ s: String?) -> UnsafePointer<CChar>? {
        guard let s else { return nil }
        let p = strdup(s)!
        owned.append(p)
        return UnsafePointer(p)
    }

    mutating func array(_ list: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: list.count + 1)
        for (i, s) in list.enumerated() {
            let p = strdup(s)!
            owned.append(p)
            a[i] = p
        }
        a[list.count] = nil
        arrays.append(a)
        return UnsafePointer(a)
    }

    func free() {
        owned.forEach { Glibc.free($0) }
        arrays.forEach { $0.deallocate() }
    }
}

/// Roots mounted in the host's namespace for one run (the native and peer arms' overlays of the image's layers):
/// registered so SIGINT/SIGTERM unmounts them (`ContainerRuntime.cancelAll`), and refused once cancellation began,
/// so a run the main thread starts while the handler cleans up cannot leave one behind.
public enum RunMounts {
    static let mounted = Mutex<Set<String>>([])

    /// Runs `mount` (which mounts at `root`) unless cancelling, and registers `root`; throws when cancelled.
    public static func mount(at root: String, _ mount: () throws -> Void) throws {
        guard ContainerRuntime.gate.enter() else {
            throw ContainerError(id: root, operation: "mount", detail: "cancelled (SIGINT/SIGTERM)")
        }
        defer { ContainerRuntime.gate.leave() }
        mounted.withLock { _ = $0.insert(root) }
        do { try mount() } catch {
            mounted.withLock { _ = $0.remove(root) }
            throw error
        }
    }

    /// Lazily unmounts `root` (and everything below it) and forgets it.
    public static func unmount(_ root: String) {
        umount2(root, Int32(MNT_DETACH))
        mounted.withLock { _ = $0.remove(root) }
    }

    static func unmountAll() {
        for root in mounted.withLock({ Array($0) }) { unmount(root) }
    }
}
