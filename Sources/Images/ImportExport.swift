import CArchive
import Foundation

extension ImageStore {
    /// Write images as an OCI image layout: a directory, or a tar of one when `path` ends in `.tar`.
    public func export(_ refs: [String], to path: String) throws {
        let images = try refs.map { try resolve($0) }
        let asTar = path.hasSuffix(".tar")
        let dir = asTar ? try FS.makeTemporaryDirectory(in: tmpDir, prefix: "export-\(getpid())-") : path
        defer { if asTar { try? FS.removeTree(dir) } }
        try FS.makeDirectories(dir + "/blobs/sha256")
        var descriptors: [Descriptor] = []
        for image in images {
            for d in [image.digest, image.manifest.config.digest] + image.manifest.layers.map(\.digest) {
                try verifyBlob(d)
                let dst = dir + "/blobs/sha256/" + d.hex
                if FS.exists(dst) { continue }
                if link(blobPath(d), dst) != 0 {
                    try FS.copyFile(blobPath(d), dst, mode: 0o644)
                }
            }
            var desc = image.manifestDescriptor
            desc.annotations = image.reference.map { [refNameAnnotation: $0.description] }
            descriptors.append(desc)
        }
        try FS.writeAtomically(dir + "/oci-layout", try canonicalJSON(OCILayoutFile()))
        try FS.writeAtomically(dir + "/index.json", try canonicalJSON(ImageIndex(manifests: descriptors)))
        if asTar {
            let tmp = path + ".tmp-\(getpid())"
            do {
                try writePlainTar(of: dir, to: tmp)
                guard rename(tmp, path) == 0 else { throw ImageError.errno("rename \(tmp) to", path) }
            } catch {
                unlink(tmp)
                throw error
            }
        }
    }

    private func writePlainTar(of dir: String, to path: String) throws {
        let a = bb_archive_write_new()
        defer { bb_archive_write_free(a) }
        bb_archive_write_set_format_pax_restricted(a)
        guard bb_archive_write_open_filename(a, path) == ARCHIVE_OK else { throw archiveError(a, "create \(path)") }
        func walk(_ host: String, _ rel: String) throws {
            for name in try FS.listDirectory(host) {
                let h = host + "/" + name
                let r = rel.isEmpty ? name : rel + "/" + name
                let st = try FS.lstatOrThrow(h)
                let e = bb_archive_entry_new()
                defer { bb_archive_entry_free(e) }
                bb_archive_entry_set_pathname(e, r)
                let isDir = (st.st_mode & S_IFMT) == S_IFDIR
                bb_archive_entry_set_perm(e, isDir ? 0o755 : 0o644)
                bb_archive_entry_set_filetype(e, isDir ? ArchiveFileType.directory : ArchiveFileType.regular)
                bb_archive_entry_set_size(e, isDir ? 0 : la_int64_t(st.st_size))
                guard bb_archive_write_header(a, e) == ARCHIVE_OK else { throw archiveError(a, "write \(path)") }
                if isDir {
                    try walk(h, r)
                } else {
                    let data = try FS.readFile(h)
                    let n = data.withUnsafeBytes { bb_archive_write_data(a, $0.baseAddress, $0.count) }
                    guard n == data.count else { throw archiveError(a, "write \(path)") }
                }
            }
        }
        try walk(dir, "")
        guard bb_archive_write_close(a) == ARCHIVE_OK else { throw archiveError(a, "finish \(path)") }
    }

    /// Import an OCI layout (directory or tar) or a `docker save` tarball; returns the images tagged.
    /// `tag` renames a single imported image.
    @discardableResult
    public func importImages(from path: String, tag: ImageReference? = nil) throws -> [StoredImage] {
        let writer = try writerLock()
        defer { writer.unlock() }
        var dir = path
        var cleanup: String?
        // Registered before the archive is unpacked: a refused archive leaves no temp dir either.
        defer { if let cleanup { try? FS.removeTree(cleanup) } }
        if !FS.isDirectory(path) {
            let tmp = try FS.makeTemporaryDirectory(in: tmpDir, prefix: "import-\(getpid())-")
            cleanup = tmp
            // An image archive unpacks to about its own size (its blobs are compressed already): four times that
            // is generous for a compressed archive and stops a decompression bomb before it fills the disk.
            var st = stat()
            let archiveSize = stat(path, &st) == 0 ? Int64(st.st_size) : 0
            try LayerExtractor(
                allowDevices: false, preserveOwnership: false, label: "archive \(path)",
                maxTotalBytes: archiveSize * 4 + Self.maxJSONBlobSize * 16
            ).extract(archive: path, into: tmp, mode: .plain)
            dir = tmp
        }
        if FS.exists(dir + "/index.json") && FS.exists(dir + "/oci-layout") {
            return try importOCILayout(dir, tag: tag)
        }
        if FS.exists(dir + "/manifest.json") { return try importDockerSave(dir, tag: tag) }
        throw ImageError(
            .invalidImage,
            "import \(path): neither an OCI layout (oci-layout, index.json) nor a docker save archive (manifest.json)")
    }

    /// Manifests and configs are small JSON documents; anything bigger is refused before it is read.
    static let maxJSONBlobSize: Int64 = 4 << 20
    static let layerMediaTypes: Set<String> = [
        MediaType.layerTar, MediaType.layerGzip, MediaType.dockerLayerGzip,
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar",
    ]

    private func importOCILayout(_ dir: String, tag: ImageReference?) throws -> [StoredImage] {
        try FS.requireRegularFileBeneath(dir, "index.json")
        let idx = try decodeJSON(
            ImageIndex.self, try FS.readRegularFile(dir + "/index.json", limit: Self.maxJSONBlobSize),
            what: "\(dir)/index.json")
        /// The blob file for `desc`: a regular file (not a symlink, FIFO or device) of exactly the declared size.
        func checkedBlob(_ desc: Descriptor, limit: Int64?) throws -> String {
            let src = dir + "/blobs/sha256/" + desc.digest.hex
            var st = stat()
            guard lstat(src, &st) == 0 else {
                if errno == ENOENT {
                    throw ImageError(.notFound, "import: blob \(desc.digest) missing: \(src) (ENOENT)")
                }
                throw ImageError.errno("lstat", src)
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw ImageError(.invalidImage, "import: blob \(desc.digest) at \(src) is not a regular file")
            }
            // …nor reached through a symlinked directory (blobs/ or blobs/sha256/ linking elsewhere).
            do { try FS.requireRegularFileBeneath(dir, "blobs/sha256/" + desc.digest.hex) } catch {
                throw ImageError(.invalidImage, "import: blob \(desc.digest) at \(src) is not a regular file: \(error)")
            }
            guard desc.size >= 0, Int64(st.st_size) == desc.size else {
                throw ImageError(
                    .invalidImage,
                    "import: blob \(desc.digest) at \(src) has \(st.st_size) bytes, descriptor says \(desc.size)")
            }
            if let limit, desc.size > limit {
                throw ImageError(
                    .invalidImage,
                    "import: blob \(desc.digest) declares \(desc.size) bytes, more than \(limit) for JSON")
            }
            return src
        }
        func copyBlob(_ desc: Descriptor) throws -> Data {
            let src = try checkedBlob(desc, limit: Self.maxJSONBlobSize)
            let data = try FS.readFile(src)
            guard Digest.of(data) == desc.digest else {
                throw ImageError(.digestMismatch, "import: blob \(desc.digest) at \(src) does not match its digest")
            }
            if !hasBlob(desc.digest) { try FS.writeAtomically(blobPath(desc.digest), data) }
            return data
        }
        var out: [StoredImage] = []
        for desc in idx.manifests {
            guard desc.mediaType == MediaType.manifest || desc.mediaType == MediaType.dockerManifest else {
                throw ImageError(
                    .unsupported,
                    "import \(dir): manifest \(desc.digest) has media type \(desc.mediaType) (multi-platform indexes and other types are not supported)"
                )
            }
            let name = desc.annotations?[refNameAnnotation]
            let ref = try tag ?? name.map { try ImageReference(parsing: $0) }
            let manifest = try decodeJSON(ImageManifest.self, try copyBlob(desc), what: "manifest \(desc.digest)")
            guard manifest.config.mediaType == MediaType.config || manifest.config.mediaType == MediaType.dockerConfig
            else {
                throw ImageError(
                    .unsupported, "import: config \(manifest.config.digest) has media type \(manifest.config.mediaType)"
                )
            }
            let config = try decodeJSON(
                ImageConfig.self, try copyBlob(manifest.config), what: "config \(manifest.config.digest)")
            guard config.rootfs.diff_ids.count == manifest.layers.count else {
                throw ImageError(
                    .invalidImage,
                    "import: config \(manifest.config.digest) lists \(config.rootfs.diff_ids.count) diff_ids for \(manifest.layers.count) layers"
                )
            }
            for (i, l) in manifest.layers.enumerated() {
                guard Self.layerMediaTypes.contains(l.mediaType) else {
                    throw ImageError(.unsupported, "import: layer \(l.digest) has media type \(l.mediaType)")
                }
                let src = try checkedBlob(l, limit: nil)
                guard try hashFile(src) == l.digest else {
                    throw ImageError(.digestMismatch, "import: blob \(l.digest) at \(src) does not match its digest")
                }
                // Unpacked layers are cached by diff_id: a config that lies about it would poison the cache.
                let info = try Self.tarDigest(src)
                guard info.diffID == config.rootfs.diff_ids[i] else {
                    throw ImageError(
                        .digestMismatch,
                        "import: layer \(l.digest) unpacks to diff_id \(info.diffID), config says \(config.rootfs.diff_ids[i])"
                    )
                }
                if !hasBlob(l.digest) {
                    let tmp = makeTempFile("import")
                    try FS.copyFile(src, tmp, mode: 0o644)
                    try adoptBlob(file: tmp, digest: l.digest)
                }
                try recordLayerInfo(l.digest, info)
            }
            var plain = desc
            plain.annotations = nil
            if let ref { try self.tag(manifest: plain, as: ref) }
            out.append(try load(plain, reference: ref))
        }
        return out
    }

    private struct DockerSaveEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    private func importDockerSave(_ dir: String, tag: ImageReference?) throws -> [StoredImage] {
        try FS.requireRegularFileBeneath(dir, "manifest.json")
        let entries = try decodeJSON(
            [DockerSaveEntry].self, try FS.readRegularFile(dir + "/manifest.json", limit: Self.maxJSONBlobSize),
            what: "\(dir)/manifest.json")
        var out: [StoredImage] = []
        for entry in entries {
            func inside(_ rel: String) throws -> String {
                let clean = cleanRelativePath(rel)
                guard !clean.hasPrefix("..") else {
                    throw ImageError(.unsafeEntry, "docker save manifest path \(rel) escapes the archive")
                }
                // A file named by the manifest is one of the archive's own, never a link to one elsewhere.
                try FS.requireRegularFileBeneath(dir, clean)
                return dir + "/" + clean
            }
            let configData = try FS.readRegularFile(try inside(entry.Config), limit: Self.maxJSONBlobSize)
            let config = try decodeJSON(ImageConfig.self, configData, what: "docker config \(entry.Config)")
            var layers: [Descriptor] = []
            for (i, rel) in entry.Layers.enumerated() {
                let (desc, blob) = try writeLayer { try $0.copyTarStream(from: try inside(rel)) }
                guard i < config.rootfs.diff_ids.count, config.rootfs.diff_ids[i] == blob.diffID else {
                    throw ImageError(
                        .digestMismatch,
                        "import: layer \(rel) has diff_id \(blob.diffID), config says \(i < config.rootfs.diff_ids.count ? config.rootfs.diff_ids[i].description : "nothing")"
                    )
                }
                layers.append(desc)
            }
            // The config bytes are kept as they are, so the image ID (config digest) stays Docker's.
            let configDigest = try putBlob(configData)
            let manifest = ImageManifest(
                config: Descriptor(mediaType: MediaType.config, digest: configDigest, size: Int64(configData.count)),
                layers: layers)
            let manifestData = try canonicalJSON(manifest)
            let desc = Descriptor(
                mediaType: MediaType.manifest, digest: try putBlob(manifestData), size: Int64(manifestData.count),
                platform: Platform(architecture: config.architecture, os: config.os))
            let refs = try tag.map { [$0] } ?? (entry.RepoTags ?? []).map { try ImageReference(parsing: $0) }
            for r in refs { try self.tag(manifest: desc, as: r) }
            out.append(StoredImage(reference: refs.first, manifestDescriptor: desc, manifest: manifest, config: config))
        }
        return out
    }
}
