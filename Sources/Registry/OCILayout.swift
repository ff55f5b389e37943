import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An OCI image-layout directory: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
/// The tag of an index entry is its `org.opencontainers.image.ref.name` annotation.
public struct OCILayout: Sendable {
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    public let root: URL

    public init(root: URL) { self.root = root }
    public init(path: String) { self.root = URL(fileURLWithPath: path, isDirectory: true) }

    var indexURL: URL { root.appendingPathComponent("index.json") }
    var blobsDirectory: URL { root.appendingPathComponent("blobs/sha256", isDirectory: true) }

    public func blobURL(_ digest: String) throws(RegistryError) -> URL {
        guard let hex = Digests.hex(of: digest) else { throw .invalidDigest(digest) }
        return blobsDirectory.appendingPathComponent(hex)
    }

    /// Whether the layout holds the blob with the expected size (a wrong-size file counts as absent).
    public func hasBlob(_ digest: String, size: Int64? = nil) -> Bool {
        guard let url = try? blobURL(digest),
            let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            (attributes[.type] as? FileAttributeType) == .typeRegular
        else { return false }
        if let size, let actual = (attributes[.size] as? NSNumber)?.int64Value { return actual == size }
        return true
    }

    public func blobSize(_ digest: String) throws(RegistryError) -> Int64 {
        let url = try blobURL(digest)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else { throw .layout(path: root.path, reason: "blob \(digest) is missing") }
        return size
    }

    public func readBlob(_ digest: String) throws(RegistryError) -> Data {
        let url = try blobURL(digest)
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .layout(
                path: root.path, reason: "blob \(digest) is missing or unreadable: \(error.localizedDescription)")
        }
    }

    /// Creates `oci-layout`, `index.json` and `blobs/sha256` if missing.
    public func create() throws(RegistryError) {
        do {
            try FileManager.default.createDirectory(at: blobsDirectory, withIntermediateDirectories: true)
            let layoutFile = root.appendingPathComponent("oci-layout")
            if !FileManager.default.fileExists(atPath: layoutFile.path) {
                try writeAtomically(Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layoutFile)
            }
            if !FileManager.default.fileExists(atPath: indexURL.path) {
                try writeAtomically(Data(#"{"schemaVersion":2,"manifests":[]}"#.utf8), to: indexURL)
            }
        } catch let error as RegistryError {
            throw error
        } catch {
            throw .layout(path: root.path, reason: "cannot create: \(error.localizedDescription)")
        }
    }

    func readIndex() throws(RegistryError) -> JSONValue {
        let data: Data
        do { data = try Data(contentsOf: indexURL) } catch {
            throw .layout(path: root.path, reason: "no readable index.json: \(error.localizedDescription)")
        }
        guard let index = try? JSONDecoder().decode(JSONValue.self, from: data), case .object = index else {
            throw .layout(path: root.path, reason: "index.json is not a JSON object")
        }
        return index
    }

    /// The index.json entries, decoded as descriptors (entries that are not descriptors are left out).
    public func entries() throws(RegistryError) -> [Descriptor] {
        guard case .array(let items)? = try readIndex()["manifests"] else { return [] }
        return items.compactMap { item in
            guard let data = try? JSONEncoder().encode(item) else { return nil }
            return try? JSONDecoder().decode(Descriptor.self, from: data)
        }
    }

    public func tags() throws(RegistryError) -> [String] {
        try entries().compactMap { $0.annotations?[Self.refNameAnnotation] }
    }

    /// The index.json entry whose ref.name is `tag`.
    public func descriptor(forTag tag: String) throws(RegistryError) -> Descriptor {
        let entries = try entries()
        if let match = entries.last(where: { $0.annotations?[Self.refNameAnnotation] == tag }) { return match }
        throw .tagNotFound(
            tag: tag, layout: root.path, available: entries.compactMap { $0.annotations?[Self.refNameAnnotation] })
    }

    /// Adds `descriptor` under `tag`, replacing entries with the same ref.name; other entries and
    /// fields are kept. Written to a temp file then renamed, under an advisory lock.
    public func setTag(_ tag: String, to descriptor: Descriptor) throws(RegistryError) {
        try withIndexLock { () throws(RegistryError) in
            var index = try readIndex()
            guard case .object(var top) = index else { return }
            var items: [JSONValue] = []
            if case .array(let existing)? = top["manifests"] { items = existing }
            items.removeAll { item in item["annotations"]?[Self.refNameAnnotation]?.stringValue == tag }
            var annotations = descriptor.annotations ?? [:]
            annotations[Self.refNameAnnotation] = tag
            var entry: [String: JSONValue] = [
                "digest": .string(descriptor.digest), "size": .int(descriptor.size),
                "annotations": .object(annotations.mapValues { .string($0) }),
            ]
            if let mediaType = descriptor.mediaType { entry["mediaType"] = .string(mediaType) }
            items.append(.object(entry))
            top["manifests"] = .array(items)
            if top["schemaVersion"] == nil { top["schemaVersion"] = .int(2) }
            index = .object(top)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            do {
                try writeAtomically(try encoder.encode(index), to: indexURL)
            } catch {
                throw .layout(path: root.path, reason: "cannot write index.json: \(error)")
            }
        }
    }

    /// Stores small bytes (a manifest) as a blob after checking their digest.
    func storeBlob(_ bytes: Data, digest: String) throws(RegistryError) {
        let actual = Digests.sha256(bytes)
        guard actual == digest else {
            throw .digestMismatch(what: "blob", url: root.path, expected: digest, actual: actual)
        }
        let url = try blobURL(digest)
        do { try writeAtomically(bytes, to: url) } catch {
            throw .layout(path: root.path, reason: "cannot write blob \(digest): \(error.localizedDescription)")
        }
    }

    /// A fresh temp file path inside `blobs/sha256`, so that the final rename stays on one file system.
    func temporaryBlobURL(for digest: String) throws(RegistryError) -> URL {
        let hex = Digests.hex(of: digest) ?? "blob"
        return blobsDirectory.appendingPathComponent(".tmp-\(hex.prefix(12))-\(UUID().uuidString)")
    }

    func writeAtomically(_ data: Data, to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(
            ".tmp-\(url.lastPathComponent)-\(UUID().uuidString)")
        do {
            try data.write(to: temp)
            try Self.rename(temp, to: url)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    /// rename(2): atomic replace within a directory.
    static func rename(_ from: URL, to: URL) throws {
        if Foundation.rename(from.path, to.path) != 0 {
            let code = errno
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [
                    NSLocalizedDescriptionKey: "rename \(from.path) -> \(to.path): \(String(cString: strerror(code)))"
                ])
        }
    }

    private func withIndexLock<T>(_ body: () throws(RegistryError) -> T) throws(RegistryError) -> T {
        let lockPath = root.appendingPathComponent(".index.lock").path
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .layout(path: root.path, reason: "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                throw .layout(path: root.path, reason: "cannot lock \(lockPath): \(String(cString: strerror(errno)))")
            }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
