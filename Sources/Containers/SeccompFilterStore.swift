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
public struct SeccompFilterStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    static let magic: [UInt8] = Array("boxbench-seccomp-bpf 1\n".utf8)

    /// The text a program is compiled from, unambiguous (JSON strings) and in a fixed order.
    static func key(_ spec: RuntimeSpec.Seccomp) -> [UInt8] {
        var w = JSONWriter(pretty: false)
        w.open()
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

    /// FNV-1a of the key: only names the file; a collision is a miss, never a wrong program.
    static func fileName(_ key: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        let hex = String(hash, radix: 16)
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
        // magic, key length (8 bytes, little-endian), key, program (whole 8-byte sock_filter instructions)
        let header = Self.magic.count + 8
        guard bytes.count > header, bytes.starts(with: Self.magic) else { return nil }
        var keyLength = 0
        for i in 0..<8 { keyLength |= Int(bytes[Self.magic.count + i]) << (8 * i) }
        guard keyLength == key.count, bytes.count > header + keyLength,
            bytes[header..<(header + keyLength)].elementsEqual(key),
            (bytes.count - header - keyLength) % 8 == 0
        else { return nil }
        return SeccompFilter(bytes: Array(bytes[(header + keyLength)...]))
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
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: key.count >> (8 * i))) }
        bytes += key
        bytes += filter.bytes
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if n != bytes.count || rename(tmp, path) != 0 { unlink(tmp) }
    }
}
