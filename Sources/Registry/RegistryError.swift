import Foundation

/// One entry of a registry's error body: `{"errors":[{"code":"…","message":"…","detail":…}]}`.
public struct RegistryErrorDetail: Sendable, Equatable, Decodable {
    public var code: String
    public var message: String?

    struct Envelope: Decodable { var errors: [RegistryErrorDetail]? }

    /// Reads the error JSON of a response body; empty when it is not such JSON.
    public static func parse(_ body: [UInt8]) -> [RegistryErrorDetail] {
        (try? JSONDecoder().decode(Envelope.self, from: Data(body)))?.errors ?? []
    }
}

public enum RegistryError: Error, Sendable, CustomStringConvertible {
    /// A response with a status the operation did not expect (401 included), with the registry's errors.
    case http(operation: String, method: String, url: String, status: Int, details: [RegistryErrorDetail], body: String)
    /// No HTTP response at all (connection refused, TLS failure, time-out).
    case transport(operation: String, method: String, url: String, underlying: String)
    /// The token endpoint refused or returned no token.
    case token(realm: String, status: Int?, reason: String)
    case digestMismatch(what: String, url: String, expected: String, actual: String)
    case sizeMismatch(what: String, url: String, expected: Int64, actual: Int64)
    case invalidResponse(operation: String, url: String, reason: String)
    case unsupportedMediaType(url: String, mediaType: String)
    case layout(path: String, reason: String)
    case tagNotFound(tag: String, layout: String, available: [String])
    case invalidDigest(String)

    public var description: String {
        switch self {
        case .http(let operation, let method, let url, let status, let details, let body):
            var text = "\(operation): \(method) \(url) failed with HTTP \(status)"
            if let reason = Self.reasons[status] { text += " \(reason)" }
            if !details.isEmpty {
                text +=
                    ": " + details.map { d in d.message.map { "\(d.code): \($0)" } ?? d.code }.joined(separator: "; ")
            } else if !body.isEmpty {
                text += ": " + String(body.prefix(300))
            }
            if status == 401 { text += " (check the credentials: --creds user:pass)" }
            return text
        case .transport(let operation, let method, let url, let underlying):
            return "\(operation): \(method) \(url) failed: \(underlying)"
        case .token(let realm, let status, let reason):
            return "token request to \(realm) failed" + (status.map { " with HTTP \($0)" } ?? "") + ": \(reason)"
        case .digestMismatch(let what, let url, let expected, let actual):
            return "\(what) from \(url): digest mismatch: expected \(expected), got \(actual)"
        case .sizeMismatch(let what, let url, let expected, let actual):
            return "\(what) from \(url): size mismatch: expected \(expected) bytes, got \(actual)"
        case .invalidResponse(let operation, let url, let reason):
            return "\(operation): invalid response from \(url): \(reason)"
        case .unsupportedMediaType(let url, let mediaType):
            return "\(url): unsupported manifest media type '\(mediaType)'"
        case .layout(let path, let reason):
            return "OCI layout \(path): \(reason)"
        case .tagNotFound(let tag, let layout, let available):
            return "tag '\(tag)' not found in \(layout)"
                + (available.isEmpty ? " (no tags)" : " (tags: \(available.joined(separator: ", ")))")
        case .invalidDigest(let digest):
            return "invalid digest '\(digest)'"
        }
    }

    /// The HTTP status, when the error is an HTTP one.
    public var status: Int? {
        if case .http(_, _, _, let status, _, _) = self { return status }
        if case .token(_, let status, _) = self { return status }
        return nil
    }

    static let reasons: [Int: String] = [
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
        409: "Conflict", 413: "Payload Too Large", 416: "Range Not Satisfiable", 429: "Too Many Requests",
        500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    ]
}
