import CShim
import Foundation
import Probes

/// The OCI runtime command line's state: one directory per container under a root, a lock, and
/// state.json holding the OCI state plus what `delete` needs.
public struct OCIState: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var status: String
    public var pid: Int32
    public var bundle: String
    public var annotations: [String: String]?
    // boxbench's own bookkeeping (not printed by `state`).
    public var created: String?
    public var cgroup: String?
    public var startTimeTicks: UInt64?
    /// The poststart and poststop hooks of config.json as it was at create: `start` and `delete` run them without
    /// parsing config.json again (runc keeps its config in its state for the same reason).
    public var poststart: [RuntimeSpec.Hook]?
    public var poststop: [RuntimeSpec.Hook]?

    /// `ociJSON()` split around the pid, for hooks run by the container's own process (only it knows when its pid
    /// is final): prefix + pid + suffix, with the status "creating" or "created".
    public func ociJSONAroundPid() -> (prefix: String, creatingSuffix: String, createdSuffix: String) {
        var probe = self
        probe.pid = Int32.min
        probe.status = "creating"
        let json = String(decoding: probe.ociJSON(), as: UTF8.self)
        // Keys are sorted and strings escaped, so this unquoted key/value pair occurs once.
        let marker = "\"pid\" : \(Int32.min)"
        guard let r = json.range(of: marker) else {
            preconditionFailure("OCI state JSON without its pid field: \(json)")
        }
        let prefix = String(json[..<r.lowerBound]) + "\"pid\" : "
        let suffix = String(json[r.upperBound...])
        let created = suffix.replacingOccurrences(of: "\"status\" : \"creating\"", with: "\"status\" : \"created\"")
        return (prefix, suffix, created)
    }

    /// Only the fields the runtime spec defines, as `state` prints them (sorted keys, indented).
    public func ociJSON() -> Data {
        var w = JSONWriter(pretty: true)
        w.open()
        if let annotations { w.stringMap("annotations", annotations) }
        w.string("bundle", bundle)
        w.string("id", id)
        w.string("ociVersion", ociVersion)
        w.value("pid", raw: "\(pid)")
        w.string("status", status)
        w.close()
        return Data(w.bytes)
    }

    /// state.json: every field, written and read by hand (JSONEncoder/JSONDecoder cost each lifecycle command
    /// more than the rest of its work in conformance lookups).
    func stateJSON() -> [UInt8] {
        var w = JSONWriter(pretty: false)
        w.open()
        w.string("ociVersion", ociVersion)
        w.string("id", id)
        w.string("status", status)
        w.value("pid", raw: "\(pid)")
        w.string("bundle", bundle)
        if let annotations { w.stringMap("annotations", annotations) }
        if let created { w.string("created", created) }
        if let cgroup { w.string("cgroup", cgroup) }
        if let startTimeTicks { w.value("startTimeTicks", raw: "\(startTimeTicks)") }
        for (key, hooks) in [("poststart", poststart), ("poststop", poststop)] {
            guard let hooks else { continue }
            w.open(key, array: true)
            for hook in hooks {
                w.open()
                w.string("path", hook.path)
                if let args = hook.args { w.strings("args", args) }
                if let env = hook.env { w.strings("env", env) }
                if let timeout = hook.timeout { w.value("timeout", raw: "\(timeout)") }
                w.close()
            }
            w.close(array: true)
        }
        w.close()
        return w.bytes
    }

    static func decode(state bytes: [UInt8], file: String) throws(SpecError) -> OCIState {
        try SpecJSON.withRoot(bytes, file: file) { root throws(SpecError) in
            let o = try root.object()
            return OCIState(
                ociVersion: try o.required("ociVersion").string(), id: try o.required("id").string(),
                status: try o.required("status").string(), pid: try o.required("pid").integer(Int32.self),
                bundle: try o.required("bundle").string(), annotations: try o["annotations"]?.stringMap(),
                created: try o.string("created"), cgroup: try o.string("cgroup"),
                startTimeTicks: try o.integer("startTimeTicks", UInt64.self),
                poststart: try o.objects("poststart", known: "hooks.*[]", RuntimeSpec.Hook.init),
                poststop: try o.objects("poststop", known: "hooks.*[]", RuntimeSpec.Hook.init))
        }
    }
}

/// A hook without `timeout` is killed after this many seconds, wherever it runs (the spec sets no default; a hook
/// that hangs would otherwise hold the container's lock forever).
enum OCIHookDefaults {
    static let timeout = 30
}

public struct OCIRuntimeError: Error, CustomStringConvertible {
    public var message: String
    /// The bundle or the request is wrong (exit status 2), not the operation.
    public var isBadInput: Bool
    public init(_ message: String, badInput: Bool = false) {
        self.message = message
        self.isBadInput = badInput
    }
    public var description: String { message }
}

/// How long a command waits for what it depends on before it gives up with an error naming it.
public enum OCIWaitLimits {
    /// Another command holding the container's lock.
    public static let lock: Duration = .seconds(10)
    /// `start` waiting for the created process to reach exec.
    public static let start: Duration = .seconds(30)
}

public final class OCIRuntime: Sendable {
    public let root: String
    /// Only `create` and `run` need it (it detects the cgroup layout).
    var runtime: ContainerRuntime { ContainerRuntime(stateRoot: root) }

    public init(root: String) {
        self.root = root
    }

    func dir(_ id: String) -> String { "\(root)/\(id)" }

    /// flock on `<root>/<id>.lock`: concurrent commands on one id serialize. Only `create` makes a lock for an id
    /// that has no container (`mustExist: false`); the wait is bounded (OCIWaitLimits.lock).
    func withLock<T>(_ id: String, mustExist: Bool = true, _ body: () throws -> T) throws -> T {
        guard ContainerRuntime.isValidID(id) else {
            throw OCIRuntimeError("invalid container id \"\(id)\"", badInput: true)
        }
        let lockPath = "\(root)/\(id).lock"
        if mustExist && !pathExists(dir(id)) {
            removeStaleLock(lockPath, id: id)
            throw OCIRuntimeError("container \"\(id)\" does not exist")
        }
        guard makeDirectories(root) else {
            throw OCIRuntimeError("create \(root): \(String(cString: strerror(errno)))")
        }
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw OCIRuntimeError("open lock \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let deadline = monotonicNanos() + UInt64(OCIWaitLimits.lock.components.seconds) * 1_000_000_000
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw OCIRuntimeError("flock \(lockPath): \(String(cString: strerror(errno)))")
            }
            if monotonicNanos() > deadline {
                throw OCIRuntimeError(
                    "timed out after \(OCIWaitLimits.lock.components.seconds) s waiting for the lock \(lockPath) "
                        + "(another command on container \(id) holds it)")
            }
            usleep(5000)
        }
        return try body()
    }

    /// A lock file without a container (a `create` killed before it made the state dir): removed while held, so a
    /// create that has just taken it keeps it.
    func removeStaleLock(_ lockPath: String, id: String) {
        let fd = open(lockPath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 && !pathExists(dir(id)) { unlink(lockPath) }
    }

    func readState(_ id: String) throws -> OCIState {
        let path = "\(dir(id))/state.json"
        guard let bytes = try? readFileBytes(path), let state = try? OCIState.decode(state: bytes, file: path) else {
            throw OCIRuntimeError("container \"\(id)\" does not exist")
        }
        return state
    }

    func writeState(_ state: OCIState) throws {
        let path = "\(dir(state.id))/state.json"
        guard writeFileAtomically(path, state.stateJSON()) else {
            throw OCIRuntimeError("write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Status from the live process: a pid can be reused, so its start time must match too.
    public func liveStatus(_ state: OCIState) -> String {
        guard state.pid > 0, let text = try? readTextFile("/proc/\(state.pid)/stat"),
            let stat = try? ProcStat.parse(text),
            stat.state != "Z", state.startTimeTicks == nil || stat.startTimeTicks == state.startTimeTicks
        else { return "stopped" }
        if pathExists("\(dir(state.id))/exec.fifo") { return "created" }
        return "running"
    }

    public func state(_ id: String) throws -> OCIState {
        var s = try readState(id)
        s.status = liveStatus(s)
        return s
    }

    /// `run`: create, start and wait in one command, no state kept; the container's pid into `pidFile` once it runs
    /// (as runc; it may already have exited).
    public func run(id: String, bundle: String, pidFile: String?) throws -> ContainerResult {
        let (bundlePath, spec) = try loadBundle(bundle)
        let request = ContainerRequest(
            id: id, bundle: bundlePath, spec: spec, io: .inherit(stdin: 0, stdout: 1, stderr: 2))
        let created = try runtime.create(request, waitForStart: false)
        try writePidFile(pidFile, of: created)
        return created.wait(timeout: request.timeout)
    }

    /// The bundle's absolute path and its config.json; a config that cannot be used is the caller's input (exit 2).
    private func loadBundle(_ bundle: String) throws -> (path: String, spec: RuntimeSpec) {
        let path = absolutePath(bundle)
        do { return (path, try RuntimeSpec.load(bundle: path)) } catch {
            throw OCIRuntimeError(error.description, badInput: true)
        }
    }

    /// runc's `--pid-file`: the container's pid, or the container destroyed and the errno of the write reported.
    private func writePidFile(_ pidFile: String?, of created: CreatedContainer) throws {
        guard let pidFile, !writeFileAtomically(pidFile, Array("\(created.pid)".utf8)) else { return }
        let cause = String(cString: strerror(errno))
        created.destroy()
        throw OCIRuntimeError("write pid file \(pidFile): \(cause)")
    }

    public func create(id: String, bundle: String, pidFile: String?) throws {
        let (bundlePath, spec) = try loadBundle(bundle)
        try withLock(id, mustExist: false) {
            if pathExists(dir(id)) {
                throw OCIRuntimeError("container with id \"\(id)\" already exists")
            }
            // A create that fails leaves no lock file behind for an id that has no container.
            defer { if !pathExists(dir(id)) { unlink("\(root)/\(id).lock") } }
            let request = ContainerRequest(
                id: id, bundle: bundlePath, spec: spec, io: .inherit(stdin: 0, stdout: 1, stderr: 2))
            var req = request
            req.useExecFifo = true
            let creating = OCIState(
                ociVersion: "1.0.2", id: id, status: "creating", pid: 0, bundle: bundlePath,
                annotations: spec.annotations)
            if let hooks = spec.hooks {
                let pieces = creating.ociJSONAroundPid()
                req.hooks = ContainerHooks(
                    createContainer: hooks.createContainer ?? [], startContainer: hooks.startContainer ?? [],
                    statePrefix: pieces.prefix, creatingSuffix: pieces.creatingSuffix,
                    createdSuffix: pieces.createdSuffix
                ) { [self] pid in
                    // The child waits before pivot_root: prestart and createRuntime run in the runtime namespace.
                    var state = creating
                    state.pid = pid
                    try runHooks(hooks.prestart, state: state, phase: "prestart")
                    try runHooks(hooks.createRuntime, state: state, phase: "createRuntime")
                }
            }
            let created: CreatedContainer
            do { created = try runtime.create(req, waitForStart: true) } catch {
                // A cgroupsPath that names a group in use is the bundle's fault, not the host's.
                let failure = error as? ContainerError
                throw OCIRuntimeError(
                    "\(error)",
                    badInput: failure?.operation == "cgroup" && (failure?.errno == EBUSY || failure?.errno == ENOTSUP))
            }
            let startTicks = (try? ProcStat.parse(try readTextFile("/proc/\(created.pid)/stat")))?.startTimeTicks
            var state = OCIState(
                ociVersion: "1.0.2", id: id, status: "created", pid: created.pid, bundle: bundlePath,
                annotations: spec.annotations, created: utcTimestamp(),
                cgroup: created.cgroup.name, startTimeTicks: startTicks, poststart: spec.hooks?.poststart,
                poststop: spec.hooks?.poststop)
            do { try writeState(state) } catch {
                created.destroy()
                throw error
            }
            state.status = "created"
            try writePidFile(pidFile, of: created)
            // The process outlives this command: it is waiting on exec.fifo for `start`.
            created.detach()
        }
    }

    public func start(_ id: String) throws {
        try withLock(id) {
            let state = try self.state(id)
            guard state.status == "created" else {
                throw OCIRuntimeError("cannot start a container that is \(state.status) (id \(id))")
            }
            let fifo = "\(dir(id))/exec.fifo"
            // Opening for read releases the process blocked in open(O_WRONLY). It runs the startContainer hooks
            // (inside the container, CShim), writes one byte, and execs with the write end CLOEXEC: EOF after the
            // byte means the program runs (or, for a short one, already ran), so poststart comes after it.
            // Non-blocking, then polled: a process that died before opening its end must not block `start` forever.
            let fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw OCIRuntimeError("open \(fifo): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let bytes = try readExecFifo(fd, state: state)
            // A second byte ("1") means the process failed after the hooks, before its program ran.
            let failedAfter = bytes.count > 1
            unlink(fifo)
            guard bytes.first == UInt8(ascii: "0") else {
                throw OCIRuntimeError("container \(id) exited before start (a startContainer hook failed?)")
            }
            if failedAfter { throw OCIRuntimeError("container \(id) failed to exec its process after start") }
            var running = state
            running.status = "running"
            try runHooks(state.poststart, state: running, phase: "poststart", failIsFatal: false)
        }
    }

    /// Everything the created process writes into the exec FIFO until it closes its end at exec (EOF), polled in
    /// slices so a process that died, or never gets there, ends the wait with an error naming it.
    func readExecFifo(_ fd: Int32, state: OCIState) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var sawWriter = false
        let deadline = monotonicNanos() + UInt64(OCIWaitLimits.start.components.seconds) * 1_000_000_000
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, 100)
            if r > 0 {
                var buf = [UInt8](repeating: 0, count: 16)
                let n = read(fd, &buf, buf.count)
                if n > 0 {
                    sawWriter = true
                    bytes += buf.prefix(n)
                    continue
                }
                if n == 0 && (sawWriter || p.revents & Int16(POLLHUP) != 0) { return bytes }
                if n < 0 && errno != EAGAIN && errno != EINTR {
                    throw OCIRuntimeError("read exec fifo of \(state.id): \(String(cString: strerror(errno)))")
                }
            } else if r < 0 && errno != EINTR {
                throw OCIRuntimeError("poll exec fifo of \(state.id): \(String(cString: strerror(errno)))")
            }
            if liveStatus(state) == "stopped" && !sawWriter { return bytes }
            if monotonicNanos() > deadline {
                throw OCIRuntimeError(
                    "timed out after \(OCIWaitLimits.start.components.seconds) s waiting for container \(state.id) "
                        + "(pid \(state.pid)) to reach exec")
            }
        }
    }

    public func kill(_ id: String, signal: Int32, all: Bool = false) throws {
        try withLock(id) {
            let state = try self.state(id)
            guard state.status == "created" || state.status == "running" else {
                throw OCIRuntimeError("container \(id) is not running (\(state.status))")
            }
            if all, let name = state.cgroup {
                let cg = makeCgroupManager(name: name)
                for procs in cg.procsPaths { _ = cshim_kill_cgroup_procs(procs, signal) }
            } else if Glibc.kill(state.pid, signal) != 0 {
                throw OCIRuntimeError("kill \(state.pid): \(String(cString: strerror(errno)))")
            }
        }
    }

    public func delete(_ id: String, force: Bool) throws {
        try withLock(id) {
            let path = dir(id)
            guard pathExists(path) else {
                throw OCIRuntimeError("container \"\(id)\" does not exist")
            }
            let state = try? self.state(id)
            if let state, state.status != "stopped", !force {
                throw OCIRuntimeError("cannot delete container \(id) that is \(state.status) (use --force)")
            }
            // A stale directory (runtime killed mid-create) has no state.json: the default cgroup name applies.
            let cgroupName = state?.cgroup ?? "boxbench/\(id)"
            let cg = makeCgroupManager(name: cgroupName)
            cg.killAll()
            if let pid = state?.pid, pid > 0, state?.status != "stopped" { Glibc.kill(pid, SIGKILL) }
            try? cg.remove()
            try? FileManager.default.removeItem(atPath: path)
            unlink("\(root)/\(id).lock")
            if let state, let poststop = state.poststop {
                var stopped = state
                stopped.status = "stopped"
                try? runHooks(poststop, state: stopped, phase: "poststop", failIsFatal: false)
            }
        }
    }

    public func list() -> [OCIState] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return ids.sorted().compactMap { try? state($0) }
    }

    /// Runs hooks in order with the state on stdin; a failing prestart/create hook fails the operation.
    func runHooks(_ hooks: [RuntimeSpec.Hook]?, state: OCIState, phase: String, failIsFatal: Bool = true) throws {
        for hook in hooks ?? [] {
            let stdinPath = NSTemporaryDirectory() + OwnedName.hook.name(UUID().uuidString)
            _ = FileManager.default.createFile(atPath: stdinPath, contents: state.ociJSON())
            defer { unlink(stdinPath) }
            let fd = open(stdinPath, O_RDONLY | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            var strings = CStringArena()
            defer { strings.free() }
            let argv = strings.array(hook.args ?? [hook.path])
            let envp = strings.array(hook.env ?? [])
            var err: Int32 = 0
            let pid = cshim_spawn_process(hook.path, argv, envp, fd, -1, 2, nil, 0, nil, nil, nil, nil, nil, &err)
            guard pid > 0 else {
                if failIsFatal {
                    throw OCIRuntimeError("\(phase) hook \(hook.path): \(String(cString: strerror(err)))")
                }
                continue
            }
            var status: Int32 = 0
            let deadline = monotonicNanos() + UInt64(hook.timeout ?? OCIHookDefaults.timeout) * 1_000_000_000
            while cshim_wait4(pid, &status, WNOHANG, nil, nil, nil) == 0 {
                if monotonicNanos() > deadline {
                    Glibc.kill(pid, SIGKILL)
                    _ = cshim_wait4(pid, &status, 0, nil, nil, nil)
                    if failIsFatal { throw OCIRuntimeError("\(phase) hook \(hook.path): timed out") }
                    break
                }
                usleep(1000)
            }
            if status != 0 && failIsFatal {
                throw OCIRuntimeError("\(phase) hook \(hook.path) failed with status \(status)")
            }
        }
    }
}
