import Foundation

/// `name[:tag]` as written by users; the tag defaults to `latest`. Stored in index.json as the
/// `org.opencontainers.image.ref.name` annotation `name:tag`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var tag: String

    public init(name: String, tag: String = "latest") {
        self.name = name
        self.tag = tag
    }

    public init(parsing s: String) throws {
        let lastSlash = s.lastIndex(of: "/")
        var name = s
        var tag = "latest"
        if let colon = s.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            name = String(s[..<colon])
            tag = String(s[s.index(after: colon)...])
        }
        guard Self.validName(name) else {
            throw ImageError(
                .invalidReference,
                "invalid image name \"\(s)\": want lowercase [a-z0-9] components separated by . _ - or /")
        }
        guard Self.validTag(tag) else {
            throw ImageError(.invalidReference, "invalid tag in \"\(s)\": want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
        self.name = name
        self.tag = tag
    }

    public var description: String { "\(name):\(tag)" }

    static func validName(_ n: String) -> Bool {
        guard !n.isEmpty, n.count <= 255 else { return false }
        for component in n.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = component.first, let last = component.last,
                first.isASCII && (first.isLowercase || first.isNumber),
                last.isASCII && (last.isLowercase || last.isNumber),
                component.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "._-".contains($0)) })
            else { return false }
        }
        return true
    }

    static func validTag(_ t: String) -> Bool {
        guard let first = t.first, t.count <= 128, first.isASCII, first.isLetter || first.isNumber || first == "_"
        else { return false }
        return t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }
}
