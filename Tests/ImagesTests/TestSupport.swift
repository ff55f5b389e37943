import Foundation

@testable import Images

/// A scratch directory under /tmp, removed by `cleanup()`.
struct TempDir {
    let path: String
    init(_ name: String = "images") {
        var template = Array("/tmp/boxbench-test-\(name)-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }
    func cleanup() { try? FS.removeTree(path) }

    @discardableResult
    func write(_ rel: String, _ text: String, mode: mode_t = 0o644) -> String {
        let p = path + "/" + rel
        try! FS.makeDirectories((p as NSString).deletingLastPathComponent)
        try! FS.writeAtomically(p, Data(text.utf8), mode: mode)
        chmod(p, mode)
        return p
    }
}

/// Stands in for the container runtime: interprets `sh -c` text as `;`-separated tiny commands that act on
/// the upper dir directly: `write PATH TEXT`, `rm PATH` (overlay whiteout: 0/0 char device),
/// `rmdir-opaque PATH` (opaque directory), `exit N`.
struct FakeExecutor: RunStepExecutor {
    let log: LockedLog

    func run(_ step: RunStep, output: @Sendable (String) -> Void) throws -> Int32 {
        log.append(step)
        var script = step.argv.last ?? ""
        for e in step.env {  // the shell's parameter expansion, for ${NAME} only
            let kv = e.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { script = script.replacingOccurrences(of: "${\(kv[0])}", with: kv[1]) }
        }
        for command in script.split(separator: ";") {
            let words = command.split(separator: " ", maxSplits: 2).map(String.init)
            guard let verb = words.first else { continue }
            let target = words.count > 1 ? step.upperDir + words[1] : ""
            switch verb {
            case "write":
                try FS.makeDirectories((target as NSString).deletingLastPathComponent)
                try FS.writeAtomically(target, Data((words.count > 2 ? words[2] : "").utf8))
                output("wrote \(words[1])")
            case "rm":
                try FS.makeDirectories((target as NSString).deletingLastPathComponent)
                guard mknod(target, S_IFCHR, 0) == 0 else { throw ImageError.errno("mknod", target) }
            case "mkdir-opaque":
                try FS.makeDirectories(target)
                try Xattr.set(target, "trusted.overlay.opaque", [UInt8(ascii: "y")])
            case "link":  // link PATH TARGET: a symlink in the upper dir
                try FS.makeDirectories((target as NSString).deletingLastPathComponent)
                guard symlink(words.count > 2 ? words[2] : "", target) == 0 else {
                    throw ImageError.errno("symlink", target)
                }
            case "exit":
                return Int32(words[1]) ?? 1
            default:
                output("fake executor ignores \(verb)")
            }
        }
        return 0
    }
}

final class LockedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [RunStep] = []
    func append(_ s: RunStep) { lock.withLock { steps.append(s) } }
    var all: [RunStep] { lock.withLock { steps } }
}

func runTool(_ argv: [String]) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func makeStore(_ dir: TempDir) throws -> ImageStore {
    try ImageStore(root: dir.path + "/store", layerCache: dir.path + "/layers")
}
