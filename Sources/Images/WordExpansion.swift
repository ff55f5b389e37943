import Foundation

/// Docker's word processing for ADD, COPY, ENV, EXPOSE, FROM, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL:
/// quote removal, escapes, and `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alternative}` (no splitting).
struct WordExpansion {
    var escape: Character = "\\"
    var variables: [String: String]

    enum Failure: Error { case syntax(String) }

    func expand(_ word: String) throws(Failure) -> String {
        let chars = Array(word)
        var i = 0
        var out = ""
        var quote: Character?
        while i < chars.count {
            let c = chars[i]
            if quote == "'" {
                if c == "'" { quote = nil } else { out.append(c) }
                i += 1
                continue
            }
            if c == escape {
                if i + 1 < chars.count {
                    let next = chars[i + 1]
                    // Inside double quotes only \" \\ \$ are escapes; elsewhere any character is.
                    if quote == "\"" && !(next == "\"" || next == escape || next == "$") {
                        out.append(c)
                    } else {
                        out.append(next)
                    }
                    i += 2
                } else {
                    out.append(c)
                    i += 1
                }
                continue
            }
            if c == "\"" {
                quote = quote == nil ? "\"" : nil
                i += 1
                continue
            }
            if c == "'" && quote == nil {
                quote = "'"
                i += 1
                continue
            }
            if c == "$" {
                i += 1
                out += try variable(chars, &i)
                continue
            }
            out.append(c)
            i += 1
        }
        if let q = quote { throw .syntax("unterminated \(q) quote in \(word)") }
        return out
    }

    private func variable(_ chars: [Character], _ i: inout Int) throws(Failure) -> String {
        guard i < chars.count else { return "$" }
        if chars[i] == "{" {
            i += 1
            var name = ""
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" {
                name.append(chars[i])
                i += 1
            }
            guard !name.isEmpty, i < chars.count else { throw .syntax("bad substitution ${\(name)") }
            if chars[i] == "}" {
                i += 1
                return variables[name] ?? ""
            }
            guard chars[i] == ":", i + 1 < chars.count, chars[i + 1] == "-" || chars[i + 1] == "+" else {
                throw .syntax("unsupported modifier in ${\(name)\(chars[i])…}")
            }
            let op = chars[i + 1]
            i += 2
            var depth = 1
            var inner = ""
            while i < chars.count {
                if chars[i] == "{" { depth += 1 }
                if chars[i] == "}" {
                    depth -= 1
                    if depth == 0 { break }
                }
                inner.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw .syntax("missing } in ${\(name)") }
            i += 1
            let value = variables[name] ?? ""
            if op == "-" { return value.isEmpty ? try expand(inner) : value }
            return value.isEmpty ? "" : try expand(inner)
        }
        var name = ""
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" {
            name.append(chars[i])
            i += 1
        }
        if name.isEmpty { return "$" }
        return variables[name] ?? ""
    }
}
