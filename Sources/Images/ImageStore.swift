import CArchive
import Crypto
import Foundation
import Logging

/// An image in the store, resolved from a tag or digest.
public struct StoredImage: Sendable {
    /// The tag it was resolved from (nil when resolved by digest and untagged).
    public var reference: ImageReference?
    public var manifestDescriptor: Descriptor
    public var manifest: ImageManifest
    public var config: ImageConfig
    public var digest: Digest { manifestDescriptor.digest }

    public var entrypoint: [String] { config.config?.Entrypoint ?? [] }
    public var cmd: [String] { config.config?.Cmd ?? [] }
    /// What a container runs: Entrypoint followed by Cmd.
    public var argv: [String] { entrypoint + cmd }
    public var env: [String] { config.config?.Env ?? [] }
    public var workdir: String {
        let w = config.config?.WorkingDir ?? ""
        return w.isEmpty ? "/" : w
    }
    public var user: String? {
        let u = config.config?.User ?? ""
        return u.isEmpty ? nil : u
    }
}

/// One tagged image as listed by `image ls`.
public struct ImageSummary: Sendable {
    public var reference: ImageReference
    public var digest: Digest
    public var compressedSize: Int64
}

public struct PruneReport: Sendable {
    public var removedBlobs: [Digest]
    public var freedBytes: Int64
}

/// An OCI image-layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`) plus boxbench's own
/// bookkeeping under `.boxbench/` (locks, temp files, build cache, layer sizes), which other tools ignore.
///
/// Writers serialise on flock: `index.lock` around read-modify-write of index.json; builds and imports hold
/// `gc.lock` shared while they add blobs, and prune holds it exclusively, so GC never eats a build's blobs.
public final class ImageStore: Sendable {
    public let root: String
    /// Unpacked layers, one directory per diff_id, used as overlay lowerdirs.
    public let layerCache: String
    let logger: Logger?

    var blobsDir: String { root + "/blobs/sha256" }
    var privateDir: String { root + "/.boxbench" }
    var tmpDir: String { privateDir + "/tmp" }
    var buildCacheDir: String { privateDir + "/build-cache" }
    var layerInfoDir: String { privateDir + "/layers" }

    public init(root: String, layerCache: String, logger: Logger? = nil) throws {
        self.root = root
        self.layerCache = layerCache
        self.logger = logger
        // libarchive is loaded on first use: a missing library is an error here, not an abort mid-build.
        if let failure = bb_archive_load() { throw ImageError(.archive, String(cString: failure)) }
        try FS.makeDirectories(root + "/blobs/sha256")
        for d in [tmpDir, buildCacheDir, layerInfoDir, layerCache] { try FS.makeDirectories(d) }
        // Unpacked layers and build trees hold the images' setuid files: only root may reach them (Docker's data
        // root is 0710 for the same reason); a local user could otherwise run them.
        for d in [root, layerCache] where chmod(d, 0o700) != 0 {
            throw ImageError(.io, "chmod 0700 \(d): \(String(cString: strerror(errno)))")
        }
        let lock = try FileLock(path: privateDir + "/index.lock")
        defer { lock.unlock() }
        if !FS.exists(root + "/oci-layout") {
            try FS.writeAtomically(root + "/oci-layout", try canonicalJSON(OCILayoutFile()))
        }
        if !FS.exists(root + "/index.json") {
            try FS.writeAtomically(root + "/index.json", try canonicalJSON(ImageIndex(manifests: [])))
        }
    }

    // MARK: blobs

    public func blobPath(_ d: Digest) -> String { blobsDir + "/" + d.hex }

    public func hasBlob(_ d: Digest) -> Bool { FS.exists(blobPath(d)) }

    /// Store bytes under their digest (temp file + rename; an existing blob is left alone).
    @discardableResult
    public func putBlob(_ data: Data) throws -> Digest {
        let d = Digest.of(data)
        if !hasBlob(d) { try FS.writeAtomically(blobPath(d), data) }
        return d
    }

    /// Move a file whose digest is already known into the blob directory.
    func adoptBlob(file: String, digest: Digest) throws {
        if hasBlob(digest) {
            unlink(file)
            return
        }
        guard rename(file, blobPath(digest)) == 0 else { throw ImageError.errno("rename \(file) to", blobPath(digest)) }
    }

    /// Read a blob and check its digest; a tampered or truncated blob is an error naming digest and path.
    public func readBlob(_ d: Digest) throws -> Data {
        let path = blobPath(d)
        guard FS.exists(path) else { throw ImageError(.notFound, "blob \(d) missing: \(path)") }
        let data = try FS.readFile(path)
        let actual = Digest.of(data)
        guard actual == d else {
            throw ImageError(.digestMismatch, "blob \(d) at \(path) is corrupt: content hashes to \(actual)")
        }
        return data
    }

    /// Stream-hash a blob file and check it matches its name.
    public func verifyBlob(_ d: Digest) throws {
        let path = blobPath(d)
        let actual = try hashFile(path)
        guard actual == d else {
            throw ImageError(.digestMismatch, "blob \(d) at \(path) is corrupt: content hashes to \(actual)")
        }
    }

    func hashFile(_ path: String) throws -> Digest {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ImageError(.notFound, "blob missing: \(path)") }
            throw ImageError.errno("open", path)
        }
        defer { close(fd) }
        var h = SHA256()
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ImageError.errno("read", path) }
            if n == 0 { break }
            buf.withUnsafeBytes { h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return Digest.from(h.finalize())
    }

    func makeTempFile(_ prefix: String) -> String {
        tmpDir + "/\(prefix)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    // MARK: locks

    /// Held (shared) while blobs are added that index.json does not reference yet.
    /// Runs `body` while no prune can run (blobs added by someone other than a build, e.g. a registry pull).
    public func withBlobWriters<T>(_ body: () throws -> T) throws -> T {
        let lock = try writerLock()
        defer { lock.unlock() }
        return try body()
    }

    func writerLock() throws -> FileLock { try FileLock(path: privateDir + "/gc.lock", shared: true) }

    // MARK: index and tags

    public func index() throws -> ImageIndex {
        try decodeJSON(ImageIndex.self, try FS.readFile(root + "/index.json"), what: "\(root)/index.json")
    }

    private func updateIndex(_ body: (inout ImageIndex) throws -> Void) throws {
        let lock = try FileLock(path: privateDir + "/index.lock")
        defer { lock.unlock() }
        var idx = try index()
        try body(&idx)
        try FS.writeAtomically(root + "/index.json", try canonicalJSON(idx))
    }

    /// Write config + manifest blobs and point `reference` at the manifest (index.json is written last).
    @discardableResult
    public func commit(config: ImageConfig, layers: [Descriptor], as reference: ImageReference?) throws -> StoredImage {
        let configData = try canonicalJSON(config)
        let configDigest = try putBlob(configData)
        let manifest = ImageManifest(
            config: Descriptor(mediaType: MediaType.config, digest: configDigest, size: Int64(configData.count)),
            layers: layers)
        let manifestData = try canonicalJSON(manifest)
        let manifestDigest = try putBlob(manifestData)
        var desc = Descriptor(
            mediaType: MediaType.manifest, digest: manifestDigest, size: Int64(manifestData.count),
            platform: Platform(architecture: config.architecture, os: config.os))
        if let reference { try tag(manifest: desc, as: reference) }
        desc.annotations = reference.map { [refNameAnnotation: $0.description] }
        return StoredImage(reference: reference, manifestDescriptor: desc, manifest: manifest, config: config)
    }

    public func tag(manifest: Descriptor, as reference: ImageReference) throws {
        var desc = manifest
        desc.annotations = (desc.annotations ?? [:]).merging([refNameAnnotation: reference.description]) { $1 }
        try updateIndex { idx in
            idx.manifests.removeAll { $0.annotations?[refNameAnnotation] == reference.description }
            idx.manifests.append(desc)
        }
    }

    /// Resolve `name[:tag]`, or a manifest digest (`sha256:…`, or a unique hex prefix of at least 12).
    public func resolve(_ ref: String) throws -> StoredImage {
        let idx = try index()
        var found: Descriptor?
        var reference: ImageReference?
        let hexPrefix = ref.hasPrefix("sha256:") ? String(ref.dropFirst(7)) : ref
        if hexPrefix.count >= 12, hexPrefix.allSatisfy(\.isHexDigit) {
            let matches = Set(idx.manifests.filter { $0.digest.hex.hasPrefix(hexPrefix) }.map(\.digest))
            if matches.count > 1 { throw ImageError(.invalidReference, "digest prefix \(ref) is ambiguous") }
            if let d = matches.first {
                found = idx.manifests.first { $0.digest == d }
                reference = found?.annotations?[refNameAnnotation].flatMap { try? ImageReference(parsing: $0) }
            }
        }
        if found == nil {
            let r = try ImageReference(parsing: ref)
            found = idx.manifests.last { $0.annotations?[refNameAnnotation] == r.description }
            reference = r
        }
        guard let desc = found else { throw ImageError(.notFound, "image \(ref) not found in \(root)") }
        return try load(desc, reference: reference)
    }

    func load(_ desc: Descriptor, reference: ImageReference?) throws -> StoredImage {
        let manifest = try decodeJSON(ImageManifest.self, try readBlob(desc.digest), what: "manifest \(desc.digest)")
        let config = try decodeJSON(
            ImageConfig.self, try readBlob(manifest.config.digest), what: "config \(manifest.config.digest)")
        return StoredImage(reference: reference, manifestDescriptor: desc, manifest: manifest, config: config)
    }

    /// Tagged images, sorted by reference.
    public func list() throws -> [ImageSummary] {
        var out: [ImageSummary] = []
        for desc in try index().manifests {
            guard let name = desc.annotations?[refNameAnnotation], let ref = try? ImageReference(parsing: name) else {
                continue
            }
            let manifest = try decodeJSON(
                ImageManifest.self, try readBlob(desc.digest), what: "manifest \(desc.digest)")
            out.append(
                ImageSummary(
                    reference: ref, digest: desc.digest,
                    compressedSize: manifest.layers.reduce(0) { $0 + $1.size }))
        }
        return out.sorted { $0.reference.description < $1.reference.description }
    }

    /// Every tagged image, loaded.
    public func allImages() throws -> [StoredImage] {
        try index().manifests.map { desc in
            try load(desc, reference: desc.annotations?[refNameAnnotation].flatMap { try? ImageReference(parsing: $0) })
        }
    }

    /// Untag; blobs stay until `prune`.
    public func remove(_ ref: String) throws {
        let image = try resolve(ref)
        try updateIndex { idx in
            if let r = image.reference,
                idx.manifests.contains(where: { $0.annotations?[refNameAnnotation] == r.description })
            {
                idx.manifests.removeAll { $0.annotations?[refNameAnnotation] == r.description }
            } else {
                idx.manifests.removeAll { $0.digest == image.digest }
            }
        }
    }

    // MARK: garbage collection

    /// Delete blobs no index.json entry reaches, stale temp files, build-cache entries whose layer is gone,
    /// and unpacked layers no image uses.
    public func prune() throws -> PruneReport {
        let gc = try FileLock(path: privateDir + "/gc.lock")
        defer { gc.unlock() }
        var live = Set<Digest>()
        var liveDiffIDs = Set<Digest>()
        for desc in try index().manifests {
            live.insert(desc.digest)
            let manifest = try decodeJSON(
                ImageManifest.self, try readBlob(desc.digest), what: "manifest \(desc.digest)")
            live.insert(manifest.config.digest)
            for l in manifest.layers { live.insert(l.digest) }
            if let config = try? decodeJSON(ImageConfig.self, try readBlob(manifest.config.digest), what: "config") {
                liveDiffIDs.formUnion(config.rootfs.diff_ids)
            }
        }
        var removed: [Digest] = []
        var freed: Int64 = 0
        for name in try FS.listDirectory(blobsDir) {
            let path = blobsDir + "/" + name
            guard let d = try? Digest(parsing: "sha256:" + name) else {
                if name.contains(".tmp-") { try FS.removeTree(path) }
                continue
            }
            if live.contains(d) { continue }
            let st = try FS.lstatOrThrow(path)
            guard unlink(path) == 0 else { throw ImageError.errno("unlink", path) }
            removed.append(d)
            freed += Int64(st.st_size)
            unlink(layerInfoDir + "/" + name + ".json")
        }
        for name in try FS.listDirectory(tmpDir) { try FS.removeTree(tmpDir + "/" + name) }
        for name in try FS.listDirectory(buildCacheDir) {
            let path = buildCacheDir + "/" + name
            if let entry = try? decodeJSON(BuildCacheEntry.self, FS.readFile(path), what: path),
                hasBlob(entry.layer.digest)
            {
                continue
            }
            unlink(path)
        }
        if FS.isDirectory(layerCache) {
            for name in try FS.listDirectory(layerCache) where !name.hasPrefix(".") {
                if let d = try? Digest(parsing: "sha256:" + name), !liveDiffIDs.contains(d) {
                    try FS.removeTree(layerCache + "/" + name)
                }
            }
        }
        logger?.info("pruned store", metadata: ["root": "\(root)", "blobs": "\(removed.count)", "bytes": "\(freed)"])
        return PruneReport(removedBlobs: removed.sorted(), freedBytes: freed)
    }
}

/// A build-cache record: the layer a step produced, found again by the step's cache key.
struct BuildCacheEntry: Codable {
    var layer: Descriptor
    var diffID: Digest
    var uncompressedSize: Int64
}
