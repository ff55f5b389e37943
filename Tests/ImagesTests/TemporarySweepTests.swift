import Foundation
import Testing

@testable import Images

/// `boxbench run` sweeps the image store's temp files of builds that were killed (SIGKILL leaves them): only
/// those whose owner pid is dead go, read from where the writer puts the pid, never from the random suffix.
struct TemporarySweepTests {
    @Test func removesOnlyDeadOwnersTemporaries() throws {
        let root = NSTemporaryDirectory() + "bb-sweep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = root + "/store"
        let layers = root + "/layers"
        let rootfs = root + "/rootfs"
        let fm = FileManager.default
        for d in [store + "/.boxbench/tmp", store + "/blobs/sha256", store + "/.boxbench/build-cache", layers, rootfs] {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        let dead: Int32 = 4_000_001
        let live: Int32 = 4_000_002
        // The random suffix 4000001 must not make a live owner's file look dead.
        let files = [
            "\(store)/.boxbench/tmp/run-\(dead)-AbC123": true,
            "\(store)/.boxbench/tmp/run-\(live)-\(dead)": false,
            "\(store)/blobs/sha256/abcd.tmp-\(dead)-77": true,
            "\(store)/blobs/sha256/abcd.tmp-\(live)-\(dead)": false,
            "\(store)/blobs/sha256/abcd": false,
            "\(store)/index.json.tmp-\(dead)": true,
            "\(store)/.boxbench/build-cache/key.tmp-\(dead)-1": true,
            "\(layers)/.tmp-0123abcd-\(dead)-XyZ": true,
            "\(layers)/.tmp-0123abcd-\(live)-\(dead)": false,
            "\(layers)/sha256-0123abcd": false,
            "\(rootfs)/sha256-ff.tmp.\(dead)": true,
            "\(rootfs)/sha256-ff.tmp.\(live)": false,
        ]
        for path in files.keys { #expect(fm.createFile(atPath: path, contents: Data("x".utf8))) }
        let removed = ImageStore.removeTemporariesOfDeadProcesses(
            root: store, layerCache: layers, rootfsCache: rootfs, isAlive: { $0 != dead })
        #expect(Set(removed) == Set(files.filter(\.value).keys))
        for (path, goes) in files { #expect(fm.fileExists(atPath: path) == !goes, "\(path)") }
    }
}
