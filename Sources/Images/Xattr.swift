import Foundation

// Glibc's Swift module does not export <sys/xattr.h>, and CShim belongs to another module, so the two
// calls we need are looked up once in libc by name.
private typealias GetXattr =
    @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
private typealias SetXattr =
    @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32

private typealias FSetXattr = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
private let fsetxattrFunction: FSetXattr? = dlsym(nil, "fsetxattr").map { unsafeBitCast($0, to: FSetXattr.self) }
private let lgetxattrFunction: GetXattr? = dlsym(nil, "lgetxattr").map { unsafeBitCast($0, to: GetXattr.self) }
private let lsetxattrFunction: SetXattr? = dlsym(nil, "lsetxattr").map { unsafeBitCast($0, to: SetXattr.self) }

enum Xattr {
    /// File capabilities (VFS_CAP): what `setcap` writes.
    static let fileCapabilities = "security.capability"

    /// The value of an extended attribute of `path` itself (symlinks not followed), nil if absent.
    static func get(_ path: String, _ name: String) -> [UInt8]? {
        guard let f = lgetxattrFunction else { return nil }
        var value = [UInt8](repeating: 0, count: 256)
        let n = value.withUnsafeMutableBytes { f(path, name, $0.baseAddress, $0.count) }
        return n >= 0 ? Array(value[0..<n]) : nil
    }

    static func set(_ path: String, _ name: String, _ value: [UInt8]) throws {
        guard let f = lsetxattrFunction else { throw ImageError(.unsupported, "lsetxattr \(path): not in libc") }
        let rc = value.withUnsafeBytes { f(path, name, $0.baseAddress, $0.count, 0) }
        guard rc == 0 else { throw ImageError.errno("setxattr \(name) on", path) }
    }

    static func set(fd: Int32, path: String, _ name: String, _ value: [UInt8]) throws {
        guard let f = fsetxattrFunction else { throw ImageError(.unsupported, "fsetxattr \(path): not in libc") }
        let rc = value.withUnsafeBytes { f(fd, name, $0.baseAddress, $0.count, 0) }
        guard rc == 0 else { throw ImageError.errno("setxattr \(name) on", path) }
    }
}

/// Linux dev_t encoding (glibc's gnu_dev_major/minor/makedev, which are macros Swift cannot import).
enum DeviceNumber {
    static func major(_ dev: UInt64) -> UInt32 { UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))) }
    static func minor(_ dev: UInt64) -> UInt32 { UInt32((dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))) }
    static func make(_ major: UInt32, _ minor: UInt32) -> UInt64 {
        let ma = UInt64(major)
        let mi = UInt64(minor)
        return ((ma & 0xfff) << 8) | ((ma & ~UInt64(0xfff)) << 32) | (mi & 0xff) | ((mi & ~UInt64(0xff)) << 12)
    }
}

/// libarchive's AE_IF* constants (macros with casts, not imported into Swift).
enum ArchiveFileType {
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000
    static let character: UInt32 = 0o020000
    static let block: UInt32 = 0o060000
    static let fifo: UInt32 = 0o010000
    static let socket: UInt32 = 0o140000
}
