#if canImport(Glibc)
    import Glibc
#endif

// Paths, small files and the time, with plain syscalls: the OCI lifecycle commands are timed whole, and
// FileManager's and Date's first use each cost them a measurable part of their start-up.

/// `path` made absolute against the working directory, with `.`, `..` and repeated slashes removed lexically (as
/// URL's standardizedFileURL does, without its cost on every lifecycle command).
public func absolutePath(_ path: String) -> String {
    var full = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
        full = cwd + "/" + path
    }
    var parts: [Substring] = []
    for part in full.split(separator: "/") where part != "." {
        if part == ".." {
            _ = parts.popLast()
        } else {
            parts.append(part)
        }
    }
    // Concatenated, not joined(separator:): this function with it was 0.27 M instructions of a `run`.
    var result = ""
    for part in parts { result += "/" + part }
    return result.isEmpty ? "/" : result
}

/// lstat succeeds: without FileManager, whose shared instance alone is 22 k instructions on first use.
func pathExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// mkdir -p, mode 0755 (less the umask) like FileManager's; false with errno set.
func makeDirectories(_ path: String) -> Bool {
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return true }
    guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return false }
    guard makeDirectories(String(path[..<slash])) else { return false }
    return mkdir(path, 0o755) == 0 || errno == EEXIST
}

/// `bytes` into `path` through `path.tmp` and rename (readers see the old file or the new one); false with errno set.
func writeFileAtomically(_ path: String, _ bytes: [UInt8]) -> Bool {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let saved = errno
    close(fd)
    guard written == bytes.count, rename(tmp, path) == 0 else {
        let failure = written == bytes.count ? errno : (written < 0 ? saved : EIO)
        unlink(tmp)
        errno = failure
        return false
    }
    return true
}

/// Now in ISO 8601 (UTC, whole seconds) from gmtime_r: one Foundation first use fewer on the create path.
func utcTimestamp() -> String {
    var now = time(nil)
    var t = tm()
    gmtime_r(&now, &t)
    func pad(_ v: Int32, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
    return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
        + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))Z"
}

/// A directory entry's name: readdir's fixed-size `d_name` up to its NUL.
func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
