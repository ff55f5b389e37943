import CArchive
import Crypto
import Foundation

/// A layer blob written to disk: digests of the gzip stream (layer digest) and of the tar (diff_id).
public struct LayerBlob: Sendable, Equatable {
    public var digest: Digest
    public var diffID: Digest
    public var compressedSize: Int64
    public var uncompressedSize: Int64
}

/// One tar entry; paths are relative ("usr/bin/x"), never absolute, never containing "..".
struct TarEntry {
    enum Kind {
        case file(source: String?)  // nil: empty file
        case directory
        case symlink(target: String)
        case hardlink(target: String)
        case charDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
        case fifo
    }
    var path: String
    var kind: Kind
    var mode: UInt32  // permission bits incl. setuid/setgid/sticky
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    /// Extended attributes recorded in the tar (pax SCHILY.xattr.*): only file capabilities are carried.
    var xattrs: [String: [UInt8]] = [:]
    var size: Int64 = 0
}

/// Receives bytes from a libarchive writer, hashes and counts them, and forwards them.
private final class HashingSink {
    var hasher = SHA256()
    var count: Int64 = 0
    var failure: ImageError?
    let forward: (UnsafeRawBufferPointer) throws -> Void
    init(forward: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.forward = forward }
}

private let sinkWrite: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Int = {
    _, client, buffer, length in
    let sink = Unmanaged<HashingSink>.fromOpaque(client!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
    sink.hasher.update(bufferPointer: bytes)
    sink.count += Int64(length)
    do { try sink.forward(bytes) } catch {
        sink.failure = error as? ImageError ?? ImageError(.io, "\(error)")
        return -1
    }
    return length
}

func archiveError(_ a: OpaquePointer?, _ operation: String) -> ImageError {
    let msg = a.flatMap { bb_archive_error_string($0) }.map { String(cString: $0) } ?? "unknown error"
    return ImageError(.archive, "\(operation): \(msg)")
}

/// Streams a reproducible tar (pax, fixed mtime, numeric owners, no atime/ctime) through gzip into a file,
/// hashing both the tar and the gzip bytes in one pass.
final class LayerWriter {
    let outputPath: String
    let mtime: Int64
    private let fd: Int32
    private let tar: OpaquePointer
    private let gzip: OpaquePointer
    private let tarSink: HashingSink
    private let gzipSink: HashingSink
    private var finished = false
    private var rawStream = false

    init(outputPath: String, mtime: Int64) throws {
        self.outputPath = outputPath
        self.mtime = mtime
        fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImageError.errno("create", outputPath) }
        let fd = self.fd
        gzipSink = HashingSink { bytes in try FS.writeAll(fd, bytes, path: outputPath) }
        gzip = bb_archive_write_new()
        tar = bb_archive_write_new()
        // The gzip stream: libarchive's "raw" format with one entry, gzip filter, header timestamp off.
        bb_archive_write_set_format_raw(gzip)
        bb_archive_write_add_filter_gzip(gzip)
        bb_archive_write_set_bytes_per_block(gzip, 0)
        guard bb_archive_write_set_filter_option(gzip, "gzip", "timestamp", nil) == ARCHIVE_OK else {
            throw archiveError(gzip, "disable gzip timestamp for \(outputPath)")
        }
        guard
            bb_archive_write_open(gzip, Unmanaged.passUnretained(gzipSink).toOpaque(), nil, sinkWrite, nil)
                == ARCHIVE_OK
        else { throw archiveError(gzip, "open gzip writer for \(outputPath)") }
        let raw = bb_archive_entry_new()
        bb_archive_entry_set_pathname(raw, "layer.tar")
        bb_archive_entry_set_filetype(raw, ArchiveFileType.regular)
        bb_archive_entry_set_perm(raw, 0o644)
        defer { bb_archive_entry_free(raw) }
        guard bb_archive_write_header(gzip, raw) == ARCHIVE_OK else {
            throw archiveError(gzip, "start gzip stream for \(outputPath)")
        }
        let gzipArchive = gzip
        tarSink = HashingSink { bytes in
            guard bytes.count > 0 else { return }
            let n = bb_archive_write_data(gzipArchive, bytes.baseAddress, bytes.count)
            guard n == bytes.count else { throw archiveError(gzipArchive, "compress \(outputPath)") }
        }
        bb_archive_write_set_format_pax_restricted(tar)
        bb_archive_write_set_bytes_in_last_block(tar, 1)
        guard
            bb_archive_write_open(tar, Unmanaged.passUnretained(tarSink).toOpaque(), nil, sinkWrite, nil)
                == ARCHIVE_OK
        else { throw archiveError(tar, "open tar writer for \(outputPath)") }
    }

    deinit {
        if !finished {
            bb_archive_write_free(tar)
            bb_archive_write_free(gzip)
            close(fd)
        }
    }

    func add(_ e: TarEntry) throws {
        let entry = bb_archive_entry_new()
        defer { bb_archive_entry_free(entry) }
        bb_archive_entry_set_pathname_utf8(entry, e.path)
        bb_archive_entry_set_uid(entry, la_int64_t(e.uid))
        bb_archive_entry_set_gid(entry, la_int64_t(e.gid))
        bb_archive_entry_set_mtime(entry, time_t(mtime), 0)
        var size: Int64 = 0
        switch e.kind {
        case .file:
            bb_archive_entry_set_filetype(entry, ArchiveFileType.regular)
            size = e.size
        case .directory: bb_archive_entry_set_filetype(entry, ArchiveFileType.directory)
        case .symlink(let target):
            bb_archive_entry_set_filetype(entry, ArchiveFileType.symlink)
            bb_archive_entry_set_symlink_utf8(entry, target)
        case .hardlink(let target):
            bb_archive_entry_set_filetype(entry, ArchiveFileType.regular)
            bb_archive_entry_set_hardlink_utf8(entry, target)
        case .charDevice(let major, let minor):
            bb_archive_entry_set_filetype(entry, ArchiveFileType.character)
            bb_archive_entry_set_rdevmajor(entry, dev_t(major))
            bb_archive_entry_set_rdevminor(entry, dev_t(minor))
        case .blockDevice(let major, let minor):
            bb_archive_entry_set_filetype(entry, ArchiveFileType.block)
            bb_archive_entry_set_rdevmajor(entry, dev_t(major))
            bb_archive_entry_set_rdevminor(entry, dev_t(minor))
        case .fifo: bb_archive_entry_set_filetype(entry, ArchiveFileType.fifo)
        }
        bb_archive_entry_set_perm(entry, mode_t(e.mode & 0o7777))
        bb_archive_entry_set_size(entry, la_int64_t(size))
        for (name, value) in e.xattrs.sorted(by: { $0.key < $1.key }) {
            value.withUnsafeBytes { bb_archive_entry_xattr_add_entry(entry, name, $0.baseAddress, $0.count) }
        }
        guard bb_archive_write_header(tar, entry) == ARCHIVE_OK else { throw failure("write tar header for \(e.path)") }
        if case .file(let source?) = e.kind, size > 0 {
            let src = open(source, O_RDONLY | O_CLOEXEC)
            guard src >= 0 else { throw ImageError.errno("open", source) }
            defer { close(src) }
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            var remaining = size
            while remaining > 0 {
                let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress, min($0.count, Int(remaining))) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw ImageError.errno("read", source) }
                guard n > 0 else { throw ImageError(.io, "read \(source): file shrank while archiving") }
                let w = buf.withUnsafeBytes { bb_archive_write_data(tar, $0.baseAddress, n) }
                guard w == n else { throw failure("write tar data for \(e.path)") }
                remaining -= Int64(n)
            }
        }
    }

    /// Add a file from memory.
    func add(path: String, contents: Data, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0) throws {
        try add(
            TarEntry(path: path, kind: .file(source: nil), mode: mode, uid: uid, gid: gid, size: Int64(contents.count)))
        guard !contents.isEmpty else { return }
        let w = contents.withUnsafeBytes { bb_archive_write_data(tar, $0.baseAddress, $0.count) }
        guard w == contents.count else { throw failure("write tar data for \(path)") }
    }

    /// Use an existing tar (plain or compressed) as the layer's tar stream, byte for byte, instead of entries.
    func copyTarStream(from path: String) throws {
        rawStream = true
        try ImageStore.forEachDecompressedChunk(of: path) { chunk in
            tarSink.hasher.update(bufferPointer: chunk)
            tarSink.count += Int64(chunk.count)
            try tarSink.forward(chunk)
        }
    }

    private func failure(_ operation: String) -> ImageError {
        tarSink.failure ?? gzipSink.failure ?? archiveError(tar, operation)
    }

    func finish() throws -> LayerBlob {
        finished = true
        defer {
            bb_archive_write_free(tar)
            bb_archive_write_free(gzip)
            close(fd)
        }
        if !rawStream {
            guard bb_archive_write_close(tar) == ARCHIVE_OK else { throw failure("finish tar \(outputPath)") }
        }
        guard bb_archive_write_close(gzip) == ARCHIVE_OK else {
            throw gzipSink.failure ?? archiveError(gzip, "finish gzip \(outputPath)")
        }
        guard fsync(fd) == 0 else { throw ImageError.errno("fsync", outputPath) }
        return LayerBlob(
            digest: Digest.from(gzipSink.hasher.finalize()), diffID: Digest.from(tarSink.hasher.finalize()),
            compressedSize: gzipSink.count, uncompressedSize: tarSink.count)
    }
}

/// How a directory tree becomes tar entries.
enum DirectorySource {
    /// An overlayfs upper dir: 0/0 char devices become `.wh.NAME`, opaque dirs get `.wh..wh..opq`.
    case overlayUpper
    /// A plain staged tree.
    case plain
}

extension LayerWriter {
    /// Archive everything under `root` (not `root` itself), depth-first with children in byte order.
    func addTree(_ root: String, as source: DirectorySource, prefix: String = "") throws {
        var hardlinks: [String: String] = [:]  // "dev:ino" -> first archived path
        try addChildren(of: root, relative: prefix, source: source, hardlinks: &hardlinks)
    }

    private func addChildren(
        of dir: String, relative: String, source: DirectorySource, hardlinks: inout [String: String]
    ) throws {
        for name in try FS.listDirectory(dir) {
            try ImageBuilder.checkCancelled("write layer")
            let host = dir + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            let st = try FS.lstatOrThrow(host)
            let perm = UInt32(st.st_mode & 0o7777)
            var e = TarEntry(path: rel, kind: .directory, mode: perm, uid: st.st_uid, gid: st.st_gid)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try add(e)
                if source == .overlayUpper && isOpaque(host) {
                    try add(TarEntry(path: rel + "/.wh..wh..opq", kind: .file(source: nil), mode: 0o644))
                }
                try addChildren(of: host, relative: rel, source: source, hardlinks: &hardlinks)
            case S_IFREG:
                let key = "\(st.st_dev):\(st.st_ino)"
                if st.st_nlink > 1, let first = hardlinks[key] {
                    e.kind = .hardlink(target: first)
                } else {
                    if st.st_nlink > 1 { hardlinks[key] = rel }
                    e.kind = .file(source: host)
                    e.size = Int64(st.st_size)
                    // File capabilities (ping's cap_net_raw, …) are part of the file: they travel with the layer.
                    if let caps = Xattr.get(host, Xattr.fileCapabilities) { e.xattrs[Xattr.fileCapabilities] = caps }
                }
                try add(e)
            case S_IFLNK:
                e.kind = .symlink(target: try FS.readLink(host))
                try add(e)
            case S_IFCHR:
                if source == .overlayUpper && st.st_rdev == 0 {
                    let parent = (rel as NSString).deletingLastPathComponent
                    let wh = (parent.isEmpty ? "" : parent + "/") + ".wh." + name
                    try add(TarEntry(path: wh, kind: .file(source: nil), mode: 0o644))
                } else {
                    e.kind = .charDevice(
                        major: DeviceNumber.major(UInt64(st.st_rdev)), minor: DeviceNumber.minor(UInt64(st.st_rdev)))
                    try add(e)
                }
            case S_IFBLK:
                e.kind = .blockDevice(
                    major: DeviceNumber.major(UInt64(st.st_rdev)), minor: DeviceNumber.minor(UInt64(st.st_rdev)))
                try add(e)
            case S_IFIFO:
                e.kind = .fifo
                try add(e)
            default:
                continue  // sockets have no tar representation
            }
        }
    }

    private func isOpaque(_ path: String) -> Bool {
        Xattr.get(path, "trusted.overlay.opaque") == [UInt8(ascii: "y")]
    }
}
