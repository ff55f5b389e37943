import CArchive
import Foundation

/// Iterates the entries of a tar (plain or compressed by any filter libarchive knows).
final class TarReader {
    let path: String
    private let a: OpaquePointer

    init(path: String) throws {
        self.path = path
        a = bb_archive_read_new()
        bb_archive_read_support_filter_all(a)
        bb_archive_read_support_format_tar(a)
        bb_archive_read_support_format_gnutar(a)
        guard bb_archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            // deinit frees `a` (every stored property is set): freeing it here too was a double free.
            throw archiveError(a, "open archive \(path)")
        }
    }

    deinit { bb_archive_read_free(a) }

    struct Entry {
        let raw: OpaquePointer
        var path: String { Self.string(bb_archive_entry_pathname_utf8(raw) ?? bb_archive_entry_pathname(raw)) }
        var fileType: UInt32 { UInt32(bb_archive_entry_filetype(raw)) }
        var mode: UInt32 { UInt32(bb_archive_entry_perm(raw)) }
        var uid: UInt32 { UInt32(truncatingIfNeeded: bb_archive_entry_uid(raw)) }
        var gid: UInt32 { UInt32(truncatingIfNeeded: bb_archive_entry_gid(raw)) }
        var size: Int64 { Int64(bb_archive_entry_size(raw)) }
        var mtime: Int64 { Int64(bb_archive_entry_mtime(raw)) }
        var symlinkTarget: String? {
            (bb_archive_entry_symlink_utf8(raw) ?? bb_archive_entry_symlink(raw)).map { String(cString: $0) }
        }
        var hardlinkTarget: String? {
            (bb_archive_entry_hardlink_utf8(raw) ?? bb_archive_entry_hardlink(raw)).map { String(cString: $0) }
        }
        var rdevMajor: UInt32 { UInt32(bb_archive_entry_rdevmajor(raw)) }
        var rdevMinor: UInt32 { UInt32(bb_archive_entry_rdevminor(raw)) }
        /// The entry's extended attributes (pax SCHILY.xattr.* records), by name.
        var xattrs: [String: [UInt8]] {
            var out: [String: [UInt8]] = [:]
            guard bb_archive_entry_xattr_reset(raw) > 0 else { return out }
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while bb_archive_entry_xattr_next(raw, &name, &value, &size) == ARCHIVE_OK, let name {
                out[String(cString: name)] = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            }
            return out
        }
        private static func string(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
    }

    /// Calls `body` for each entry; the body may read the entry's data with `readData`.
    func forEach(_ body: (Entry) throws -> Bool) throws {
        var entry: OpaquePointer?
        while true {
            let rc = bb_archive_read_next_header(a, &entry)
            if rc == ARCHIVE_EOF { return }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
                throw archiveError(a, "read archive \(path)")
            }
            if try !body(Entry(raw: entry)) { return }
        }
    }

    /// Stream the current entry's bytes to `sink`.
    func readData(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { bb_archive_read_data(a, $0.baseAddress, $0.count) }
            if n == 0 { return }
            guard n > 0 else { throw archiveError(a, "read archive \(path)") }
            try buf.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    func readAll() throws -> Data {
        var d = Data()
        try readData { d.append(contentsOf: $0) }
        return d
    }

    /// Whether the file is an archive libarchive can read as tar (possibly compressed).
    static func isTarArchive(_ path: String) -> Bool {
        let a = bb_archive_read_new()
        defer { bb_archive_read_free(a) }
        bb_archive_read_support_filter_all(a)
        bb_archive_read_support_format_tar(a)
        bb_archive_read_support_format_gnutar(a)
        guard bb_archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else { return false }
        var entry: OpaquePointer?
        let rc = bb_archive_read_next_header(a, &entry)
        return rc == ARCHIVE_OK || rc == ARCHIVE_WARN
    }
}
