import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Errors from reading kernel interface files; they name the path and errno.
public struct ProbeReadError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "read \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Reads a small kernel file (procfs, sysfs, cgroupfs) without Foundation: they report size 0, so read to EOF.
public func readTextFile(_ path: String) throws(ProbeReadError) -> String {
    String(decoding: try readFileBytes(path), as: UTF8.self)
}

/// A whole small file's bytes without Foundation, read to EOF (kernel files report size 0).
public func readFileBytes(_ path: String) throws(ProbeReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ProbeReadError(path: path, errno: errno) }
    defer { close(fd) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 8192) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ProbeReadError(path: path, errno: errno)
        }
        if n == 0 { break }
        result.append(contentsOf: buffer[0..<n])
    }
    return result
}

extension StringProtocol {
    /// Without leading and trailing whitespace, by the standard library: Foundation's trimmingCharacters goes
    /// through NSString (2.4 % of a create + start + delete's perf samples).
    public var trimmedWhitespace: SubSequence {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}

/// Host facts every result carries as provenance.
public struct HostFacts: Sendable, Equatable {
    public var kernel: String
    public var cpuModel: String
    public var cpus: Int
    public var memTotalBytes: UInt64
    public var bootID: String
    public var hostname: String

    public static func read() -> HostFacts {
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: &uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let node = withUnsafeBytes(of: &uts.nodename) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let cpuinfo = (try? readTextFile("/proc/cpuinfo")) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let mem = (try? MemInfo.parse((try? readTextFile("/proc/meminfo")) ?? ""))?.totalBytes ?? 0
        let boot = ((try? readTextFile("/proc/sys/kernel/random/boot_id")) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
        return HostFacts(
            kernel: release, cpuModel: model, cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memTotalBytes: mem,
            bootID: boot, hostname: node)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the one clock every startup figure uses.
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
