import CShim
import Foundation
import Probes

/// One thing a dead boxbench process left behind, as found (and, after `clean`, removed) by `Janitor`.
public struct Leftover: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A `boxbench/<id>` cgroup (every hierarchy it exists in); its processes are killed first.
        case cgroup
        /// A container state directory under `BoxbenchPaths().containers`.
        case containerState = "container-state"
        /// A peer (crun/runc) bundle under `<run>/bundles`.
        case bundle
        /// A per-VM run directory under `<run>/vm`, or an accel probe directory.
        case vmRunDir = "vm-run-dir"
        /// A QEMU process whose domain is named `boxbench-<pid>-…`.
        case qemu
        /// A mount below one of boxbench's directories (detached before its directory is removed).
        case mount
        /// A temp file or directory `boxbench-<what>-<pid>…` in the temp directory.
        case temp
        /// A lock or pid file naming a dead process: libvirt's embedded driver pid file (libvirt never removes it).
        case lockFile = "lock-file"
        /// libvirt's own cgroup of a `boxbench-<pid>-…` domain, `machine/qemu-embed-…-boxbench-<pid>-….libvirt-qemu`
        /// with its `emulator`/`vcpuN` children, in every hierarchy: the embedded driver dies with a killed
        /// boxbench and never removes it.
        case libvirtCgroup = "libvirt-cgroup"
        /// An I/O workload's data volume (directory or VM disk file) under `BoxbenchPaths.volumes`.
        case volume
        /// A pinned network namespace of a bench network (its bridge, veths and addresses go with it).
        case netns
    }

    public var kind: Kind
    /// Path of the directory/file, cgroup name, or `pid <n>` for a process.
    public var path: String
    /// The boxbench process that created it (dead, or it would not be a leftover).
    public var ownerPid: pid_t
    /// Set when cleaning failed: what went wrong (the leftover is still there).
    public var error: String?

    public var description: String {
        "\(kind.rawValue) \(path) (owner pid \(ownerPid) is gone)" + (error.map { ": NOT cleaned: \($0)" } ?? "")
    }
}

/// Finds what a boxbench process that died without tearing down (kill -9, OOM, power cut of the process)
/// left on the host, and removes it. Only names that encode the owner's pid are touched — container ids
/// `run-<pid>-<n>`, `density-<pid>-…`, `build-<pid>-…`, `bench-<pid>-…`, `native-<pid>-…`,
/// `bb-<peer>-<pid>-…`, `boxbench-<pid>`, bundles `<peer>-<pid>-<workload>`, domains `boxbench-<pid>-…` —
/// and only when that pid is no longer alive. Anything else (another live run, runtime ids a user chose) is
/// left alone.
public struct Janitor: Sendable {
    public var paths: BoxbenchPaths
    /// cgroup hierarchy mount points searched for `boxbench/<id>` groups.
    public var cgroupMounts: [String]
    public var layout: CgroupLayout
    public var tempDir: String
    public var procRoot: String
    /// Whether `pid` is a live process (default: `kill(pid, 0)` succeeds or fails with EPERM).
    public var isAlive: @Sendable (pid_t) -> Bool

    public init(
        paths: BoxbenchPaths = BoxbenchPaths(), layout: CgroupLayout = .detect(),
        tempDir: String = NSTemporaryDirectory(), procRoot: String = "/proc",
        isAlive: @escaping @Sendable (pid_t) -> Bool = Janitor.processExists
    ) {
        self.paths = paths
        self.layout = layout
        // The named hierarchies too (name=systemd): runc makes its groups there as well.
        self.cgroupMounts = Array(
            Set(layout.hierarchies.map(\.mountPoint)).union(CgroupLayout.namedHierarchyMountPoints())
        ).sorted()
        self.tempDir = tempDir.hasSuffix("/") ? String(tempDir.dropLast()) : tempDir
        self.procRoot = procRoot
        self.isAlive = isAlive
    }

    public static func processExists(_ pid: pid_t) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The owner pid encoded in a name boxbench generates, or nil for names it did not generate.
    public static func ownerPid(of name: String) -> pid_t? { OwnedName.owner(of: name) }

    /// Leftovers whose owner is dead, without touching anything.
    public func scan() -> [Leftover] {
        var out: [Leftover] = []
        func dead(_ name: String) -> pid_t? {
            guard let pid = Self.ownerPid(of: name), !isAlive(pid) else { return nil }
            return pid
        }
        // QEMU first: a domain's process is what keeps its other leftovers busy.
        for (pid, domain) in qemuProcesses() {
            if let owner = dead(domain) {
                out.append(Leftover(kind: .qemu, path: "pid \(pid) (\(domain))", ownerPid: owner))
            }
        }
        let ownedDirs: [(String, Leftover.Kind)] = [
            (paths.containers, .containerState), (paths.run + "/bundles", .bundle), (paths.run + "/vm", .vmRunDir),
            (paths.run + "/netns", .netns), (paths.volumes, .volume),
        ]
        for mount in mountPoints() {
            for (root, _) in ownedDirs + [(paths.run, .vmRunDir)] where mount.hasPrefix(root + "/") {
                let first = String(mount.dropFirst(root.count + 1).prefix { $0 != "/" })
                if let owner = dead(first) { out.append(Leftover(kind: .mount, path: mount, ownerPid: owner)) }
                break
            }
        }
        var groups = Set<String>()
        for mount in cgroupMounts {
            for name in listDirectory(mount + "/boxbench") where dead(name) != nil { groups.insert(name) }
        }
        for name in groups.sorted() {
            out.append(Leftover(kind: .cgroup, path: "boxbench/\(name)", ownerPid: dead(name)!))
        }
        var machineGroups: [String: pid_t] = [:]
        for mount in cgroupMounts {
            for name in listDirectory(mount + "/machine") {
                guard let r = name.range(of: "-boxbench-"), name.hasSuffix(".libvirt-qemu"),
                    let owner = dead(String(name[name.index(after: r.lowerBound)...]))
                else { continue }
                machineGroups[name] = owner
            }
        }
        for (name, owner) in machineGroups.sorted(by: { $0.key < $1.key }) {
            out.append(Leftover(kind: .libvirtCgroup, path: "machine/\(name)", ownerPid: owner))
        }
        for (root, kind) in ownedDirs {
            for name in listDirectory(root) {
                if let owner = dead(name) { out.append(Leftover(kind: kind, path: root + "/" + name, ownerPid: owner)) }
            }
        }
        // The embedded libvirt driver's per-domain status and pid files (it would try to reattach to them).
        let libvirtRun = paths.libvirtEmbedRoot + "/run/qemu"
        for name in listDirectory(libvirtRun) where name.hasPrefix("boxbench-") {
            if let owner = dead(name) {
                out.append(Leftover(kind: .vmRunDir, path: libvirtRun + "/" + name, ownerPid: owner))
            }
        }
        // A bench network's IPAM leases (the namespaces they describe are gone with their owner).
        for name in listDirectory(paths.run) where name.hasPrefix(OwnedName.cniData.rawValue + "-") {
            if let owner = dead(name) {
                out.append(Leftover(kind: .temp, path: paths.run + "/" + name, ownerPid: owner))
            }
        }
        for name in listDirectory(paths.run) where name.hasPrefix("accel-probe-") {
            if let owner = dead(name) {
                out.append(Leftover(kind: .vmRunDir, path: paths.run + "/" + name, ownerPid: owner))
            }
        }
        // libvirt's embedded driver keeps `run/qemu/driver.pid` (locked while the driver lives) and never removes it.
        for root in [paths.libvirtEmbedRoot, paths.libvirtTestEmbedRoot] {
            let path = root + "/run/qemu/driver.pid"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, !isAlive(pid)
            else { continue }
            out.append(Leftover(kind: .lockFile, path: path, ownerPid: pid))
        }
        // A full-OS guest's transient overlay, `disk.raw.TRANSIENT-<domain>`, which libvirt deletes only when the
        // domain ends under a live driver.
        for key in listDirectory(paths.guestArtifacts) {
            let dir = paths.guestArtifacts + "/" + key
            for name in listDirectory(dir) {
                guard let r = name.range(of: ".TRANSIENT-"), let owner = dead(String(name[r.upperBound...])) else {
                    continue
                }
                out.append(Leftover(kind: .temp, path: dir + "/" + name, ownerPid: owner))
            }
        }
        for name in listDirectory(tempDir) where name.hasPrefix("boxbench-") {
            if let owner = dead(name) { out.append(Leftover(kind: .temp, path: tempDir + "/" + name, ownerPid: owner)) }
        }
        return out
    }

    /// Removes every leftover `scan` finds; returns them, with `error` set on the ones that could not go.
    public func clean() -> [Leftover] {
        scan().map { item in
            var item = item
            item.error = remove(item)
            return item
        }
    }

    private func remove(_ item: Leftover) -> String? {
        switch item.kind {
        case .qemu:
            guard let pid = pid_t(item.path.dropFirst(4).prefix { $0.isNumber }) else { return "bad pid" }
            if kill(pid, SIGKILL) != 0 && errno != ESRCH { return "kill: \(String(cString: strerror(errno)))" }
            // Not our child: wait for it to disappear so its files are free.
            for _ in 0..<200 where Self.processExists(pid) && !isZombie(pid) { usleep(5000) }
            return nil
        case .mount:
            if umount2(item.path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
                return "umount \(item.path): \(String(cString: strerror(errno)))"
            }
            return nil
        case .cgroup:
            // Frozen and killed first (a fork bomb cannot outrun it), then gone from every hierarchy.
            makeCgroupManager(name: item.path, layout: layout).killAll()
            return removeCgroupEverywhere(item.path, layout: layout)
        case .libvirtCgroup:
            return removeCgroupEverywhere(item.path, layout: layout)
        case .netns:
            let rc = cshim_netns_remove(item.path)
            return rc == 0 ? nil : "remove network namespace \(item.path): \(String(cString: strerror(-rc)))"
        case .lockFile:
            // Unlinked only while we hold its lock: a driver that has just taken it keeps it.
            let fd = open(item.path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                return errno == ENOENT ? nil : "open \(item.path): \(String(cString: strerror(errno)))"
            }
            defer { close(fd) }
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            guard fcntl(fd, F_SETLK, &lock) == 0 else { return "\(item.path) is locked by a live libvirt driver" }
            if unlink(item.path) != 0 && errno != ENOENT {
                return "unlink \(item.path): \(String(cString: strerror(errno)))"
            }
            return nil
        case .containerState, .bundle, .vmRunDir, .temp, .volume:
            // Never descend into a mount (a bind mount would have its source deleted).
            if mountPoints().contains(where: { $0 == item.path || $0.hasPrefix(item.path + "/") }) {
                return "\(item.path) still has mounts below it"
            }
            do { try FileManager.default.removeItem(atPath: item.path) } catch {
                return "remove \(item.path): \(error.localizedDescription)"
            }
            return nil
        }
    }

    // MARK: - host readers

    private func listDirectory(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// Mount points from /proc/self/mountinfo (field 5, octal escapes undone), deepest first.
    func mountPoints() -> [String] {
        let text = (try? String(contentsOfFile: procRoot + "/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? unescapeMountField(String(fields[4])) : nil
        }.sorted { $0.count > $1.count }
    }

    /// (pid, domain name) of every `qemu-system-*` process started for a `boxbench-…` domain.
    public func qemuProcesses() -> [(pid_t, String)] {
        var out: [(pid_t, String)] = []
        for entry in listDirectory(procRoot) {
            guard let pid = pid_t(entry),
                let data = FileManager.default.contents(atPath: "\(procRoot)/\(entry)/cmdline"), !data.isEmpty
            else { continue }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let exe = args.first, (exe as NSString).lastPathComponent.hasPrefix("qemu-system") else { continue }
            // libvirt passes `-name guest=<name>,debug-threads=on`; plain QEMU `-name <name>`.
            guard let i = args.firstIndex(of: "-name"), i + 1 < args.count else { continue }
            var name = args[i + 1]
            if name.hasPrefix("guest=") { name = String(name.dropFirst(6)) }
            name = String(name.prefix { $0 != "," })
            if name.hasPrefix("boxbench-") { out.append((pid, name)) }
        }
        return out
    }

    private func isZombie(_ pid: pid_t) -> Bool {
        let stat = (try? String(contentsOfFile: "\(procRoot)/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
