import Foundation
import Synchronization

extension ImageBuilder {
    private static let cancelled = Atomic<Bool>(false)

    /// Stops every build of this process at its next check (each instruction, each file of a layer being
    /// written, after a RUN container returns): the build throws `ImageError(.cancelled)` and unwinds, which
    /// removes its scratch directories and temp files; blobs already renamed into the store are complete, and
    /// the tag is not moved. For the CLI's SIGINT/SIGTERM handler (the RUN container itself is killed by
    /// `ContainerRuntime.cancelAll()`).
    public static func cancelAll() { cancelled.store(true, ordering: .sequentiallyConsistent) }

    public static var isCancelled: Bool { cancelled.load(ordering: .sequentiallyConsistent) }

    static func checkCancelled(_ what: String) throws {
        if isCancelled { throw ImageError(.cancelled, "\(what): cancelled (SIGINT/SIGTERM)") }
    }
}

extension ImageStore {
    /// Removes the temp files and directories process `pid` has in the store `root` and the unpacked-layer cache
    /// `layerCache`, and `<rootfsCache>/<digest>.tmp.<pid>`: scratch `<what>-<pid>-…` in `.boxbench/tmp`,
    /// `<file>.tmp-<pid>-…` next to index.json, blobs, build-cache entries and layer infos, `.tmp-<diff_id>-<pid>-…`
    /// in the layer cache. For a process about to exit on a signal (its own pid) without unwinding; completed blobs
    /// and layers are never touched. Returns what it removed; errors are ignored (a concurrent writer may race it).
    @discardableResult
    public static func removeTemporaries(root: String, layerCache: String, rootfsCache: String? = nil, pid: pid_t)
        -> [String]
    {
        sweepTemporaries(root: root, layerCache: layerCache, rootfsCache: rootfsCache) { $0 == pid }
    }

    /// The same sweep for every owner that is no longer running (a build killed with SIGKILL): what `boxbench run`
    /// does before it starts, next to the Janitor. A live owner's temp files are left alone.
    @discardableResult
    public static func removeTemporariesOfDeadProcesses(
        root: String, layerCache: String, rootfsCache: String? = nil,
        isAlive: (pid_t) -> Bool = { kill($0, 0) == 0 || errno == EPERM }
    ) -> [String] {
        sweepTemporaries(root: root, layerCache: layerCache, rootfsCache: rootfsCache) { !isAlive($0) }
    }

    /// Each temp name's owner pid, read from the one place the writer puts it (never any other number in the name,
    /// such as the random suffix).
    static func sweepTemporaries(
        root: String, layerCache: String, rootfsCache: String?, remove owner: (pid_t) -> Bool
    ) -> [String] {
        var removed: [String] = []
        func sweep(_ dir: String, _ ownerPid: (String) -> pid_t?) {
            guard let names = try? FS.listDirectory(dir) else { return }
            for name in names {
                guard let pid = ownerPid(name), pid > 0, owner(pid) else { continue }
                let path = dir + "/" + name
                // Renamed away first: a writer finishing meanwhile then fails its rename into place instead of
                // publishing a tree this sweep had half deleted. The new name matches no temp pattern.
                let doomed = path + ".doomed-\(getpid())"
                guard rename(path, doomed) == 0 else { continue }
                if (try? FS.removeTree(doomed)) != nil { removed.append(path) }
            }
        }
        /// `<what>-<pid>-<random>` (store scratch) and `.tmp-<diff_id>-<pid>-<random>` (layer cache).
        func secondToLastField(_ name: String) -> pid_t? {
            let fields = name.split(separator: "-", omittingEmptySubsequences: false)
            return fields.count >= 3 ? pid_t(fields[fields.count - 2]) : nil
        }
        /// `<file>.tmp-<pid>-<random>` or `<file>.tmp-<pid>`.
        func afterTmpDash(_ name: String) -> pid_t? {
            guard let r = name.range(of: ".tmp-", options: .backwards) else { return nil }
            return pid_t(name[r.upperBound...].prefix { $0 != "-" })
        }
        let privateDir = root + "/.boxbench"
        sweep(privateDir + "/tmp", secondToLastField)
        for dir in [root, root + "/blobs/sha256", privateDir + "/build-cache", privateDir + "/layers"] {
            sweep(dir, afterTmpDash)
        }
        sweep(layerCache) { $0.hasPrefix(".tmp-") ? secondToLastField($0) : nil }
        if let rootfsCache {
            sweep(rootfsCache) { name in
                name.range(of: ".tmp.", options: .backwards).flatMap { pid_t(name[$0.upperBound...]) }
            }
        }
        return removed
    }
}
