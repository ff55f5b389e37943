import CShim
import Foundation

/// Small synchronous POSIX helpers; every failure names the operation, the path and errno.
enum FS {
    /// `path` resolved inside `root` as a chroot would (symlinks, `..`), as a path relative to `root`; nil if it
    /// does not exist. openat2(RESOLVE_IN_ROOT) through CShim.
    static func resolveInRoot(_ root: String, _ path: String) -> String? {
        let oPath: Int32 = 0o10000000  // O_PATH, which Glibc's Swift overlay does not export
        // The last component is followed too (inside the root), as Docker copies what a source symlink names.
        let fd = cshim_open_in_root(root, "/" + path, oPath)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let host = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else {
            return nil
        }
        let realRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        if host == realRoot { return "" }
        guard host.hasPrefix(realRoot + "/") else { return nil }
        return String(host.dropFirst(realRoot.count + 1))
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func lstatOrThrow(_ path: String) throws -> stat {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw ImageError.errno("lstat", path) }
        return st
    }

    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if isDirectory(path) { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw ImageError.errno("mkdir", path) }
    }

    /// Refuses `relative` below `root` when any component on the way is a symlink or it is not a regular file:
    /// the files an archive names must be its own, not links to something else.
    static func requireRegularFileBeneath(_ root: String, _ relative: String) throws {
        let fd = cshim_open_beneath_no_symlinks(root, relative, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ELOOP || errno == EXDEV {
                throw ImageError(.unsafeEntry, "\(root)/\(relative): a symlink on the way (refusing to follow it)")
            }
            throw ImageError.errno("open", root + "/" + relative)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError.errno("stat", root + "/" + relative) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(.unsafeEntry, "\(root)/\(relative) is not a regular file")
        }
    }

    /// The bytes of `path` when it is a regular file itself (not a symlink, FIFO or device) of at most `limit`
    /// bytes: for files named by an archive someone else made, which must not lead the reader anywhere else.
    static func readRegularFile(_ path: String, limit: Int64) throws -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP { throw ImageError(.unsafeEntry, "\(path) is a symlink (refusing to follow it)") }
            throw ImageError.errno("open", path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError.errno("stat", path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(.unsafeEntry, "\(path) is not a regular file")
        }
        guard Int64(st.st_size) <= limit else {
            throw ImageError(.invalidImage, "\(path) has \(st.st_size) bytes, more than the \(limit) allowed")
        }
        return try readFile(path)
    }

    static func readFile(_ path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError.errno("open", path) }
        defer { close(fd) }
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.errno("read", path)
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.errno("write", path)
            }
            off += n
        }
    }

    /// Write to a temporary file in the same directory, fsync, then rename over `path`.
    static func writeAtomically(_ path: String, _ data: Data, mode: mode_t = 0o644) throws {
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ImageError.errno("create", tmp) }
        do {
            try data.withUnsafeBytes { try writeAll(fd, $0, path: tmp) }
            guard fsync(fd) == 0 else { throw ImageError.errno("fsync", tmp) }
            close(fd)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw ImageError.errno("rename to", path, e)
        }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw ImageError.errno("opendir", path) }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Removes a file or a whole tree without following symlinks; a missing path is fine.
    static func removeTree(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw ImageError.errno("lstat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw ImageError.errno("rmdir", path) }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw ImageError.errno("unlink", path) }
        }
    }

    static func makeTemporaryDirectory(in parent: String, prefix: String) throws -> String {
        try makeDirectories(parent)
        var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ImageError.errno("mkdtemp", parent + "/" + prefix) }
        return String(cString: p)
    }

    static func copyFile(_ from: String, _ to: String, mode: mode_t) throws {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw ImageError.errno("open", from) }
        defer { close(src) }
        let dst = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard dst >= 0 else { throw ImageError.errno("create", to) }
        defer { close(dst) }
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.errno("read", from)
            }
            if n == 0 { break }
            try buf.withUnsafeBytes { try writeAll(dst, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: to) }
        }
        fchmod(dst, mode)
    }

    static func readLink(_ path: String) throws -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        guard n >= 0 else { throw ImageError.errno("readlink", path) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An exclusive flock(2) on a file, held until `unlock()` (or deinit); serialises writers of one store.
final class FileLock {
    private var fd: Int32
    let path: String

    init(path: String, shared: Bool = false) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImageError.errno("open lock file", path) }
        while flock(fd, shared ? LOCK_SH : LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let e = errno
            close(fd)
            throw ImageError.errno("flock", path, e)
        }
    }

    func unlock() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { unlock() }
}
