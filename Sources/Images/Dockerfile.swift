import Foundation

/// A Dockerfile problem, located: `FILE:LINE: INSTRUCTION: message`.
public struct DockerfileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var instruction: String
    public var message: String

    public var description: String { "\(file):\(line): \(instruction): \(message)" }
}

/// RUN/CMD/ENTRYPOINT arguments: JSON (exec) form or a shell string.
public enum CommandForm: Sendable, Equatable {
    case exec([String])
    case shell(String)

    /// argv for the image config or the executor; shell form goes through `shell` (default `/bin/sh -c`).
    public func argv(shell: [String]) -> [String] {
        switch self {
        case .exec(let a): a
        case .shell(let s): shell + [s]
        }
    }
}

/// COPY and ADD: sources relative to the context, a destination inside the image.
public struct CopySpec: Sendable, Equatable {
    public var sources: [String]
    public var destination: String
    public var chown: String?
    public var chmod: String?
    /// `COPY --from=`: a stage (by name or index) or an image; nil for the build context.
    public var from: String? = nil
}

/// `KEY=VALUE` as written; the value is expanded (quotes, `$VAR`) at build time.
public struct KeyValue: Sendable, Equatable {
    public var key: String
    public var value: String
}

public struct Instruction: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case from(image: String, alias: String?)
        case run(CommandForm)
        case copy(CopySpec)
        case add(CopySpec)
        case workdir(String)
        case env([KeyValue])
        case arg(name: String, defaultValue: String?)
        case label([KeyValue])
        case user(String)
        case expose([String])
        case entrypoint(CommandForm)
        case cmd(CommandForm)
        case shell([String])
        case stopSignal(String)
        case volume([String])
    }

    /// 1-based line of the instruction keyword.
    public var line: Int
    /// Upper-cased keyword ("COPY").
    public var keyword: String
    /// Everything after the keyword, continuations joined.
    public var arguments: String
    public var kind: Kind

    /// As recorded in history: `COPY a b`.
    public var text: String { "\(keyword) \(arguments)" }
}

public struct Dockerfile: Sendable {
    public var file: String
    public var escape: Character
    public var instructions: [Instruction]

    /// Parse Dockerfile text; `file` names the file in errors.
    public static func parse(_ text: String, file: String = "Dockerfile") throws -> Dockerfile {
        try DockerfileParser(file: file).parse(text)
    }

    public static func load(_ path: String) throws -> Dockerfile {
        let data = try FS.readFile(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DockerfileError(file: path, line: 1, instruction: "(file)", message: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }
}

struct DockerfileParser {
    let file: String

    func fail(_ line: Int, _ instruction: String, _ message: String) -> DockerfileError {
        DockerfileError(file: file, line: line, instruction: instruction, message: message)
    }

    func parse(_ text: String) throws -> Dockerfile {
        // "\r\n" is one Character in Swift: split on it too, or a CRLF file is a single line.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var escape: Character = "\\"
        var index = 0
        // Parser directives: only at the very top, `# name=value`.
        var seenDirectives = Set<String>()
        while index < lines.count {
            let t = lines[index].trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("#") else { break }
            let body = t.dropFirst().trimmingCharacters(in: .whitespaces)
            guard let eq = body.firstIndex(of: "="),
                body[..<eq].trimmingCharacters(in: .whitespaces).allSatisfy({ $0.isLetter })
            else { break }
            let name = body[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { break }
            if seenDirectives.contains(name) { throw fail(index + 1, "(directive)", "\(name) directive given twice") }
            seenDirectives.insert(name)
            if name == "escape" {
                guard value == "\\" || value == "`" else {
                    throw fail(index + 1, "(directive)", "invalid escape character \"\(value)\" (use \\ or `)")
                }
                escape = value.first!
            }
            index += 1
        }

        var instructions: [Instruction] = []
        var sawFrom = false
        while index < lines.count {
            let raw = lines[index]
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                index += 1
                continue
            }
            let startLine = index + 1
            var logical = ""
            var current = raw
            while true {
                let (body, continues) = stripContinuation(current, escape: escape)
                logical += body
                index += 1
                guard continues else { break }
                // Comment and blank lines inside a continuation are dropped.
                while index < lines.count {
                    let t = lines[index].trimmingCharacters(in: .whitespaces)
                    if t.hasPrefix("#") || t.isEmpty { index += 1 } else { break }
                }
                guard index < lines.count else { break }
                current = lines[index]
            }
            let content = logical.trimmingCharacters(in: .whitespaces)
            let keywordEnd = content.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? content.endIndex
            let keyword = content[..<keywordEnd].uppercased()
            let args = content[keywordEnd...].trimmingCharacters(in: .whitespaces)
            let kind = try parseInstruction(keyword, args, line: startLine, escape: escape)
            if case .from = kind {
                sawFrom = true
            } else if !sawFrom {
                if case .arg = kind {
                } else {
                    throw fail(startLine, keyword, "instruction before the first FROM (only ARG may precede it)")
                }
            }
            instructions.append(Instruction(line: startLine, keyword: keyword, arguments: args, kind: kind))
        }
        guard sawFrom else { throw fail(1, "FROM", "no FROM instruction") }
        return Dockerfile(file: file, escape: escape, instructions: instructions)
    }

    /// A line ending in the escape character (then only blanks) continues on the next line.
    func stripContinuation(_ line: String, escape: Character) -> (String, Bool) {
        var s = Substring(line)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        if s.last == escape {
            return (String(s.dropLast()), true)
        }
        return (line, false)
    }

    func parseInstruction(_ keyword: String, _ args: String, line: Int, escape: Character) throws -> Instruction.Kind {
        func need(_ cond: Bool, _ message: String) throws {
            if !cond { throw fail(line, keyword, message) }
        }
        switch keyword {
        case "FROM":
            let (flags, rest) = try splitFlags(args, keyword: keyword, line: line, escape: escape)
            for (name, _) in flags where name != "platform" {
                throw fail(line, keyword, "unknown flag --\(name)")
            }
            let words = rest
            try need(!words.isEmpty, "requires an image name (or scratch)")
            if words.count == 1 { return .from(image: words[0], alias: nil) }
            try need(words.count == 3 && words[1].lowercased() == "as", "expected \"FROM image [AS name]\"")
            let alias = words[2].lowercased()
            try need(
                alias.first?.isLetter == true && alias.allSatisfy { $0.isLetter || $0.isNumber || "_-.".contains($0) },
                "invalid stage name \"\(words[2])\"")
            return .from(image: words[0], alias: alias)
        case "RUN":
            let trimmed = args
            if trimmed.hasPrefix("--") {
                let flag = trimmed.split(separator: " ").first.map(String.init) ?? trimmed
                throw fail(line, keyword, "flag \(flag) is not supported")
            }
            try need(!trimmed.isEmpty, "requires a command")
            try need(
                !trimmed.split(separator: " ").contains { $0.hasPrefix("<<") && $0.count > 2 && !$0.hasPrefix("<<<") },
                "heredocs (<<EOF … EOF) are not supported: write the commands on the RUN line or COPY a script")
            return .run(try commandForm(trimmed, keyword: keyword, line: line))
        case "CMD", "ENTRYPOINT":
            let form = try commandForm(args, keyword: keyword, line: line)
            if case .shell(let s) = form, s.isEmpty, keyword == "ENTRYPOINT" {
                return .entrypoint(.exec([]))
            }
            return keyword == "CMD" ? .cmd(form) : .entrypoint(form)
        case "COPY", "ADD":
            let (flags, words) = try splitFlags(args, keyword: keyword, line: line, escape: escape, jsonTail: true)
            var spec = CopySpec(sources: [], destination: "", chown: nil, chmod: nil)
            for (name, value) in flags {
                switch name {
                case "chown": spec.chown = value
                case "chmod":
                    try need(
                        UInt32(value, radix: 8).map { $0 <= 0o7777 } == true,
                        "--chmod wants octal permissions, got \"\(value)\"")
                    spec.chmod = value
                case "from" where keyword == "COPY":
                    try need(!value.isEmpty, "--from wants a stage name, a stage index or an image")
                    spec.from = value
                default: throw fail(line, keyword, "unknown flag --\(name)")
                }
            }
            try need(
                !words.contains { $0.hasPrefix("<<") },
                "heredocs (<<EOF … EOF) are not supported: COPY a file from the context")
            try need(words.count >= 2, "requires at least one source and a destination")
            spec.sources = Array(words.dropLast())
            spec.destination = words.last!
            if keyword == "ADD" {
                for s in spec.sources where s.contains("://") || s.hasPrefix("git@") {
                    throw fail(line, keyword, "remote source \"\(s)\" is not supported (only local files and tars)")
                }
                return .add(spec)
            }
            return .copy(spec)
        case "WORKDIR":
            try need(!args.isEmpty, "requires a path")
            return .workdir(args)
        case "USER":
            try need(!args.isEmpty, "requires a user")
            try need(words(args, escape: escape).count == 1, "takes exactly one argument")
            return .user(args)
        case "ENV", "LABEL":
            try need(!args.isEmpty, "requires at least one KEY=VALUE")
            let ws = words(args, escape: escape)
            var pairs: [KeyValue] = []
            if keyword == "ENV", let first = ws.first, !first.contains("=") {
                // Legacy `ENV KEY value with spaces`.
                try need(ws.count >= 2, "\"\(first)\" has no value (use KEY=VALUE)")
                let value = args.dropFirst(first.count).trimmingCharacters(in: .whitespaces)
                pairs.append(KeyValue(key: first, value: value))
            } else {
                for w in ws {
                    guard let eq = w.firstIndex(of: "=") else {
                        throw fail(line, keyword, "\"\(w)\" is not KEY=VALUE")
                    }
                    var key = String(w[..<eq])
                    if key.count >= 2, let q = key.first, q == "\"" || q == "'", key.last == q {
                        key = String(key.dropFirst().dropLast())
                    }
                    try need(!key.isEmpty, "empty key in \"\(w)\"")
                    pairs.append(KeyValue(key: key, value: String(w[w.index(after: eq)...])))
                }
            }
            if keyword == "ENV" {
                for p in pairs {
                    try need(
                        p.key.allSatisfy({ !$0.isWhitespace && $0 != "$" }),
                        "invalid variable name \"\(p.key)\"")
                }
            }
            return keyword == "ENV" ? .env(pairs) : .label(pairs)
        case "ARG":
            let ws = words(args, escape: escape)
            try need(ws.count == 1, "takes exactly one NAME[=default]")
            let w = ws[0]
            if let eq = w.firstIndex(of: "=") {
                let name = String(w[..<eq])
                try need(isIdentifier(name), "invalid argument name \"\(name)\"")
                return .arg(name: name, defaultValue: String(w[w.index(after: eq)...]))
            }
            try need(isIdentifier(w), "invalid argument name \"\(w)\"")
            return .arg(name: w, defaultValue: nil)
        case "EXPOSE":
            let ws = words(args, escape: escape)
            try need(!ws.isEmpty, "requires at least one port")
            for w in ws where !w.contains("$") {
                let parts = w.split(separator: "/", omittingEmptySubsequences: false)
                let portOK =
                    parts.first.map { p in
                        p.split(separator: "-").allSatisfy { UInt16($0).map { $0 > 0 } ?? false }
                    } ?? false
                try need(
                    portOK && parts.count <= 2
                        && (parts.count == 1 || ["tcp", "udp", "sctp"].contains(parts[1].lowercased())),
                    "invalid port \"\(w)\" (want PORT[/tcp|udp|sctp])")
            }
            return .expose(ws)
        case "SHELL":
            guard case .exec(let argv) = try commandForm(args, keyword: keyword, line: line), !argv.isEmpty else {
                throw fail(line, keyword, "requires a JSON array, e.g. [\"/bin/sh\", \"-c\"]")
            }
            return .shell(argv)
        case "STOPSIGNAL":
            try need(!args.isEmpty, "requires a signal")
            return .stopSignal(args)
        case "VOLUME":
            if case .exec(let v) = try commandForm(args, keyword: keyword, line: line) { return .volume(v) }
            let ws = words(args, escape: escape)
            try need(!ws.isEmpty, "requires at least one path")
            return .volume(ws)
        case "HEALTHCHECK", "ONBUILD", "MAINTAINER":
            throw fail(line, keyword, "not supported by boxbench")
        default:
            throw fail(line, keyword, "unknown instruction")
        }
    }

    func isIdentifier(_ s: String) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII }
    }

    /// JSON array of strings → exec form; anything else → shell form (as Docker does).
    func commandForm(_ args: String, keyword: String, line: Int) throws -> CommandForm {
        if args.hasPrefix("["), let data = args.data(using: .utf8),
            let array = try? JSONSerialization.jsonObject(with: data) as? [Any]
        {
            guard let strings = array as? [String] else {
                throw fail(line, keyword, "JSON form must be an array of strings")
            }
            return .exec(strings)
        }
        return .shell(args)
    }

    /// Leading `--name=value` flags, then the remaining words (or a JSON array when `jsonTail`).
    func splitFlags(
        _ args: String, keyword: String, line: Int, escape: Character, jsonTail: Bool = false
    ) throws -> ([(String, String)], [String]) {
        var ws = words(args, escape: escape)
        var flags: [(String, String)] = []
        while let w = ws.first, w.hasPrefix("--") {
            ws.removeFirst()
            let body = w.dropFirst(2)
            guard let eq = body.firstIndex(of: "=") else {
                throw fail(line, keyword, "flag \(w) needs a value (--name=value)")
            }
            flags.append((String(body[..<eq]), String(body[body.index(after: eq)...])))
        }
        if jsonTail {
            let rest = ws.joined(separator: " ")
            if rest.hasPrefix("[") {
                guard case .exec(let list) = try commandForm(rest, keyword: keyword, line: line) else {
                    throw fail(line, keyword, "malformed JSON array")
                }
                return (flags, list)
            }
        }
        return (flags, ws)
    }

    /// Split on unquoted blanks; quotes and escapes are kept for expansion at build time.
    func words(_ s: String, escape: Character) -> [String] {
        var out: [String] = []
        var cur = ""
        var quote: Character?
        var escaped = false
        var inWord = false
        for c in s {
            if escaped {
                cur.append(c)
                escaped = false
                continue
            }
            if c == escape && quote != "'" {
                cur.append(c)
                escaped = true
                inWord = true
                continue
            }
            if let q = quote {
                if c == q { quote = nil }
                cur.append(c)
                continue
            }
            if c == "\"" || c == "'" {
                quote = c
                cur.append(c)
                inWord = true
                continue
            }
            if c == " " || c == "\t" {
                if inWord {
                    out.append(cur)
                    cur = ""
                    inWord = false
                }
                continue
            }
            cur.append(c)
            inWord = true
        }
        if inWord { out.append(cur) }
        return out
    }
}
