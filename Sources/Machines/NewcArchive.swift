#if canImport(Glibc)
    import Glibc
#endif

/// Writes a newc ("070701") cpio archive, the format the Linux initramfs unpacker reads, straight to a file.
/// Entries are written in the order given; parents must come before their children.
final class NewcArchiveWriter {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private var nextInode: UInt32 = 1
    private(set) var bytesWritten: UInt64 = 0

    init(path: String) throws(MachineError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(operation: "create \(path)", errno: errno) }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if fd >= 0 { close(fd) } }

    func directory(_ name: String, mode: UInt32 = 0o755, uid: UInt32 = 0, gid: UInt32 = 0, mtime: UInt32 = 0)
        throws(MachineError)
    {
        try header(
            name: name, mode: UInt32(S_IFDIR) | (mode & 0o7777), uid: uid, gid: gid, nlink: 2, mtime: mtime,
            size: 0, rdevMajor: 0, rdevMinor: 0)
    }

    func file(
        _ name: String, contents: [UInt8], mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: UInt32 = 0
    ) throws(MachineError) {
        try header(
            name: name, mode: UInt32(S_IFREG) | (mode & 0o7777), uid: uid, gid: gid, nlink: 1, mtime: mtime,
            size: UInt32(contents.count), rdevMajor: 0, rdevMinor: 0)
        try append(contents)
        try pad()
    }

    /// Copies a host file's bytes into the archive without holding it all in memory.
    func file(
        _ name: String, hostPath: String, size: Int, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: UInt32 = 0
    ) throws(MachineError) {
        guard size <= Int(UInt32.max) else { throw .artifacts("\(hostPath) is larger than 4 GiB: newc cannot hold it") }
        let src = open(hostPath, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw .system(operation: "open \(hostPath)", errno: errno) }
        defer { close(src) }
        try header(
            name: name, mode: UInt32(S_IFREG) | (mode & 0o7777), uid: uid, gid: gid, nlink: 1, mtime: mtime,
            size: UInt32(size), rdevMajor: 0, rdevMinor: 0)
        var remaining = size
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while remaining > 0 {
            let n = chunk.withUnsafeMutableBytes { read(src, $0.baseAddress, min($0.count, remaining)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw n == 0
                    ? .artifacts("\(hostPath) shrank while archiving")
                    : .system(operation: "read \(hostPath)", errno: errno)
            }
            try append(chunk[0..<n])
            remaining -= n
        }
        try pad()
    }

    func symlink(_ name: String, target: String, uid: UInt32 = 0, gid: UInt32 = 0, mtime: UInt32 = 0)
        throws(MachineError)
    {
        let bytes = Array(target.utf8)
        try header(
            name: name, mode: UInt32(S_IFLNK) | 0o777, uid: uid, gid: gid, nlink: 1, mtime: mtime,
            size: UInt32(bytes.count), rdevMajor: 0, rdevMinor: 0)
        try append(bytes)
        try pad()
    }

    /// A device or FIFO node; `type` is S_IFCHR, S_IFBLK or S_IFIFO.
    func node(
        _ name: String, type: UInt32, mode: UInt32, major: UInt32, minor: UInt32, uid: UInt32 = 0,
        gid: UInt32 = 0, mtime: UInt32 = 0
    ) throws(MachineError) {
        try header(
            name: name, mode: type | (mode & 0o7777), uid: uid, gid: gid, nlink: 1, mtime: mtime, size: 0,
            rdevMajor: major, rdevMinor: minor)
    }

    /// Writes the trailer and flushes; the archive is complete after this.
    func finish() throws(MachineError) {
        try header(
            name: "TRAILER!!!", mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, rdevMajor: 0,
            rdevMinor: 0, inode: 0)
        try flush()
        if fsync(fd) != 0 { throw .system(operation: "fsync \(path)", errno: errno) }
    }

    private func header(
        name: String, mode: UInt32, uid: UInt32, gid: UInt32, nlink: UInt32, mtime: UInt32, size: UInt32,
        rdevMajor: UInt32, rdevMinor: UInt32, inode: UInt32? = nil
    ) throws(MachineError) {
        let nameBytes = Array(name.utf8)
        if nameBytes.contains(0) { throw .invalidInput("path \(name) contains NUL") }
        let ino: UInt32
        if let inode {
            ino = inode
        } else {
            ino = nextInode
            nextInode += 1
        }
        var h = Array("070701".utf8)
        for v in [ino, mode, uid, gid, nlink, mtime, size, 0, 0, rdevMajor, rdevMinor, UInt32(nameBytes.count + 1), 0] {
            h += Self.hex8(v)
        }
        try append(h)
        try append(nameBytes)
        try append([0])
        try pad()
    }

    private static func hex8(_ v: UInt32) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return (0..<8).map { digits[Int((v >> UInt32(28 - 4 * $0)) & 0xF)] }
    }

    private func pad() throws(MachineError) {
        let rem = Int(bytesWritten % 4)
        if rem != 0 { try append([UInt8](repeating: 0, count: 4 - rem)) }
    }

    private func append<C: Collection>(_ bytes: C) throws(MachineError) where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        bytesWritten += UInt64(bytes.count)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws(MachineError) {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write \(path)", errno: errno)
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

extension NewcArchiveWriter {
    /// Adds every entry under `root` (recursively, sorted, lstat semantics) with names relative to it,
    /// skipping the relative paths in `skip` (they are provided by the caller instead).
    func addTree(root: String, skip: Set<String>) throws(MachineError) {
        try addDirectoryContents(hostDir: root, prefix: "", skip: skip)
    }

    static func major(_ dev: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
    }
    static func minor(_ dev: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff)) }

    private func addDirectoryContents(hostDir: String, prefix: String, skip: Set<String>) throws(MachineError) {
        guard let dir = opendir(hostDir) else { throw .system(operation: "opendir \(hostDir)", errno: errno) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            let rel = prefix.isEmpty ? name : prefix + "/" + name
            if skip.contains(rel) { continue }
            let host = hostDir + "/" + name
            var st = stat()
            guard lstat(host, &st) == 0 else { throw .system(operation: "lstat \(host)", errno: errno) }
            let type = st.st_mode & S_IFMT
            let perm = UInt32(st.st_mode & 0o7777)
            let mtime = UInt32(truncatingIfNeeded: max(0, st.st_mtim.tv_sec))
            switch type {
            case S_IFDIR:
                try directory(rel, mode: perm, uid: st.st_uid, gid: st.st_gid, mtime: mtime)
                try addDirectoryContents(hostDir: host, prefix: rel, skip: skip)
            case S_IFREG:
                try file(
                    rel, hostPath: host, size: Int(st.st_size), mode: perm, uid: st.st_uid, gid: st.st_gid,
                    mtime: mtime)
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(host, &buf, buf.count - 1)
                guard n >= 0 else { throw .system(operation: "readlink \(host)", errno: errno) }
                let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                try symlink(rel, target: target, uid: st.st_uid, gid: st.st_gid, mtime: mtime)
            case S_IFCHR, S_IFBLK, S_IFIFO:
                try node(
                    rel, type: UInt32(type), mode: perm, major: Self.major(UInt64(st.st_rdev)),
                    minor: Self.minor(UInt64(st.st_rdev)), uid: st.st_uid, gid: st.st_gid, mtime: mtime)
            default:
                continue  // sockets have no meaning in an archive
            }
        }
    }
}
