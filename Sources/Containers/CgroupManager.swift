import CShim
import Foundation
import Probes

#if canImport(Glibc)
    import Glibc
#endif

public struct CgroupError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    /// The spec field that cannot be applied on this host (the bundle's fault, not the operation's), or nil.
    public var field: String?
    public init(operation: String, path: String, errno: Int32, field: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.field = field
    }
    public var description: String {
        if let field { return "\(field) cannot be applied on this host: \(operation) \(path)" }
        return "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    static func unsupported(_ field: String, _ why: String, path: String = "") -> CgroupError {
        CgroupError(operation: why, path: path, errno: ENOTSUP, field: field)
    }
}

/// Limits applied to a group; nil leaves the kernel default.
public struct CgroupLimits: Sendable, Equatable {
    public var memoryBytes: Int64?
    public var cpuQuotaMicros: Int64?
    public var cpuPeriodMicros: UInt64?
    public var cpuShares: UInt64?
    public var pidsMax: Int64?
    /// linux.resources.memory.reservation: v1 soft limit, v2 memory.low.
    public var memoryReservationBytes: Int64?
    /// linux.resources.memory.swap: memory + swap, as the OCI spec (and v1's memsw) count it; -1 unlimited.
    public var memorySwapBytes: Int64?
    public var disableOOMKiller: Bool?
    public init(
        memoryBytes: Int64? = nil, cpuQuotaMicros: Int64? = nil, cpuPeriodMicros: UInt64? = nil,
        cpuShares: UInt64? = nil, pidsMax: Int64? = nil, memoryReservationBytes: Int64? = nil,
        memorySwapBytes: Int64? = nil, disableOOMKiller: Bool? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpuQuotaMicros = cpuQuotaMicros
        self.cpuPeriodMicros = cpuPeriodMicros
        self.cpuShares = cpuShares
        self.pidsMax = pidsMax
        self.memoryReservationBytes = memoryReservationBytes
        self.memorySwapBytes = memorySwapBytes
        self.disableOOMKiller = disableOOMKiller
    }

    public init(_ r: RuntimeSpec.Resources?) {
        self.init(
            memoryBytes: r?.memory?.limit, cpuQuotaMicros: r?.cpu?.quota, cpuPeriodMicros: r?.cpu?.period,
            cpuShares: r?.cpu?.shares, pidsMax: r?.pids?.limit, memoryReservationBytes: r?.memory?.reservation,
            memorySwapBytes: r?.memory?.swap, disableOOMKiller: r?.memory?.disableOOMKiller)
    }

    var wantsMemory: Bool {
        memoryBytes != nil || memoryReservationBytes != nil || memorySwapBytes != nil || disableOOMKiller == true
    }
    var wantsCPU: Bool { cpuQuotaMicros != nil || cpuPeriodMicros != nil || cpuShares != nil }
}

public struct CgroupStats: Sendable, Equatable {
    public var memory: CgroupMemoryStats?
    public var cpu: CgroupCPUStats?
    public var pids: UInt64?
}

/// One container's cgroup across whatever hierarchies the host has (youki's shape).
public protocol CgroupManager: Sendable {
    /// The group's name below each hierarchy root, e.g. "boxbench/c1".
    var name: String { get }
    /// Every hierarchy's cgroup.procs (membership, kill).
    var procsPaths: [String] { get }
    /// How a new process enters the group: see `CgroupJoin`.
    var join: CgroupJoin { get }
    func create() throws(CgroupError)
    func apply(_ limits: CgroupLimits) throws(CgroupError)
    func stats() -> CgroupStats
    /// SIGKILL every member until the group is empty.
    func killAll()
    /// Removes the group's directories; the group must be empty (call killAll first).
    func remove() throws(CgroupError)
    /// The device cgroup: v1 `devices.deny`/`devices.allow`, and a BPF device program on every v2 group.
    func applyDevices(_ rules: [DeviceCgroupRule]) throws(CgroupError)
    /// Every group directory, one per hierarchy.
    var directories: [String] { get }
    /// Starts the memory peak afresh (v1 `memory.max_usage_in_bytes`); false where the kernel keeps one peak for
    /// the group's life (v2 `memory.peak` resets only per open file), so a later peak would not be this run's.
    func resetMemoryPeak() -> Bool
}

extension CgroupManager {
    /// A cgroup.procs file of the group or of any group below it that lists a process, or nil.
    public func busyMember() -> String? {
        for dir in directories {
            if let busy = firstBusyProcsFile(below: dir) { return busy }
        }
        return nil
    }
}

/// Depth-first: the group's own cgroup.procs, then its children's.
func firstBusyProcsFile(below dir: String) -> String? {
    if !memberPids(dir + "/cgroup.procs").isEmpty { return dir + "/cgroup.procs" }
    guard let d = opendir(dir) else { return nil }
    defer { closedir(d) }
    while let entry = readdir(d) {
        guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
        let name = entryName(entry)
        if name == "." || name == ".." { continue }
        if let busy = firstBusyProcsFile(below: dir + "/" + name) { return busy }
    }
    return nil
}

/// How a new process enters a group without the kernel's global threadgroup lock: a pid written into cgroup.procs
/// takes it and waits for an RCU grace period (7–15 ms per launch on this host, crun and runc pay it too); a v1
/// `tasks` file written "0" by the single-threaded child itself, and a v2 group entered at clone time
/// (clone3 CLONE_INTO_CGROUP), do not.
public struct CgroupJoin: Sendable, Equatable {
    /// Files the new process writes "0" into itself, before exec.
    public var selfJoin: [String]
    /// A v2 group directory to clone the process straight into; its cgroup.procs is the fallback.
    public var cloneInto: String?

    /// For a launcher that cannot clone into a group (vfork-style spawn): the clone target is self-joined
    /// through its cgroup.procs (the slow path, on v2 groups only).
    public var selfJoinOnly: [String] { selfJoin + (cloneInto.map { [$0 + "/cgroup.procs"] } ?? []) }
}

/// Picks the implementation for the detected layout.
/// `accountingOnly`: just the memory hierarchy on v1/hybrid (the native arm's plain accounting group: one
/// hierarchy to join between clone and exec, so the harness adds less to what it measures).
public func makeCgroupManager(
    name: String, layout: CgroupLayout = CgroupLayout.detect(), accountingOnly: Bool = false
) -> any CgroupManager {
    switch layout.mode {
    case .v2: CgroupV2Manager(name: name, root: layout.unifiedMountPoint ?? "/sys/fs/cgroup")
    case .v1, .hybrid, .none:
        CgroupV1Manager(
            name: name, layout: layout,
            controllers: accountingOnly ? CgroupV1Manager.accountingControllers : CgroupV1Manager.controllers)
    }
}

// MARK: - file helpers

func writeCgroupFile(_ path: String, _ value: String) throws(CgroupError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CgroupError(operation: "open", path: path, errno: errno) }
    defer { close(fd) }
    let n = value.withCString { write(fd, $0, strlen($0)) }
    if n < 0 { throw CgroupError(operation: "write \"\(value)\" to", path: path, errno: errno) }
}

/// mkdir of `name`'s directories below a hierarchy root. Parents such as `boxbench` are shared: a concurrent
/// teardown may remove an empty one between our mkdirs (ENOENT), so the chain is retried from the root.
/// `beforeEachLevel` runs on each existing directory before its child is made (v2 enables controllers there).
func makeDirectoryChain(
    root: String, name: String, beforeEachLevel: (String) -> Void = { _ in }
) throws(CgroupError) {
    let parts = name.split(separator: "/")
    for attempt in 0..<20 {
        var prefix = root
        var vanished = false
        for part in parts {
            beforeEachLevel(prefix)
            prefix += "/\(part)"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                if errno == ENOENT && attempt < 19 {
                    vanished = true
                    break
                }
                throw CgroupError(operation: "mkdir", path: prefix, errno: errno)
            }
        }
        if !vanished { return }
    }
}

/// Removes the group, then its now-empty shared ancestors (e.g. `boxbench`) up to the hierarchy root.
func removeDirectoryChain(root: String, name: String) throws(CgroupError) {
    try removeDirectory("\(root)/\(name)")
    // The shared `boxbench` parent of a default `boxbench/<id>` group goes when it is left empty (busy or not empty:
    // another group still lives there). A bundle's own cgroupsPath loses only its leaf, as with runc: its parents
    // may belong to the caller (a harness that reads the parent's figures after the container is gone).
    let parts = name.split(separator: "/")
    if parts.count == 2, parts[0] == "boxbench" { _ = rmdir("\(root)/boxbench") }
}

/// Removes group `name` from every hierarchy the host mounts, the named ones (`name=systemd`) included — a peer
/// runtime makes its groups in all of them, not only in those boxbench manages — child groups first, killing what
/// is left in them; then its ancestors below the hierarchy root that are left empty (`boxbench`). The first failure,
/// or nil.
public func removeCgroupEverywhere(_ name: String, layout: CgroupLayout) -> String? {
    var failure: String?
    let mounts = Set(layout.hierarchies.map(\.mountPoint)).union(CgroupLayout.namedHierarchyMountPoints())
    for mount in mounts.sorted() {
        var path = "\(mount)/\(name)"
        if let error = removeCgroupTree(path) { failure = failure ?? error }
        for _ in 1..<max(1, name.split(separator: "/").count) {
            path = String(path[..<path.lastIndex(of: "/")!])
            if rmdir(path) != 0 { break }  // another group still lives there
        }
    }
    return failure
}

/// rmdir of a cgroup directory and its child groups, deepest first, after killing anything still in them.
func removeCgroupTree(_ dir: String) -> String? {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return nil }
    var failure: String?
    for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
        var childIsDir: ObjCBool = false
        let child = dir + "/" + name
        if FileManager.default.fileExists(atPath: child, isDirectory: &childIsDir), childIsDir.boolValue {
            if let error = removeCgroupTree(child) { failure = failure ?? error }
        }
    }
    _ = cshim_kill_cgroup_procs(dir + "/cgroup.procs", SIGKILL)
    // A killed run's QEMU can take a while to exit (TCG frees guest memory); its groups stay busy until then.
    for _ in 0..<1500 where rmdir(dir) != 0 && errno == EBUSY { usleep(2000) }
    if FileManager.default.fileExists(atPath: dir) {
        failure = failure ?? "rmdir \(dir): \(String(cString: strerror(errno)))"
    }
    return failure
}

/// rmdir with retries: a just-killed task can keep the group busy for a moment.
func removeDirectory(_ path: String) throws(CgroupError) {
    for attempt in 0..<200 {
        if rmdir(path) == 0 || errno == ENOENT { return }
        let e = errno
        if e != EBUSY || attempt == 199 { throw CgroupError(operation: "rmdir", path: path, errno: e) }
        usleep(1000)
    }
}

func memberPids(_ procsPath: String) -> [pid_t] {
    ((try? readTextFile(procsPath)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
}

// MARK: - v1 (and hybrid: controllers live on v1)

public final class CgroupV1Manager: CgroupManager {
    public let name: String

    public static let controllers = ["memory", "cpu", "cpuacct", "pids", "devices", "freezer"]
    /// The native arm's plain accounting group: memory only. Its CPU time comes from wait4's rusage, and every
    /// hierarchy joined is a cgroup migration inside the launch it measures.
    public static let accountingControllers = ["memory"]

    public init(name: String, layout: CgroupLayout, controllers: [String] = CgroupV1Manager.controllers) {
        self.name = name
        var roots: [(controller: String, root: String)] = []
        for c in controllers {
            guard let mount = layout.v1MountPoint(for: c), !roots.contains(where: { $0.root == mount }) else {
                continue
            }
            roots.append((c, mount))
        }
        let full = controllers == Self.controllers
        // A hybrid host's v2 mount: joined too so the group is visible there (it has no controllers to apply).
        if layout.mode == .hybrid && full, let unified = layout.unifiedMountPoint { roots.append(("", unified)) }
        self.roots = roots
    }

    /// Hierarchy mount point per controller ("" for the controller-less v2 mount of a hybrid host).
    let roots: [(controller: String, root: String)]

    func dir(_ controller: String) -> String? {
        roots.first { !$0.controller.isEmpty && $0.controller == controller }.map { "\($0.root)/\(name)" }
    }
    var allDirs: [String] { roots.map { "\($0.root)/\(name)" } }

    public var procsPaths: [String] { allDirs.map { $0 + "/cgroup.procs" } }
    public var directories: [String] { allDirs }

    public func resetMemoryPeak() -> Bool {
        guard let mem = dir("memory") else { return false }
        return (try? writeCgroupFile(mem + "/memory.max_usage_in_bytes", "0")) != nil
    }

    public func applyDevices(_ rules: [DeviceCgroupRule]) throws(CgroupError) {
        // The v1 devices controller enforces on its own; a hybrid host's v2 group gets the BPF program only when v1
        // has no devices hierarchy. Fail closed when neither exists: a container without a device cgroup could
        // open any node it can make.
        if let devices = dir("devices") {
            try DeviceRules.applyV1(rules, dir: devices)
        } else if let unified = roots.first(where: { $0.controller.isEmpty }) {
            try DeviceRules.attachBPF(rules, dir: "\(unified.root)/\(name)")
        } else {
            throw .unsupported("linux.resources.devices", "no v1 devices hierarchy and no v2 mount to attach to")
        }
    }

    public var join: CgroupJoin {
        CgroupJoin(
            selfJoin: roots.filter { !$0.controller.isEmpty }.map { "\($0.root)/\(name)/tasks" },
            cloneInto: roots.first { $0.controller.isEmpty }.map { "\($0.root)/\(name)" })
    }

    public func create() throws(CgroupError) {
        for (_, root) in roots { try makeDirectoryChain(root: root, name: name) }
        // v1 memory stats are per group unless hierarchy is on; make OOM kill the task, not pause it.
        if let mem = dir("memory") { try? writeCgroupFile(mem + "/memory.oom_control", "0") }
    }

    public func apply(_ limits: CgroupLimits) throws(CgroupError) {
        // A limit asked for is applied or refused by name, never dropped.
        if limits.wantsMemory && dir("memory") == nil {
            throw .unsupported("linux.resources.memory", "no v1 memory hierarchy is mounted")
        }
        if limits.wantsCPU && dir("cpu") == nil {
            throw .unsupported("linux.resources.cpu", "no v1 cpu hierarchy is mounted")
        }
        if limits.pidsMax != nil && dir("pids") == nil {
            throw .unsupported("linux.resources.pids", "no v1 pids hierarchy is mounted")
        }
        if let mem = dir("memory"), let limit = limits.memoryBytes, limit > 0 {
            try writeCgroupFile(mem + "/memory.limit_in_bytes", String(limit))
            // Without this a limited group can swap instead of being OOM-killed (hosts with swap).
            if limits.memorySwapBytes == nil {
                try? writeCgroupFile(mem + "/memory.memsw.limit_in_bytes", String(limit))
            }
        }
        if let mem = dir("memory") {
            if let reservation = limits.memoryReservationBytes {
                try writeCgroupFile(mem + "/memory.soft_limit_in_bytes", String(reservation))
            }
            if let swap = limits.memorySwapBytes {
                let file = mem + "/memory.memsw.limit_in_bytes"
                guard access(file, W_OK) == 0 else {
                    throw .unsupported("linux.resources.memory.swap", "swap accounting is off", path: file)
                }
                try writeCgroupFile(file, swap < 0 ? "-1" : String(swap))
            }
            if limits.disableOOMKiller == true { try writeCgroupFile(mem + "/memory.oom_control", "1") }
        }
        if let cpu = dir("cpu") {
            if let period = limits.cpuPeriodMicros { try writeCgroupFile(cpu + "/cpu.cfs_period_us", String(period)) }
            if let quota = limits.cpuQuotaMicros { try writeCgroupFile(cpu + "/cpu.cfs_quota_us", String(quota)) }
            if let shares = limits.cpuShares { try writeCgroupFile(cpu + "/cpu.shares", String(shares)) }
        }
        if let pids = dir("pids"), let max = limits.pidsMax {
            try writeCgroupFile(pids + "/pids.max", max > 0 ? String(max) : "max")
        }
    }

    public func stats() -> CgroupStats {
        var s = CgroupStats()
        if let mem = dir("memory") {
            s.memory = try? CgroupMemoryStats.v1(
                usage: (try? readTextFile(mem + "/memory.usage_in_bytes")) ?? "0",
                maxUsage: try? readTextFile(mem + "/memory.max_usage_in_bytes"),
                stat: (try? readTextFile(mem + "/memory.stat")) ?? "",
                oomControl: try? readTextFile(mem + "/memory.oom_control"))
        }
        if let acct = dir("cpuacct"), let usage = try? readTextFile(acct + "/cpuacct.usage") {
            s.cpu = try? CgroupCPUStats.v1(usage: usage)
        }
        if let pids = dir("pids"), let text = try? readTextFile(pids + "/pids.current") {
            s.pids = (try? parseCgroupValue(text, file: "pids.current")) ?? nil
        }
        return s
    }

    public func killAll() {
        // Nobody left (the usual end: the container's init exited and its pid namespace went with it): only members
        // fork into a group, so it stays empty, and the two freezer writes (4 % of a run's perf samples) are skipped.
        if procsPaths.allSatisfy({ memberPids($0).isEmpty }) { return }
        // Freeze first so a fork bomb cannot outrun the kill loop.
        let freezer = dir("freezer")
        if let freezer { try? writeCgroupFile(freezer + "/freezer.state", "FROZEN") }
        for _ in 0..<400 {
            var any = false
            for procs in procsPaths {
                for pid in memberPids(procs) {
                    any = true
                    kill(pid, SIGKILL)
                }
            }
            if !any { break }
            if let freezer { try? writeCgroupFile(freezer + "/freezer.state", "THAWED") }
            usleep(2000)
        }
        if let freezer { try? writeCgroupFile(freezer + "/freezer.state", "THAWED") }
    }

    public func remove() throws(CgroupError) {
        var firstError: CgroupError?
        for (_, root) in roots {
            do { try removeDirectoryChain(root: root, name: name) } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }
}

// MARK: - v2

public final class CgroupV2Manager: CgroupManager {
    public let name: String
    let root: String
    var path: String { "\(root)/\(name)" }

    public init(name: String, root: String) {
        self.name = name
        self.root = root
    }

    public var procsPaths: [String] { [path + "/cgroup.procs"] }
    public var directories: [String] { [path] }
    public func resetMemoryPeak() -> Bool { false }

    public func applyDevices(_ rules: [DeviceCgroupRule]) throws(CgroupError) {
        try DeviceRules.attachBPF(rules, dir: path)
    }
    public var join: CgroupJoin { CgroupJoin(selfJoin: [], cloneInto: path) }

    public func create() throws(CgroupError) {
        try makeDirectoryChain(root: root, name: name) { level in
            // Controllers must be enabled in every ancestor's subtree_control before the leaf can use them.
            let available = ((try? readTextFile(level + "/cgroup.controllers")) ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" })
            for c in ["memory", "cpu", "pids"] where available.contains(Substring(c)) {
                try? writeCgroupFile(level + "/cgroup.subtree_control", "+\(c)")
            }
        }
    }

    public func apply(_ limits: CgroupLimits) throws(CgroupError) {
        if limits.disableOOMKiller == true {
            throw .unsupported(
                "linux.resources.memory.disableOOMKiller", "cgroup v2 has no way to disable the OOM killer")
        }
        for (wanted, controller, field) in [
            (limits.wantsMemory, "memory", "linux.resources.memory"), (limits.wantsCPU, "cpu", "linux.resources.cpu"),
            (limits.pidsMax != nil, "pids", "linux.resources.pids"),
        ] where wanted && access(path + "/\(controller).max", W_OK) != 0 {
            throw .unsupported(field, "the \(controller) controller is not enabled here", path: path)
        }
        if let limit = limits.memoryBytes, limit > 0 {
            try writeCgroupFile(path + "/memory.max", String(limit))
            if limits.memorySwapBytes == nil { try? writeCgroupFile(path + "/memory.swap.max", "0") }
        }
        if let reservation = limits.memoryReservationBytes {
            try writeCgroupFile(path + "/memory.low", String(reservation))
        }
        if let swap = limits.memorySwapBytes {
            // OCI counts memory + swap; v2's memory.swap.max is the swap alone.
            let value = swap < 0 ? "max" : String(max(0, swap - (limits.memoryBytes ?? 0)))
            guard access(path + "/memory.swap.max", W_OK) == 0 else {
                throw .unsupported("linux.resources.memory.swap", "swap accounting is off", path: path)
            }
            try writeCgroupFile(path + "/memory.swap.max", value)
        }
        if limits.cpuQuotaMicros != nil || limits.cpuPeriodMicros != nil {
            let quota = limits.cpuQuotaMicros.map { $0 > 0 ? String($0) : "max" } ?? "max"
            try writeCgroupFile(path + "/cpu.max", "\(quota) \(limits.cpuPeriodMicros ?? 100_000)")
        }
        if let shares = limits.cpuShares {
            try writeCgroupFile(path + "/cpu.weight", String(Self.weight(fromShares: shares)))
        }
        if let max = limits.pidsMax { try writeCgroupFile(path + "/pids.max", max > 0 ? String(max) : "max") }
    }

    /// runc's conversion of v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000].
    public static func weight(fromShares shares: UInt64) -> UInt64 {
        shares == 0 ? 100 : 1 + ((min(max(shares, 2), 262_144) - 2) * 9999) / 262_142
    }

    public func stats() -> CgroupStats {
        var s = CgroupStats()
        s.memory = try? CgroupMemoryStats.v2(
            current: (try? readTextFile(path + "/memory.current")) ?? "0",
            peak: try? readTextFile(path + "/memory.peak"), stat: (try? readTextFile(path + "/memory.stat")) ?? "",
            events: try? readTextFile(path + "/memory.events"))
        if let text = try? readTextFile(path + "/cpu.stat") { s.cpu = try? CgroupCPUStats.v2(cpuStat: text) }
        if let text = try? readTextFile(path + "/pids.current") {
            s.pids = (try? parseCgroupValue(text, file: "pids.current")) ?? nil
        }
        return s
    }

    public func killAll() {
        // cgroup.kill (5.14+) kills atomically, fork bombs included.
        if (try? writeCgroupFile(path + "/cgroup.kill", "1")) != nil {
            for _ in 0..<400 where !memberPids(path + "/cgroup.procs").isEmpty { usleep(2000) }
            return
        }
        for _ in 0..<400 {
            let pids = memberPids(path + "/cgroup.procs")
            if pids.isEmpty { break }
            pids.forEach { kill($0, SIGKILL) }
            usleep(2000)
        }
    }

    public func remove() throws(CgroupError) { try removeDirectoryChain(root: root, name: name) }
}
