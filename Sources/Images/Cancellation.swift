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
        var removed: [String] = []
        func sweep(_ dir: String, _ matches: (String) -> Bool) {
            guard let names = try? FS.listDirectory(dir) else { return }
            for name in names where matches(name) {
                let path = dir + "/" + name
                if (try? FS.removeTree(path)) != nil { removed.append(path) }
            }
        }
        let privateDir = root + "/.boxbench"
        sweep(privateDir + "/tmp") { $0.contains("-\(pid)-") }
        for dir in [root, root + "/blobs/sha256", privateDir + "/build-cache", privateDir + "/layers"] {
            sweep(dir) { $0.contains(".tmp-\(pid)-") }
        }
        sweep(layerCache) { $0.hasPrefix(".tmp-") && $0.contains("-\(pid)-") }
        if let rootfsCache { sweep(rootfsCache) { $0.hasSuffix(".tmp.\(pid)") } }
        return removed
    }
}
