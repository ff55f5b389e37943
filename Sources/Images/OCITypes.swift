import Crypto
import Foundation

/// Media types of the OCI image-spec v1 that the store writes and reads.
public enum MediaType {
    public static let index = "application/vnd.oci.image.index.v1+json"
    public static let manifest = "application/vnd.oci.image.manifest.v1+json"
    public static let config = "application/vnd.oci.image.config.v1+json"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
}

/// The annotation naming a tag in index.json.
public let refNameAnnotation = "org.opencontainers.image.ref.name"

/// A content digest, always `sha256:<64 hex>`.
public struct Digest: Hashable, Codable, Sendable, CustomStringConvertible, Comparable {
    public let hex: String

    public init(hex: String) { self.hex = hex }

    public init(parsing s: String) throws {
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64,
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { throw ImageError(.invalidReference, "invalid digest \"\(s)\" (want sha256:<64 lowercase hex>)") }
        hex = String(parts[1])
    }

    public static func of(_ data: some DataProtocol) -> Digest { Digest(hex: SHA256.hash(data: data).hexString) }
    public static func from(_ hash: SHA256.Digest) -> Digest { Digest(hex: hash.hexString) }

    public var description: String { "sha256:" + hex }
    public var short: String { String(hex.prefix(12)) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        try self.init(parsing: try c.decode(String.self))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }
}

extension SHA256.Digest {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

public struct Descriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: Platform?

    public init(
        mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil,
        platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

public struct Platform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public static var host: Platform {
        #if arch(x86_64)
            Platform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
            Platform(architecture: "arm64", os: "linux")
        #else
            Platform(architecture: "unknown", os: "linux")
        #endif
    }
}

public struct ImageIndex: Codable, Sendable {
    public var schemaVersion: Int = 2
    public var mediaType: String? = MediaType.index
    public var manifests: [Descriptor]
    public var annotations: [String: String]?
    public init(manifests: [Descriptor]) { self.manifests = manifests }
}

public struct ImageManifest: Codable, Sendable {
    public var schemaVersion: Int = 2
    public var mediaType: String? = MediaType.manifest
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?
    public init(config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// The `config` object of an image config: how to run a container from it.
public struct ContainerConfig: Codable, Sendable, Equatable {
    public var User: String?
    public var ExposedPorts: [String: EmptyObject]?
    public var Env: [String]?
    public var Entrypoint: [String]?
    public var Cmd: [String]?
    public var Volumes: [String: EmptyObject]?
    public var WorkingDir: String?
    public var Labels: [String: String]?
    public var StopSignal: String?
    public init() {}
}

/// `{}` in JSON (ExposedPorts and Volumes map keys to empty objects).
public struct EmptyObject: Codable, Sendable, Equatable {
    public init() {}
}

public struct RootFS: Codable, Sendable, Equatable {
    public var type: String = "layers"
    public var diff_ids: [Digest]
    public init(diffIDs: [Digest]) { diff_ids = diffIDs }
}

public struct HistoryEntry: Codable, Sendable, Equatable {
    public var created: String?
    public var created_by: String?
    public var comment: String?
    public var empty_layer: Bool?
    public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.created_by = createdBy
        self.comment = comment
        self.empty_layer = emptyLayer
    }
}

/// The image config blob (`application/vnd.oci.image.config.v1+json`).
public struct ImageConfig: Codable, Sendable, Equatable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var config: ContainerConfig?
    public var rootfs: RootFS
    public var history: [HistoryEntry]?

}

/// The `oci-layout` file.
struct OCILayoutFile: Codable {
    var imageLayoutVersion = "1.0.0"
}

/// Canonical JSON: sorted keys, no escaped slashes, so equal values give equal bytes (and digests).
func canonicalJSON<T: Encodable>(_ value: T) throws -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do { return try e.encode(value) } catch {
        throw ImageError(.invalidImage, "encode \(T.self) as JSON: \(error)")
    }
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ data: Data, what: String) throws -> T {
    do { return try JSONDecoder().decode(type, from: data) } catch {
        throw ImageError(.invalidImage, "decode \(what): \(error)")
    }
}

/// The build timestamp: SOURCE_DATE_EPOCH when set, else the epoch, so builds are reproducible.
func reproducibleEpoch(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int64 {
    environment["SOURCE_DATE_EPOCH"].flatMap { Int64($0) } ?? 0
}

func rfc3339(_ epoch: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.timeZone = TimeZone(identifier: "UTC")
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
}
