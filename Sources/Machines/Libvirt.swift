import CLibvirt
import Foundation
import Probes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// libvirt's default event loop: registered once before any connection, run forever on a dedicated thread
/// (it must keep running after a connection closes, or libvirt's cleanup callbacks never fire).
enum LibvirtEventLoop {
    /// nil once libvirt is loaded and its event loop runs; otherwise the failed operation and why.
    private static let failure: (operation: String, message: String)? = {
        if let message = bb_libvirt_load() { return ("load libvirt", String(cString: message)) }
        // libvirt's own log (stale XATTRs, "domain not found" races after poweroff) goes to a file, not the
        // user's terminal; failures still surface through MachineError. The user's LIBVIRT_LOG_OUTPUTS wins.
        let state = BoxbenchPaths().state
        mkdir(state, 0o755)
        setenv("LIBVIRT_LOG_OUTPUTS", "4:file:\(state)/libvirt-errors.log", 0)
        // Errors are reported through MachineError with virGetLastErrorMessage(); keep libvirt off stderr.
        bb_virSetErrorFunc(nil) { _, _ in }
        guard bb_virEventRegisterDefaultImpl() == 0 else {
            return ("virEventRegisterDefaultImpl", lastLibvirtError())
        }
        let t = Thread {
            while true { _ = bb_virEventRunDefaultImpl() }
        }
        t.name = "libvirt-events"
        t.stackSize = 1 << 20
        t.start()
        return nil
    }()

    static func ensureStarted() throws(MachineError) {
        if let failure { throw .libvirt(operation: failure.operation, message: failure.message) }
    }
}

func lastLibvirtError() -> String {
    bb_virGetLastErrorMessage().map { String(cString: $0) } ?? "unknown libvirt error"
}

/// One libvirt connection; keep it open for as long as any domain created through it must live
/// (the embedded driver kills its domains when the connection closes). Unchecked only for `ptr`, an immutable C
/// handle libvirt's API allows from any thread; its one piece of state, `closed`, is under a Mutex.
public final class LibvirtConnection: @unchecked Sendable {
    let ptr: virConnectPtr
    public let uri: String
    /// For `qemu:///embed?root=…`: the root, where QEMU's pid files and logs are.
    public let embedRoot: String?
    private let closed = Mutex(false)
    /// libvirt refuses a second registration of the same callback on a connection, so concurrent domains share
    /// one lifecycle registration that dispatches by domain name.
    let lifecycleWatches = LifecycleDispatcher()

    /// The default: libvirt's embedded QEMU driver rooted at `root` (no daemon).
    public static func embedded(root: String = BoxbenchPaths().libvirtEmbedRoot) throws(MachineError)
        -> LibvirtConnection
    {
        try prepareEmbedRoot(root)
        return try LibvirtConnection(uri: embedURI(root: root))
    }

    public static func embedURI(root: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
        return "qemu:///embed?root=" + (root.addingPercentEncoding(withAllowedCharacters: allowed) ?? root)
    }

    /// `<root>/etc/qemu.conf` with `stdio_handler = "file"`: the default `logd` needs a system virtlogd.
    static func prepareEmbedRoot(_ root: String) throws(MachineError) {
        try GuestArtifactBuilder.mkdirs(root + "/etc")
        let conf = root + "/etc/qemu.conf"
        // remember_owner = 0: the kernel and initrd are shared, world-readable artifacts; remembering owners in
        // XATTRs only produced "Invalid XATTR timestamp" warnings on the next boot of the host.
        // namespaces = []: no private /dev mount namespace per QEMU (populating it cost ~15 ms of every start).
        let want =
            "# written by boxbench: QEMU logs go to files, no virtlogd needed\nstdio_handler = \"file\"\n"
            + "remember_owner = 0\nnamespaces = []\n"
        if (try? String(contentsOfFile: conf, encoding: .utf8)) != want {
            guard FileManager.default.createFile(atPath: conf + ".tmp", contents: Data(want.utf8)),
                rename(conf + ".tmp", conf) == 0
            else { throw .system(operation: "write \(conf)", errno: errno) }
        }
    }

    public init(uri: String) throws(MachineError) {
        try LibvirtEventLoop.ensureStarted()
        guard let c = bb_virConnectOpen(uri) else {
            throw .libvirt(operation: "virConnectOpen \(uri)", message: lastLibvirtError())
        }
        ptr = c
        self.uri = uri
        if uri.hasPrefix("qemu:///embed"), let r = uri.range(of: "root=") {
            let raw = String(uri[r.upperBound...].prefix { $0 != "&" })
            embedRoot = raw.removingPercentEncoding ?? raw
            Self.embedRootsOpened.withLock { _ = $0.insert(raw.removingPercentEncoding ?? raw) }
        } else {
            embedRoot = nil
        }
    }

    private static let embedRootsOpened = Mutex<Set<String>>([])

    /// The embedded driver's pid file (`<root>/run/qemu/driver.pid`, held with a lock while the driver lives in
    /// this process). libvirt never removes it, even on close, so every embedded run used to leave a stale one.
    public static func driverPidFile(root: String) -> String { root + "/run/qemu/driver.pid" }

    /// Removes the driver pid files of every embedded root this process opened, when they name this process.
    /// Only for a process about to exit: the in-process driver must not be used afterwards (another process may
    /// then take the root). Called from the CLI's exit paths and its SIGINT/SIGTERM handler.
    public static func releaseDriverPidFiles() {
        let me = "\(getpid())"
        for root in embedRootsOpened.withLock({ $0 }) {
            let path = driverPidFile(root: root)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                text.trimmingCharacters(in: .whitespacesAndNewlines) == me
            else { continue }
            unlink(path)
        }
    }

    deinit { close() }

    public func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            lifecycleWatches.deregister(ptr)
            bb_virConnectClose(ptr)
        }
    }

    /// libvirt library version, e.g. "9.0.0".
    public var libraryVersion: String {
        var v: UInt = 0
        guard bb_virConnectGetLibVersion(ptr, &v) == 0 else { return "unknown" }
        return "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)"
    }

    /// Where this driver writes a running domain's QEMU pid, when the host is local.
    func pidFile(domain name: String) -> String? {
        if let embedRoot { return embedRoot + "/run/qemu/\(name).pid" }
        if uri.hasPrefix("qemu:///system") { return "/run/libvirt/qemu/\(name).pid" }
        return nil
    }

    func logFile(domain name: String) -> String? {
        if let embedRoot { return embedRoot + "/log/qemu/\(name).log" }
        if uri.hasPrefix("qemu:///system") { return "/var/log/libvirt/qemu/\(name).log" }
        return nil
    }

    func error(_ operation: String) -> MachineError { .libvirt(operation: operation, message: lastLibvirtError()) }

    /// Defines (persistently, on drivers like test:///default) and returns the name libvirt parsed back,
    /// plus the XML libvirt renders for it; the domain is undefined again. For tests of the XML layer.
    public func defineRoundTrip(xml: String) throws(MachineError) -> (name: String, xml: String) {
        guard let dom = bb_virDomainDefineXML(ptr, xml) else { throw error("virDomainDefineXML") }
        defer {
            bb_virDomainUndefine(dom)
            bb_virDomainFree(dom)
        }
        let name = bb_virDomainGetName(dom).map { String(cString: $0) } ?? ""
        guard let desc = bb_virDomainGetXMLDesc(dom, 0) else { throw error("virDomainGetXMLDesc") }
        defer { free(desc) }
        return (name, String(cString: desc))
    }
}

/// Lifecycle events of one domain, recorded with host monotonic timestamps.
final class LifecycleWatch: Sendable {
    struct Event: Sendable {
        var event: Int32
        var detail: Int32
        var ns: UInt64
    }
    let name: String
    private let state = Mutex<(events: [Event], stopped: Bool)>(([], false))
    private let stoppedSemaphore = DispatchSemaphore(value: 0)

    init(name: String) { self.name = name }

    func record(event: Int32, detail: Int32) {
        let now = monotonicNanos()
        let first = state.withLock { state in
            state.events.append(Event(event: event, detail: detail, ns: now))
            let first = event == Int32(VIR_DOMAIN_EVENT_STOPPED.rawValue) && !state.stopped
            if first { state.stopped = true }
            return first
        }
        if first { stoppedSemaphore.signal() }
    }

    /// Marks STOPPED without an event (the domain was already gone when we looked).
    func markStopped() { record(event: Int32(VIR_DOMAIN_EVENT_STOPPED.rawValue), detail: -1) }

    var isStopped: Bool { state.withLock { $0.stopped } }

    var all: [Event] { state.withLock { $0.events } }

    /// Waits for STOPPED until the monotonic deadline; true if it came.
    func waitStopped(untilNs deadline: UInt64) -> Bool {
        while true {
            if isStopped { return true }
            let now = monotonicNanos()
            if now >= deadline { return false }
            let slice = min(deadline - now, 50_000_000)
            if stoppedSemaphore.wait(timeout: .now() + .nanoseconds(Int(slice))) == .success {
                stoppedSemaphore.signal()  // keep it signalled for other waiters
                return true
            }
        }
    }

    func register(on conn: LibvirtConnection) throws(MachineError) {
        try conn.lifecycleWatches.add(self, on: conn)
    }

    func deregister(from conn: LibvirtConnection) {
        conn.lifecycleWatches.remove(self)
    }
}

/// The one lifecycle callback of a connection, registered on first use; events go to the watch of that domain.
/// libvirt holds a retained reference to it, released by libvirt's free callback once the registration is gone:
/// its event thread can deliver an event after the connection object was closed and freed (seen as a crash in
/// `dispatch` when the reference was unretained).
final class LifecycleDispatcher: Sendable {
    private let state = Mutex<(watches: [String: LifecycleWatch], callbackID: Int32?)>(([:], nil))

    func add(_ watch: LifecycleWatch, on conn: LibvirtConnection) throws(MachineError) {
        try state.withLock { (state) throws(MachineError) in
            state.watches[watch.name] = watch
            if state.callbackID != nil { return }
            let opaque = Unmanaged.passRetained(self).toOpaque()
            let id = bb_virConnectDomainEventRegisterAny(
                conn.ptr, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                unsafeBitCast(lifecycleCallback, to: virConnectDomainEventGenericCallback.self), opaque,
                releaseDispatcher)
            guard id >= 0 else {
                Unmanaged<LifecycleDispatcher>.fromOpaque(opaque).release()
                state.watches[watch.name] = nil
                throw conn.error("virConnectDomainEventRegisterAny lifecycle")
            }
            state.callbackID = id
        }
    }

    func remove(_ watch: LifecycleWatch) {
        state.withLock { if $0.watches[watch.name] === watch { $0.watches[watch.name] = nil } }
    }

    /// Ends the registration (before the connection closes); libvirt then releases its reference.
    func deregister(_ conn: virConnectPtr) {
        let id = state.withLock { state in
            defer { state.callbackID = nil }
            return state.callbackID
        }
        if let id { _ = bb_virConnectDomainEventDeregisterAny(conn, id) }
    }

    func dispatch(name: String, event: Int32, detail: Int32) {
        state.withLock { $0.watches[name] }?.record(event: event, detail: detail)
    }
}

private let lifecycleCallback:
    @convention(c) (virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
        _, dom, event, detail, opaque in
        guard let dom, let opaque, let n = bb_virDomainGetName(dom) else { return 0 }
        let dispatcher = Unmanaged<LifecycleDispatcher>.fromOpaque(opaque).takeUnretainedValue()
        dispatcher.dispatch(name: String(cString: n), event: event, detail: detail)
        return 0
    }

/// libvirt's free callback for the dispatcher's registration: the reference `add` passed.
private let releaseDispatcher: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
    guard let opaque else { return }
    Unmanaged<LifecycleDispatcher>.fromOpaque(opaque).release()
}

/// Names for lifecycle events, as recorded in results.
func lifecycleEventName(_ e: Int32) -> String {
    switch e {
    case 0: "defined"
    case 1: "undefined"
    case 2: "started"
    case 3: "suspended"
    case 4: "resumed"
    case 5: "stopped"
    case 6: "shutdown"
    case 7: "pmsuspended"
    case 8: "crashed"
    default: "event-\(e)"
    }
}

/// Thin, synchronous wrappers of per-domain calls; the caller owns the pointer.
struct LibvirtDomain: @unchecked Sendable {
    let ptr: virDomainPtr
    let conn: LibvirtConnection

    func resume() throws(MachineError) {
        guard bb_virDomainResume(ptr) == 0 else { throw conn.error("virDomainResume") }
    }

    func destroy() throws(MachineError) {
        guard bb_virDomainDestroy(ptr) == 0 else { throw conn.error("virDomainDestroy") }
    }

    var isActive: Bool { bb_virDomainIsActive(ptr) == 1 }

    /// libvirt's `cpu_time` for the whole domain (ns), from `virDomainGetCPUStats`.
    func cpuTimeNs() -> UInt64? {
        let n = bb_virDomainGetCPUStats(ptr, nil, 0, -1, 1, 0)
        guard n > 0 else { return nil }
        var params = [virTypedParameter](repeating: virTypedParameter(), count: Int(n))
        let got = bb_virDomainGetCPUStats(ptr, &params, UInt32(n), -1, 1, 0)
        guard got > 0 else { return nil }
        defer { bb_virTypedParamsClear(&params, got) }
        for p in params.prefix(Int(got)) {
            let field = withUnsafeBytes(of: p.field) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if field == "cpu_time" { return p.value.ul }
        }
        return nil
    }

    /// `virDomainMemoryStats` as tag → KiB (only `rss` unless the guest runs virtio_balloon).
    func memoryStats() -> [String: UInt64] {
        var stats = [virDomainMemoryStatStruct](repeating: virDomainMemoryStatStruct(), count: 16)
        let n = bb_virDomainMemoryStats(ptr, &stats, UInt32(stats.count), 0)
        guard n > 0 else { return [:] }
        let names = [
            "swap_in", "swap_out", "major_fault", "minor_fault", "unused", "available", "actual_balloon",
            "rss", "usable", "last_update", "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail",
        ]
        var out: [String: UInt64] = [:]
        for s in stats.prefix(Int(n)) {
            let tag = Int(s.tag)
            out[tag < names.count ? names[tag] : "tag\(tag)"] = s.val
        }
        return out
    }
}
