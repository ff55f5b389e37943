import Foundation

/// `.dockerignore` rules: globs (`*`, `?`, `**`, `[…]`) on context-relative paths, `!` re-includes,
/// the last matching rule wins, and a rule matching a directory covers everything under it.
public struct DockerIgnore: Sendable {
    struct Rule: Sendable {
        var pattern: String
        var negate: Bool
    }
    var rules: [Rule]

    public init(text: String) {
        rules = text.split(separator: "\n").compactMap { raw in
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { return nil }
            var negate = false
            if line.hasPrefix("!") {
                negate = true
                line = line.dropFirst().trimmingCharacters(in: .whitespaces)
            }
            let cleaned = cleanRelativePath(line)
            return cleaned.isEmpty ? nil : Rule(pattern: cleaned, negate: negate)
        }
    }

    public static func load(context: String) throws -> DockerIgnore {
        let path = context + "/.dockerignore"
        guard FS.exists(path) else { return DockerIgnore(text: "") }
        return DockerIgnore(text: String(decoding: try FS.readFile(path), as: UTF8.self))
    }

    public func isExcluded(_ relativePath: String) -> Bool {
        let path = cleanRelativePath(relativePath)
        let parts = path.split(separator: "/").map(String.init)
        var excluded = false
        for rule in rules {
            var matched = false
            for n in stride(from: parts.count, through: 1, by: -1) {
                if globMatch(rule.pattern, parts[0..<n].joined(separator: "/")) {
                    matched = true
                    break
                }
            }
            if matched { excluded = !rule.negate }
        }
        return excluded
    }
}

/// Lexically clean a relative path: drop leading "/", "./", empty and "." components, resolve "..".
/// A result starting with ".." means the path climbs out.
func cleanRelativePath(_ p: String) -> String {
    var out: [Substring] = []
    for c in p.split(separator: "/", omittingEmptySubsequences: true) {
        if c == "." { continue }
        if c == "..", let last = out.last, last != ".." {
            out.removeLast()
        } else {
            out.append(c)
        }
    }
    return out.joined(separator: "/")
}

/// Clean an absolute image path: "/a/./b/../c/" → "/a/c".
func cleanAbsolutePath(_ p: String) -> String {
    var out: [Substring] = []
    for c in p.split(separator: "/", omittingEmptySubsequences: true) {
        if c == "." { continue }
        if c == ".." {
            if !out.isEmpty { out.removeLast() }
        } else {
            out.append(c)
        }
    }
    return "/" + out.joined(separator: "/")
}

/// Glob match on whole paths: `*` and `?` stay within one component, `**` spans components.
func globMatch(_ pattern: String, _ path: String) -> Bool {
    let p = Array(pattern.utf8)
    let s = Array(path.utf8)
    func match(_ pi: Int, _ si: Int) -> Bool {
        var pi = pi
        var si = si
        while pi < p.count {
            let c = p[pi]
            if c == UInt8(ascii: "*") {
                if pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") {
                    var next = pi + 2
                    if next < p.count && p[next] == UInt8(ascii: "/") { next += 1 }
                    if next >= p.count { return true }
                    for k in si...s.count where k == si || s[k - 1] == UInt8(ascii: "/") {
                        if match(next, k) { return true }
                    }
                    return false
                }
                for k in si...s.count {
                    if match(pi + 1, k) { return true }
                    if k < s.count && s[k] == UInt8(ascii: "/") { return false }
                }
                return false
            }
            guard si < s.count else { return false }
            if c == UInt8(ascii: "?") {
                if s[si] == UInt8(ascii: "/") { return false }
            } else if c == UInt8(ascii: "[") {
                guard let close = p[(pi + 1)...].firstIndex(of: UInt8(ascii: "]")) else { return false }
                var set = Array(p[(pi + 1)..<close])
                var negated = false
                if let f = set.first, f == UInt8(ascii: "!") || f == UInt8(ascii: "^") {
                    negated = true
                    set.removeFirst()
                }
                var hit = false
                var k = 0
                while k < set.count {
                    if k + 2 < set.count && set[k + 1] == UInt8(ascii: "-") {
                        if set[k] <= s[si] && s[si] <= set[k + 2] { hit = true }
                        k += 3
                    } else {
                        if set[k] == s[si] { hit = true }
                        k += 1
                    }
                }
                if hit == negated { return false }
                pi = close
            } else if c == UInt8(ascii: "\\") && pi + 1 < p.count {
                pi += 1
                if p[pi] != s[si] { return false }
            } else if c != s[si] {
                return false
            }
            pi += 1
            si += 1
        }
        return si == s.count
    }
    return match(0, 0)
}

func hasGlobCharacters(_ s: String) -> Bool { s.contains { "*?[".contains($0) } }
