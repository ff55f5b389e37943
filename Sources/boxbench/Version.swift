import Foundation

enum BoxbenchVersion {
    static let string = "0.1.0"

    /// The source tree's commit, read from .git next to the working directory or the executable.
    static let commit: String = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for base in [
            FileManager.default.currentDirectoryPath, exe.appendingPathComponent("../../..").standardized.path,
        ] {
            let git = base + "/.git"
            guard
                let head = try? String(contentsOfFile: git + "/HEAD", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            else { continue }
            if head.hasPrefix("ref: ") {
                let ref = String(head.dropFirst(5))
                if let sha = try? String(contentsOfFile: "\(git)/\(ref)", encoding: .utf8) {
                    return String(sha.trimmingCharacters(in: .whitespacesAndNewlines).prefix(12))
                }
                if let packed = try? String(contentsOfFile: git + "/packed-refs", encoding: .utf8),
                    let line = packed.split(separator: "\n").first(where: { $0.hasSuffix(" " + ref) })
                {
                    return String(line.prefix(12))
                }
            } else {
                return String(head.prefix(12))
            }
        }
        return "unknown"
    }()
}
