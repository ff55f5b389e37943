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

    /// Temp + fsync + rename: a crash leaves either the old or the new file, never half of one.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw ResultsError.writeFailed(path: tmp, reason: "create failed: \(String(cString: strerror(errno)))")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw ResultsError.writeFailed(path: path, reason: "rename: \(reason)")
        }
    }

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
