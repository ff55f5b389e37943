import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// Compiled seccomp programs kept between commands in boxbench's cache directory: compiling the
/// default profile is 5.0 M instructions, a seventh of a `boxbench-runtime run` (results/runtime-breakdown.txt).
///
/// An entry is used only if the directory and the file belong to this user and nobody else can write them, and if
/// the text it was compiled from — the whole profile, libseccomp's version and the native architecture — equals
/// this profile's byte for byte (the file name is a hash of that text, the check is the text itself). Anything
/// else is a miss: the profile is compiled and the entry replaced.
///
/// The store is bounded: a save that leaves more than `capacity` entries removes the least recently written (each
/// distinct profile, libseccomp version or compiler revision makes a new one, and nothing else ever deletes them).
public struct SeccompFilterStore: Sendable {
    public let directory: String
    public let capacity: Int

    public init(directory: String, capacity: Int = 64) {
        self.directory = directory
        self.capacity = capacity
    }

    static let magic: [UInt8] = Array("boxbench-seccomp-bpf 2\n".utf8)
    /// Where the key starts: after the magic, the key's length, the program's length and the program's FNV-1a
    /// (8 bytes each, little-endian), so a torn or zero-filled file after a crash is a miss, never a short program.
    static var keyOffset: Int { magic.count + 24 }

    /// Names what `SeccompProfile.compile` emits for a given profile: bump it whenever that changes, or programs
    /// compiled by an older boxbench would still be loaded.
    static let compilerRevision = 1

    /// The text a program is compiled from, unambiguous (JSON strings) and in a fixed order.
    static func key(_ spec: RuntimeSpec.Seccomp) -> [UInt8] {
        var w = JSONWriter(pretty: false)
        w.open()
        w.value("compiler", raw: "\(compilerRevision)")
        w.string("libseccomp", libseccompVersion)
        w.value("nativeArch", raw: "\(seccomp_arch_native())")
        w.string("defaultAction", spec.defaultAction)
        if let e = spec.defaultErrnoRet { w.value("defaultErrnoRet", raw: "\(e)") }
        if let a = spec.architectures { w.strings("architectures", a) }
        if let f = spec.flags { w.strings("flags", f) }
        w.open("syscalls", array: true)
        for rule in spec.syscalls ?? [] {
            w.open()
            w.strings("names", rule.names)
            w.string("action", rule.action)
            if let e = rule.errnoRet { w.value("errnoRet", raw: "\(e)") }
            w.open("args", array: true)
            for a in rule.args ?? [] {
                w.value(
                    raw: "[\(a.index),\(a.value),\(a.valueTwo.map { "\($0)" } ?? "null"),\(JSONWriter.quoted(a.op))]")
            }
            w.close(array: true)
            w.close()
        }
        w.close(array: true)
        w.close()
        return w.bytes
    }

    static var libseccompVersion: String {
        guard let v = seccomp_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
    }

    static func fnv1a<C: Collection<UInt8>>(_ bytes: C) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return hash
    }

    /// FNV-1a of the key: only names the file; a collision is a miss, never a wrong program.
    static func fileName(_ key: [UInt8]) -> String {
        let hex = String(fnv1a(key), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ".bpf"
    }

    /// Owned by this user and writable by nobody else (a program planted by another user must never load).
    static func isTrusted(_ st: stat) -> Bool {
        st.st_uid == geteuid() && st.st_mode & 0o022 == 0
    }

    func load(key: [UInt8]) -> SeccompFilter? {
        var dirStat = stat()
        guard lstat(directory, &dirStat) == 0, dirStat.st_mode & S_IFMT == S_IFDIR, Self.isTrusted(dirStat) else {
            return nil
        }
        let path = "\(directory)/\(Self.fileName(key))"
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, Self.isTrusted(st), st.st_size < 1 << 24 else {
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { return nil }
        guard bytes.count > Self.keyOffset, bytes.starts(with: Self.magic) else { return nil }
        func field(_ index: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(bytes[Self.magic.count + 8 * index + i]) << (8 * i) }
            return value
        }
        let (keyLength, programLength, programHash) = (Int(field(0)), Int(field(1)), field(2))
        let programStart = Self.keyOffset + keyLength
        guard keyLength == key.count, programLength > 0, programLength % 8 == 0,
            bytes.count == programStart + programLength,
            bytes[Self.keyOffset..<programStart].elementsEqual(key),
            Self.fnv1a(bytes[programStart...]) == programHash
        else { return nil }
        return SeccompFilter(bytes: Array(bytes[programStart...]))
    }

    /// Best effort: a store that cannot be written only costs the next command a compile.
    func save(key: [UInt8], filter: SeccompFilter) {
        if mkdir(directory, 0o700) != 0 && errno == ENOENT {
            // The cache root itself may not exist yet on a fresh host.
            let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)])
            if !parent.isEmpty { mkdir(parent, 0o755) }
            mkdir(directory, 0o700)
        }
        var dirStat = stat()
        guard lstat(directory, &dirStat) == 0, dirStat.st_mode & S_IFMT == S_IFDIR, Self.isTrusted(dirStat) else {
            return
        }
        let path = "\(directory)/\(Self.fileName(key))"
        let tmp = "\(path).\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var bytes = Self.magic
        for value in [UInt64(key.count), UInt64(filter.bytes.count), Self.fnv1a(filter.bytes)] {
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
        }
        bytes += key
        bytes += filter.bytes
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // On disk before it has its name: a crash leaves the old entry or none, not a torn one.
        let synced = fsync(fd) == 0
        close(fd)
        if n != bytes.count || !synced || rename(tmp, path) != 0 {
            unlink(tmp)
            return
        }
        prune()
    }

    /// Down to `capacity` entries, oldest written first; a temporary file a crashed save left (over a minute old)
    /// goes too. Only on a save, which follows a compile: a hit never lists the directory.
    func prune() {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        var entries: [(written: timespec, name: String)] = []
        let now = time(nil)
        while let entry = readdir(dir) {
            let name = entryName(entry)
            let temporary = name.hasSuffix(".tmp")
            var st = stat()
            guard temporary || name.hasSuffix(".bpf"),
                fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG
            else { continue }
            if temporary {
                if now - st.st_mtim.tv_sec > 60 { unlinkat(dirfd(dir), name, 0) }
            } else {
                entries.append((st.st_mtim, name))
            }
        }
        guard entries.count > capacity else { return }
        entries.sort { ($0.written.tv_sec, $0.written.tv_nsec) < ($1.written.tv_sec, $1.written.tv_nsec) }
        for entry in entries.prefix(entries.count - capacity) { unlinkat(dirfd(dir), entry.name, 0) }
    }
}
