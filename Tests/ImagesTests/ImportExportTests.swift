import Foundation
import Testing

@testable import Images

@Suite(.serialized) struct ImportExportTests {
    func source(_ dir: TempDir) throws -> (ImageStore, StoredImage) {
        let store = try ImageStore(root: dir.path + "/src", layerCache: dir.path + "/src-layers")
        dir.write(
            "ctx/Dockerfile", "FROM boxbench/busybox\nCOPY f /f\nUSER nobody\nWORKDIR /srv\nCMD [\"cat\", \"/f\"]\n")
        dir.write("ctx/f", "payload\n")
        let image = try ImageBuilder(store: store).build(
            BuildOptions(context: dir.path + "/ctx", tag: ImageReference(name: "exp", tag: "1")))
        return (store, image)
    }

    @Test(arguments: ["layout", "layout.tar"]) func exportThenImportKeepsDigests(_ target: String) throws {
        let dir = TempDir("export")
        defer { dir.cleanup() }
        let (src, image) = try source(dir)
        try src.export(["exp:1"], to: dir.path + "/" + target)
        let dst = try ImageStore(root: dir.path + "/dst", layerCache: dir.path + "/dst-layers")
        let imported = try dst.importImages(from: dir.path + "/" + target)
        #expect(imported.map(\.digest) == [image.digest])
        #expect(try dst.resolve("exp:1").digest == image.digest)
        if target == "layout" {
            let r = runTool(["skopeo", "inspect", "oci:\(dir.path)/layout:exp:1"])
            #expect(r.status == 0, "\(r.output)")
        }
    }

    /// An archive someone else made cannot point the importer at host files, nor fill the disk.
    @Test func importRefusesSymlinkedIndexesAndBombs() throws {
        let dir = TempDir("import-hostile")
        defer { dir.cleanup() }
        let (src, _) = try source(dir)
        try src.export(["exp:1"], to: dir.path + "/layout")
        let dst = try ImageStore(root: dir.path + "/dst", layerCache: dir.path + "/dst-layers")
        // index.json as a symlink to a file outside the layout.
        try FS.copyFile(dir.path + "/layout/index.json", dir.path + "/elsewhere.json", mode: 0o644)
        unlink(dir.path + "/layout/index.json")
        symlink(dir.path + "/elsewhere.json", dir.path + "/layout/index.json")
        #expect(throws: ImageError.self) { try dst.importImages(from: dir.path + "/layout") }
        #expect(runTool(["tar", "-cf", dir.path + "/layout.tar", "-C", dir.path + "/layout", "."]).status == 0)
        do {
            _ = try dst.importImages(from: dir.path + "/layout.tar")
            Issue.record("a layout tar with a symlinked index.json was imported")
        } catch let error as ImageError {
            #expect("\(error)".contains("index.json"), "\(error)")
        }
        // A docker save archive whose manifest.json is a symlink.
        try FS.makeDirectories(dir.path + "/save")
        symlink("/etc/hostname", dir.path + "/save/manifest.json")
        #expect(throws: ImageError.self) { try dst.importImages(from: dir.path + "/save") }
        // 256 MiB of zeros gzip to ~250 KiB: refused before it is written out.
        let zeros = dir.path + "/bomb/zeros"
        try FS.makeDirectories(dir.path + "/bomb")
        #expect(creat(zeros, 0o644) >= 0 && truncate(zeros, 256 << 20) == 0)
        #expect(runTool(["tar", "-czf", dir.path + "/bomb.tar.gz", "-C", dir.path + "/bomb", "zeros"]).status == 0)
        do {
            _ = try dst.importImages(from: dir.path + "/bomb.tar.gz")
            Issue.record("a decompression bomb was imported")
        } catch let error as ImageError {
            #expect("\(error)".contains("more than"), "\(error)")
        }
        let left = try FS.listDirectory(dst.tmpDir)
        #expect(left.isEmpty, "\(left)")
    }

    @Test func dockerSaveTarballImports() throws {
        let dir = TempDir("dockersave")
        defer { dir.cleanup() }
        let (src, image) = try source(dir)
        // Lay out what `docker save` writes: uncompressed layer tars, the config, manifest.json.
        let save = dir.path + "/save"
        var layerPaths: [String] = []
        for (i, l) in image.manifest.layers.enumerated() {
            try FS.makeDirectories(save + "/l\(i)")
            let r = runTool(["sh", "-c", "gzip -dc < \(src.blobPath(l.digest)) > \(save)/l\(i)/layer.tar"])
            #expect(r.status == 0)
            layerPaths.append("l\(i)/layer.tar")
        }
        try FS.copyFile(
            src.blobPath(image.manifest.config.digest), save + "/\(image.manifest.config.digest.hex).json", mode: 0o644)
        let manifest: [[String: Any]] = [
            ["Config": "\(image.manifest.config.digest.hex).json", "RepoTags": ["saved/app:2"], "Layers": layerPaths]
        ]
        try FS.writeAtomically(save + "/manifest.json", try JSONSerialization.data(withJSONObject: manifest))
        #expect(runTool(["tar", "-cf", dir.path + "/save.tar", "-C", save, "."]).status == 0)

        let dst = try ImageStore(root: dir.path + "/dst", layerCache: dir.path + "/dst-layers")
        let imported = try dst.importImages(from: dir.path + "/save.tar")
        #expect(imported.count == 1)
        let got = try dst.resolve("saved/app:2")
        #expect(got.config.rootfs.diff_ids == image.config.rootfs.diff_ids)
        #expect(got.manifest.config.digest == image.manifest.config.digest)
        // Our gzip is reproducible, so recompressing gives the very same layer blobs.
        #expect(got.manifest.layers.map(\.digest) == image.manifest.layers.map(\.digest))
        try dst.flatten(got, into: dir.path + "/rootfs")
        #expect(try String(contentsOfFile: dir.path + "/rootfs/f", encoding: .utf8) == "payload\n")
    }

    @Test func bundleHasProcessAndRootfs() throws {
        let dir = TempDir("bundle")
        defer { dir.cleanup() }
        let (store, image) = try source(dir)
        let process = try store.bundleRootfs(image, into: dir.path + "/bundle")
        #expect(process.args == ["cat", "/f"])
        #expect(process.cwd == "/srv")
        #expect(process.user == BundleUser(uid: 65534, gid: 65534))
        #expect(process.env.contains { $0.hasPrefix("PATH=") })
        #expect(FS.exists(dir.path + "/bundle/rootfs/bin/busybox"))
    }
}
