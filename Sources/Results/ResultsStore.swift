import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

public enum ResultsError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case incompatibleSchema(path: String, found: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "read results \(path): \(reason)"
        case .incompatibleSchema(let path, let found):
            "read results \(path): schema \"\(found)\" is not "
                + ([ResultsDocument.currentSchema] + ResultsDocument.legacySchemas).joined(separator: " or ")
        case .writeFailed(let path, let reason): "write results \(path): \(reason)"
        }
    }
}

/// Reads and atomically writes results documents (temp file in the same directory + rename).
public enum ResultsStore {
    /// Pretty-printed, sorted keys (v1 results files, summaries).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// The one writer of results files: schema v3, compact (no indentation), sorted keys, atomically.
    public static func write(_ doc: ResultsDocument, to path: String) throws {
        let data: Data
        do {
            let e = encoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var current = doc
            current.schema = ResultsDocument.currentSchema
            data = try e.encode(current)
        } catch {
            throw ResultsError.writeFailed(path: path, reason: "\(error)")
        }
        try writeAtomically(data, to: path)
    }

    /// Temp + fsync + rename: a crash leaves either the old or the new file, never half of one. The temp file is
    /// `<path>.tmp.<pid>` in the same directory; a failed write removes it.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try writeAtomically($0, to: path) }
    }

    /// Text as UTF-8, without copying it into a `Data` first (a CSV report can be tens of MB).
    public static func writeAtomically(_ text: String, to path: String) throws {
        var text = text
        try text.withUTF8 { try writeAtomically(UnsafeRawBufferPointer($0), to: path) }
    }

    static func writeAtomically(_ buffer: UnsafeRawBufferPointer, to path: String) throws {
        // Once a signal handler closed writes (it is about to exit the process), this blocks: no write starts.
        gate.enter()
        defer { gate.leave() }
        let tmp = path + ".tmp.\(getpid())"
        func failure(_ operation: String, _ file: String, _ err: Int32) -> ResultsError {
            .writeFailed(path: file, reason: "\(operation): \(String(cString: strerror(err))) (errno \(err))")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create", tmp, errno) }
        var written = 0
        let err: Int32? = {
            while written < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return fsync(fd) == 0 ? nil : errno
        }()
        close(fd)
        if let err {
            unlink(tmp)
            throw failure(written < buffer.count ? "write" : "fsync", tmp, err)
        }
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw failure("rename \(tmp) to", path, e)
        }
    }

    /// For a SIGINT/SIGTERM handler about to `_exit`: waits until an atomic write in flight has renamed (or
    /// removed) its temp file, and parks every later write, so the process exits with no temp file and no torn
    /// file. Never returns the gate: call it only right before exiting.
    public static func closeWrites() { gate.close() }

    static let gate = WriteGate()

    /// Reads a results document: v3 as it is, v1 and v2 converted (`LegacyResults`). simdjson parses it and the
    /// types' own `Decodable` conformances decode it (`SimdJSON`); anything that path rejects is decoded again by
    /// Foundation's `JSONDecoder`, whose error names the field (and which stays the reference for what is accepted).
    public static func read(_ path: String) throws -> ResultsDocument {
        let bytes = try readPadded(path)
        do {
            return try readWithSimdJSON(bytes, path: path)
        } catch let error as ResultsError {
            throw error
        } catch {
            return try decodeWithFoundation(
                Data(UnsafeRawBufferPointer(rebasing: bytes.buffer[0..<bytes.count])), path: path,
                fastPathFailure: error as? SimdJSON.Failure)
        }
    }

    /// The fast path alone, without the fallback (tests check it agrees with `JSONDecoder`).
    static func readWithSimdJSON(_ bytes: SimdJSON.PaddedBytes, path: String) throws -> ResultsDocument {
        try SimdJSON.withRoot(of: bytes) { root in
            let schema = try JSONObjectView(root.raw).string("schema")
            switch schema {
            case ResultsDocument.currentSchema: return try root.decode(ResultsDocument.self)
            case "boxbench.results/v1":
                let file = try root.decode(LegacyResults.FileV1.self)
                return LegacyResults.document(file.envelope, file.flatSamples())
            case "boxbench.results/v2":
                let file = try root.decode(LegacyResults.FileV2.self)
                return LegacyResults.document(file.envelope, try file.flatSamples())
            default: throw ResultsError.incompatibleSchema(path: path, found: schema ?? "(none)")
            }
        }
    }

    /// The whole file, with the padding simdjson needs after it; anything but a regular file is refused.
    static func readPadded(_ path: String) throws -> SimdJSON.PaddedBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ResultsError.unreadable(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ResultsError.unreadable(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ResultsError.unreadable(path: path, reason: "cannot open: not a regular file")
        }
        if let mapped = SimdJSON.PaddedBytes(mapping: fd, count: Int(info.st_size)) { return mapped }
        return try SimdJSON.PaddedBytes(count: Int(info.st_size)) { buffer in
            var filled = 0
            while filled < buffer.count {
                let n = Glibc.read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else {
                    throw ResultsError.unreadable(path: path, reason: "read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                filled += n
            }
            return filled
        }
    }

    /// `path` decoded by Foundation's `JSONDecoder` alone (what `read` falls back to): the reference the simdjson
    /// path must agree with, and the comparison in Benchmarks/report-bench.sh.
    public static func readWithFoundation(_ path: String) throws -> ResultsDocument {
        let bytes = try readPadded(path)
        return try decodeWithFoundation(
            Data(UnsafeRawBufferPointer(rebasing: bytes.buffer[0..<bytes.count])), path: path)
    }

    /// Foundation's decoder: the reference for what is accepted, and the source of precise error messages.
    /// `fastPathFailure` names the field when Foundation's error does not (e.g. a number out of range).
    static func decodeWithFoundation(
        _ data: Data, path: String, fastPathFailure: SimdJSON.Failure? = nil
    ) throws -> ResultsDocument {
        struct SchemaOnly: Decodable { var schema: String? }
        let head: SchemaOnly
        do {
            head = try decoder().decode(SchemaOnly.self, from: data)
        } catch {
            if let at = JSONSyntax.firstError(in: [UInt8](data)) {
                throw ResultsError.unreadable(
                    path: path, reason: "not JSON: line \(at.line), column \(at.column): unexpected \(at.found)")
            }
            throw ResultsError.unreadable(path: path, reason: "not a results document: \(error)")
        }
        switch head.schema {
        case ResultsDocument.currentSchema:
            return try decode(ResultsDocument.self, data, path: path, fastPathFailure: fastPathFailure)
        case "boxbench.results/v1":
            let file = try decode(LegacyResults.FileV1.self, data, path: path, fastPathFailure: fastPathFailure)
            return LegacyResults.document(file.envelope, file.flatSamples())
        case "boxbench.results/v2":
            let file = try decode(LegacyResults.FileV2.self, data, path: path, fastPathFailure: fastPathFailure)
            do {
                return LegacyResults.document(file.envelope, try file.flatSamples())
            } catch {
                throw ResultsError.unreadable(path: path, reason: "bad value at \(error.path): \(error.message)")
            }
        default:
            throw ResultsError.incompatibleSchema(path: path, found: head.schema ?? "(none)")
        }
    }

    /// `JSONDecoder` with its errors turned into messages that name the field.
    private static func decode<T: Decodable>(
        _ type: T.Type, _ data: Data, path: String, fastPathFailure: SimdJSON.Failure?
    ) throws -> T {
        do {
            return try decoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ResultsError.unreadable(
                path: path,
                reason: "missing field \(ctx.codingPath.map(\.stringValue).joined(separator: ".")).\(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ResultsError.unreadable(
                path: path, reason: "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.dataCorrupted(ctx) where !ctx.codingPath.isEmpty {
            throw ResultsError.unreadable(
                path: path,
                reason:
                    "bad value at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)")
        } catch {
            if let fastPathFailure, !fastPathFailure.path.isEmpty {
                throw ResultsError.unreadable(path: path, reason: "bad value at \(fastPathFailure)")
            }
            throw ResultsError.unreadable(path: path, reason: "\(error)")
        }
    }
}

/// Writes hold it shared; `close()` stops new ones and waits for those in flight, and never reopens, so a write
/// that starts afterwards blocks for good (the process is about to exit).
final class WriteGate: Sendable {
    private let state = Mutex<(inFlight: Int, closed: Bool)>((0, false))

    func enter() {
        let admitted = state.withLock { state in
            guard !state.closed else { return false }
            state.inFlight += 1
            return true
        }
        if !admitted { while true { pause() } }
    }

    func leave() { state.withLock { $0.inFlight -= 1 } }

    func close() {
        state.withLock { $0.closed = true }
        while state.withLock({ $0.inFlight }) > 0 { usleep(1_000) }
    }
}
