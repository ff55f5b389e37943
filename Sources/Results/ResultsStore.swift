import Foundation

public enum ResultsError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case incompatibleSchema(path: String, found: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "read results \(path): \(reason)"
        case .incompatibleSchema(let path, let found):
            "read results \(path): schema \"\(found)\" is not \(ResultsDocument.currentSchema)"
        case .writeFailed(let path, let reason): "write results \(path): \(reason)"
        }
    }
}

/// Reads and atomically writes results documents (temp file in the same directory + rename).
public enum ResultsStore {
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

    public static func write(_ doc: ResultsDocument, to path: String) throws {
        let data: Data
        do {
            data = try encoder().encode(doc)
        } catch {
            throw ResultsError.writeFailed(path: path, reason: "\(error)")
        }
        try writeAtomically(data, to: path)
    }

    /// Temp + fsync + rename: a crash leaves either the old or the new file, never half of one. The temp file is
    /// `<path>.tmp.<pid>` in the same directory; a failed write removes it.
    public static func writeAtomically(_ data: Data, to path: String) throws {
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
        let err: Int32? = data.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return fsync(fd) == 0 ? nil : errno
        }
        close(fd)
        if let err {
            unlink(tmp)
            throw failure(written < data.count ? "write" : "fsync", tmp, err)
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

    public static func read(_ path: String) throws -> ResultsDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ResultsError.unreadable(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        struct SchemaOnly: Decodable { var schema: String? }
        let head: SchemaOnly
        do {
            head = try decoder().decode(SchemaOnly.self, from: data)
        } catch {
            throw ResultsError.unreadable(path: path, reason: "not JSON: \(error)")
        }
        guard head.schema == ResultsDocument.currentSchema else {
            throw ResultsError.incompatibleSchema(path: path, found: head.schema ?? "(none)")
        }
        do {
            return try decoder().decode(ResultsDocument.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ResultsError.unreadable(
                path: path,
                reason: "missing field \(ctx.codingPath.map(\.stringValue).joined(separator: ".")).\(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ResultsError.unreadable(
                path: path, reason: "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw ResultsError.unreadable(path: path, reason: "\(error)")
        }
    }
}

/// Writes hold it shared; `close()` takes it exclusively (waiting for writes in flight) and never releases it, so
/// a write that starts afterwards blocks for good.
final class WriteGate: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t> = {
        let p = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        pthread_rwlock_init(p, nil)
        return p
    }()

    func enter() { pthread_rwlock_rdlock(lock) }

    func leave() { pthread_rwlock_unlock(lock) }

    func close() { pthread_rwlock_wrlock(lock) }
}
