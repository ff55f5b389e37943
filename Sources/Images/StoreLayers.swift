import CArchive
import Crypto
import Foundation

/// Per-layer facts OCI descriptors do not carry: the diff_id and the unpacked tar size.
struct LayerInfo: Codable {
    var diffID: Digest
    var uncompressedSize: Int64
}

extension ImageStore {
    /// Write one reproducible layer through `body` and move it into the blob store.
    func writeLayer(_ body: (LayerWriter) throws -> Void) throws -> (Descriptor, LayerBlob) {
        let tmp = makeTempFile("layer")
        defer { unlink(tmp) }
        let writer = try LayerWriter(outputPath: tmp, mtime: reproducibleEpoch())
        try body(writer)
        let blob = try writer.finish()
        try adoptBlob(file: tmp, digest: blob.digest)
        try recordLayerInfo(blob.digest, LayerInfo(diffID: blob.diffID, uncompressedSize: blob.uncompressedSize))
        let desc = Descriptor(mediaType: MediaType.layerGzip, digest: blob.digest, size: blob.compressedSize)
        return (desc, blob)
    }

    func recordLayerInfo(_ d: Digest, _ info: LayerInfo) throws {
        try FS.writeAtomically(layerInfoDir + "/\(d.hex).json", try canonicalJSON(info))
    }

    /// diff_id and unpacked size of a layer blob; computed by decompressing once, then remembered.
    func layerInfo(_ layer: Descriptor) throws -> LayerInfo {
        let path = layerInfoDir + "/\(layer.digest.hex).json"
        if let data = try? FS.readFile(path), let info = try? JSONDecoder().decode(LayerInfo.self, from: data) {
            return info
        }
        try verifyBlob(layer.digest)
        let info = try Self.tarDigest(blobPath(layer.digest))
        try recordLayerInfo(layer.digest, info)
        return info
    }

    /// sha256 and length of the decompressed stream of a (possibly compressed) tar file.
    static func tarDigest(_ path: String) throws -> LayerInfo {
        var h = SHA256()
        var n: Int64 = 0
        try forEachDecompressedChunk(of: path) { chunk in
            h.update(bufferPointer: chunk)
            n += Int64(chunk.count)
        }
        return LayerInfo(diffID: Digest.from(h.finalize()), uncompressedSize: n)
    }

    /// The decompressed bytes of a file (gzip, zstd, … or plain), chunk by chunk, through libarchive's raw format.
    static func forEachDecompressedChunk(of path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let a = bb_archive_read_new()
        defer { bb_archive_read_free(a) }
        bb_archive_read_support_filter_all(a)
        bb_archive_read_support_format_raw(a)
        var entry: OpaquePointer?
        guard bb_archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK,
            bb_archive_read_next_header(a, &entry) == ARCHIVE_OK
        else { throw archiveError(a, "open \(path)") }
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let r = buf.withUnsafeMutableBytes { bb_archive_read_data(a, $0.baseAddress, $0.count) }
            if r == 0 { return }
            guard r > 0 else { throw archiveError(a, "decompress \(path)") }
            try buf.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
        }
    }

    // MARK: unpacking

    /// Overlay lowerdirs for an image, top-most first: each layer unpacked once per diff_id under
    /// `layerCache` (temp dir + rename, so a crash never leaves a half layer), whiteouts in overlay form.
    public func lowerDirs(for image: StoredImage) throws -> [String] {
        try lowerDirs(layers: image.manifest.layers, diffIDs: image.config.rootfs.diff_ids)
    }

    func lowerDirs(layers: [Descriptor], diffIDs: [Digest]) throws -> [String] {
        try FS.makeDirectories(layerCache)
        var dirs: [String] = []
        for (i, layer) in layers.enumerated() {
            let diffID = i < diffIDs.count ? diffIDs[i] : try layerInfo(layer).diffID
            let dir = layerCache + "/" + diffID.hex
            if !FS.isDirectory(dir) {
                try verifyBlob(layer.digest)
                let tmp = try FS.makeTemporaryDirectory(in: layerCache, prefix: ".tmp-\(diffID.short)-\(getpid())-")
                do {
                    chmod(tmp, 0o755)
                    try LayerExtractor(allowDevices: false, label: "layer \(layer.digest)")
                        .extract(archive: blobPath(layer.digest), into: tmp, mode: .overlayLower)
                    if rename(tmp, dir) != 0 {
                        let e = errno
                        // Another process unpacked the same layer first: keep theirs.
                        guard (e == EEXIST || e == ENOTEMPTY) && FS.isDirectory(dir) else {
                            throw ImageError.errno("rename \(tmp) to", dir, e)
                        }
                        try FS.removeTree(tmp)
                    }
                } catch {
                    try? FS.removeTree(tmp)
                    throw error
                }
            }
            dirs.append(dir)
        }
        return dirs.reversed()
    }

    /// Apply every layer, bottom-up, into `directory` (created if missing; must be empty), whiteouts applied.
    public func flatten(_ image: StoredImage, into directory: String, allowDevices: Bool = false) throws {
        try flatten(
            layers: image.manifest.layers, into: directory, allowDevices: allowDevices,
            label: image.reference?.description ?? image.digest.description)
    }

    /// The same for a list of layers (a build stage that is not an image yet).
    func flatten(layers: [Descriptor], into directory: String, allowDevices: Bool = false, label: String) throws {
        try FS.makeDirectories(directory)
        guard try FS.listDirectory(directory).isEmpty else {
            throw ImageError(.io, "flatten \(label): \(directory) is not empty")
        }
        chmod(directory, 0o755)
        for layer in layers {
            try verifyBlob(layer.digest)
            try LayerExtractor(allowDevices: allowDevices, label: "layer \(layer.digest)")
                .extract(archive: blobPath(layer.digest), into: directory, mode: .flatten)
        }
    }
}

extension ImageStore {
    /// The image's layers flattened once into `<root>/<digest hex>` (temp dir + rename, so a crash leaves no
    /// half-flattened tree); the directory native runs, peer bundles and VM artifacts share.
    public func flattenedRootfs(_ image: StoredImage, under root: String) throws -> String {
        let rootfs = root + "/" + image.digest.hex
        if FileManager.default.fileExists(atPath: rootfs) {
            chmod(root, 0o700)  // a cache made before this rule was kept, but not left reachable
            return rootfs
        }
        let tmp = rootfs + ".tmp.\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        try FS.makeDirectories(root)
        // Image trees hold setuid files: no local user may reach them (Docker's data root is 0710 for this).
        chmod(root, 0o700)
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        do {
            try flatten(image, into: tmp)
            guard rename(tmp, rootfs) == 0 else {
                throw ImageError(.io, "rename \(tmp) → \(rootfs): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        return rootfs
    }
}
