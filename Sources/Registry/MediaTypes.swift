import Foundation

public enum MediaTypes {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    /// The `Accept` header of a manifest GET: OCI manifest and index, Docker schema2 manifest and list.
    public static let manifestAccept = [ociManifest, ociIndex, dockerManifest, dockerManifestList]

    public static func isIndex(_ type: String) -> Bool { type == ociIndex || type == dockerManifestList }
    public static func isImageManifest(_ type: String) -> Bool { type == ociManifest || type == dockerManifest }
    public static func isManifest(_ type: String) -> Bool { isIndex(type) || isImageManifest(type) }

    /// Layers a registry need not hold (`urls` point elsewhere): Docker foreign and OCI non-distributable.
    public static func isNonDistributable(_ type: String) -> Bool {
        type.hasPrefix("application/vnd.docker.image.rootfs.foreign.")
            || type.hasPrefix("application/vnd.oci.image.layer.nondistributable.")
    }
}

/// An OCI content descriptor (the fields this module reads).
public struct Descriptor: Codable, Sendable, Equatable {
    public var mediaType: String?
    public var digest: String
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?

    public init(
        mediaType: String?, digest: String, size: Int64, urls: [String]? = nil, annotations: [String: String]? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
    }
}

/// An image manifest or an index, decoded leniently (OCI and Docker schema2 share these fields).
struct ManifestDocument: Decodable, Sendable {
    var schemaVersion: Int?
    var mediaType: String?
    var config: Descriptor?
    var layers: [Descriptor]?
    var manifests: [Descriptor]?

    /// The media type: the document's own field, else the transport's (Content-Type or descriptor), else inferred.
    func resolvedMediaType(declared: String?) -> String? {
        if let mediaType, !mediaType.isEmpty { return mediaType }
        if let declared, MediaTypes.isManifest(declared) { return declared }
        if manifests != nil { return MediaTypes.ociIndex }
        if config != nil { return MediaTypes.ociManifest }
        return declared
    }

    /// Blobs an image manifest needs: config then layers.
    var blobs: [Descriptor] { (config.map { [$0] } ?? []) + (layers ?? []) }
}

/// Any JSON value, so index.json keeps fields this module does not know.
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let v): try container.encode(v)
        case .int(let v): try container.encode(v)
        case .double(let v): try container.encode(v)
        case .string(let v): try container.encode(v)
        case .array(let v): try container.encode(v)
        case .object(let v): try container.encode(v)
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let dict) = self { return dict[key] }
        return nil
    }
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}
