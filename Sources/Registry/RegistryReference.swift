/// A registry image reference: `host[:port]/repo/path[:tag|@sha256:hex]`.
///
/// Unlike Docker's short names, the host is always explicit: the first path component is
/// the registry (`127.0.0.1:5000`, `registry.example.com`, `localhost`, `[::1]:5000`).
public struct RegistryReference: Sendable, Hashable, CustomStringConvertible {
    /// `host` or `host:port`, exactly as written (IPv6 literals keep their brackets).
    public var registry: String
    /// The repository path inside the registry, e.g. `library/alpine`.
    public var repository: String
    public var tag: String?
    /// `sha256:<64 hex>` when the reference pins a digest.
    public var digest: String?

    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// What `GET /v2/<name>/manifests/<reference>` takes: the digest if pinned, else the tag, else `latest`.
    public var manifestReference: String { digest ?? tag ?? "latest" }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// Parses `host[:port]/repo/path[:tag|@sha256:hex]` (a tag and a digest together are accepted too).
    public init(parsing text: String) throws(RegistryReferenceError) {
        if text.isEmpty { throw .empty }
        if text.contains(where: { $0.isWhitespace }) { throw .whitespace(text) }
        var rest = Substring(text)
        // The scheme is not part of a reference; say so rather than mis-parse `https:` as a host.
        if let schemeEnd = rest.range(of: "://") {
            throw .schemeNotAllowed(String(rest[..<schemeEnd.lowerBound]))
        }
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            guard Digests.isValid(digestText) else { throw .invalidDigest(digestText) }
            digest = digestText
            rest = rest[..<at]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw .missingRepository(String(rest)) }
        let hostPart = String(rest[..<slash])
        var pathPart = rest[rest.index(after: slash)...]
        // Docker's rule for telling a host from a repository path: a dot, a port, `[`, or `localhost`.
        // There is no default registry here, so `library/alpine` is an error, not a guess.
        guard hostPart.contains(".") || hostPart.contains(":") || hostPart.hasPrefix("[") || hostPart == "localhost"
        else {
            throw .missingRegistry(hostPart)
        }
        try Self.validateRegistry(hostPart)

        var tag: String?
        // A colon after the last slash separates the tag (the host's port is before the first slash).
        if let colon = pathPart.lastIndex(of: ":") {
            let tagText = String(pathPart[pathPart.index(after: colon)...])
            guard Self.isValidTag(tagText) else { throw .invalidTag(tagText) }
            tag = tagText
            pathPart = pathPart[..<colon]
        }
        let repository = String(pathPart)
        if repository.isEmpty { throw .missingRepository(text) }
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            guard Self.isValidPathComponent(component) else {
                throw .invalidRepositoryComponent(String(component), repository: repository)
            }
        }
        if repository.utf8.count > 255 { throw .repositoryTooLong(repository) }
        self.init(registry: hostPart, repository: repository, tag: tag, digest: digest)
    }

    static func validateRegistry(_ host: String) throws(RegistryReferenceError) {
        if host.isEmpty { throw .invalidHost(host) }
        var name = Substring(host)
        var port: Substring?
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { throw .invalidHost(host) }
            let inside = name[name.index(after: name.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw .invalidHost(host)
            }
            let after = name[name.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidHost(host) }
                port = after.dropFirst()
            }
            name = inside
        } else {
            if let colon = name.firstIndex(of: ":") {
                port = name[name.index(after: colon)...]
                name = name[..<colon]
            }
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            for label in labels {
                guard !label.isEmpty, label.utf8.count <= 63,
                    label.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }),
                    label.first != "-", label.last != "-"
                else { throw .invalidHost(host) }
            }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(port), (1...65535).contains(value)
            else { throw .invalidPort(String(port)) }
        }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (the distribution spec's path component).
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
            return false
        }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) {
                i += 1
                continue
            }
            // A separator run: ".", "_", "__" or one or more "-".
            var j = i
            while j < bytes.count, !isLowerAlnum(bytes[j]) { j += 1 }
            let run = bytes[i..<j]
            let ok =
                run.elementsEqual([UInt8(ascii: ".")]) || run.elementsEqual([UInt8(ascii: "_")])
                || run.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
                || run.allSatisfy { $0 == UInt8(ascii: "-") }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }
        guard word(first) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }
    private static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
}

public enum RegistryReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case whitespace(String)
    case schemeNotAllowed(String)
    case missingRepository(String)
    case missingRegistry(String)
    case invalidHost(String)
    case invalidPort(String)
    case invalidRepositoryComponent(String, repository: String)
    case repositoryTooLong(String)
    case invalidTag(String)
    case invalidDigest(String)

    public var description: String {
        switch self {
        case .empty: "empty image reference"
        case .whitespace(let text): "image reference '\(text)' contains whitespace"
        case .schemeNotAllowed(let scheme):
            "image reference starts with a URL scheme '\(scheme)://': write host[:port]/repository[:tag]"
        case .missingRepository(let text):
            "image reference '\(text)' has no repository: expected host[:port]/repository[:tag|@sha256:…]"
        case .missingRegistry(let first):
            "image reference starts with '\(first)', which is not a registry host: write host[:port]/repository[:tag] (a host has a dot or a port, or is localhost)"
        case .invalidHost(let host): "invalid registry host '\(host)'"
        case .invalidPort(let port): "invalid registry port '\(port)' (expected 1-65535)"
        case .invalidRepositoryComponent(let component, let repository):
            "invalid repository path component '\(component)' in '\(repository)' (lowercase letters, digits and . _ __ - separators)"
        case .repositoryTooLong(let repository): "repository name '\(repository)' is longer than 255 bytes"
        case .invalidTag(let tag):
            "invalid tag '\(tag)' (letters, digits, _ . -, at most 128, not starting with . or -)"
        case .invalidDigest(let digest): "invalid digest '\(digest)' (expected sha256:<64 lowercase hex>)"
        }
    }
}
