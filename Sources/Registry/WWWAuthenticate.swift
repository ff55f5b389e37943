/// One challenge of a `WWW-Authenticate` header (RFC 7235): a scheme and its auth-params.
public struct AuthChallenge: Sendable, Equatable {
    /// Lowercased scheme: `bearer`, `basic`, …
    public var scheme: String
    /// Parameter names lowercased; values unquoted.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    /// Scopes from `scope="a b"` (the token spec separates several with spaces).
    public var scopes: [String] {
        guard let scope = parameters["scope"] else { return [] }
        return scope.split(separator: " ").map(String.init)
    }

    /// Parses a header value into its challenges, e.g.
    /// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"`.
    /// Commas inside quoted strings, several challenges in one header, `token68` forms and stray
    /// whitespace are handled; a malformed tail ends parsing without crashing.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        while true {
            scanner.skip { $0 == .space || $0 == .tab || $0 == .comma }
            guard !scanner.atEnd else { break }
            let scheme = scanner.token()
            guard !scheme.isEmpty else { break }  // not a token: malformed, stop here
            var challenge = AuthChallenge(scheme: scheme)
            var first = true
            while true {
                let mark = scanner.position
                scanner.skip { $0 == .space || $0 == .tab }
                var sawComma = false
                while let b = scanner.peek, b == .comma || b == .space || b == .tab {
                    if b == .comma { sawComma = true }
                    scanner.advance()
                }
                if scanner.atEnd { break }
                let nameStart = scanner.position
                let name = scanner.token()
                scanner.skip { $0 == .space || $0 == .tab }
                if !name.isEmpty, scanner.peek == .equals {
                    let afterName = scanner.position
                    scanner.advance()
                    scanner.skip { $0 == .space || $0 == .tab }
                    if first, !sawComma, scanner.atEnd || scanner.peek == .comma || scanner.peek == .equals {
                        // `Scheme token68=` (base64 padding), not a parameter.
                        scanner.position = afterName
                        scanner.skip { $0 == .equals }
                        challenge.parameters["token68"] = String(
                            decoding: scanner.bytes[nameStart..<scanner.position], as: UTF8.self)
                        first = false
                        continue
                    }
                    let value = scanner.peek == .quote ? scanner.quotedString() : scanner.token()
                    challenge.parameters[name.lowercased()] = value
                    first = false
                    continue
                }
                if first, !sawComma, !name.isEmpty {
                    // `Scheme token68`, separated from the scheme by whitespace only.
                    challenge.parameters["token68"] = name
                    first = false
                    continue
                }
                // The next challenge's scheme (or garbage): leave it for the outer loop.
                scanner.position = name.isEmpty ? scanner.bytes.count : mark
                break
            }
            challenges.append(challenge)
        }
        return challenges
    }
}

extension UInt8 {
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let equals = UInt8(ascii: "=")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let backslash = UInt8(ascii: "\\")
}

private struct Scanner {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[position] }
    mutating func advance() { if !atEnd { position += 1 } }
    mutating func skip(while predicate: (UInt8) -> Bool) {
        while let b = peek, predicate(b) { position += 1 }
    }

    static func isTokenChar(_ b: UInt8) -> Bool {
        // RFC 7230 tchar, plus '/' so token68 values and bare URLs survive.
        if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) { return true }
        return Array("!#$%&'*+-.^_`|~/:".utf8).contains(b)
    }

    mutating func token() -> String {
        let start = position
        skip(while: Scanner.isTokenChar)
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func quotedString() -> String {
        advance()  // opening quote
        var out: [UInt8] = []
        while let b = peek {
            position += 1
            if b == .quote { break }
            if b == .backslash, let next = peek {
                position += 1
                out.append(next)
                continue
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
