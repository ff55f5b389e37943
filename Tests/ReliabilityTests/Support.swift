import Foundation
import Testing

/// The hostile corpus, copied into the test bundle.
enum Corpus {
    static let root: String = {
        let base = Bundle.module.resourcePath ?? Bundle.module.bundlePath
        return base + "/Fixtures/hostile"
    }()

    /// `<dir>/expect.json`: fixture name → substrings its error must contain.
    static func expectations(_ dir: String) throws -> [(name: String, substrings: [String])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + dir + "/expect.json"))
        let map = try JSONDecoder().decode([String: [String]].self, from: data)
        return map.keys.sorted().map { ($0, map[$0]!) }
    }
}

/// A scratch directory under /tmp, removed by `cleanup()`.
struct Scratch {
    let path: String
    init(_ name: String) {
        var template = Array("/tmp/boxbench-test-rel-\(name)-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Every path below `dir` (relative), with size and type, to prove nothing changed there.
func treeSnapshot(_ dir: String) -> [String: String] {
    var out: [String: String] = [:]
    guard let e = FileManager.default.enumerator(atPath: dir) else { return out }
    while let rel = e.nextObject() as? String {
        var st = stat()
        lstat(dir + "/" + rel, &st)
        out[rel] = "\(st.st_mode)/\(st.st_size)/\(st.st_nlink)"
    }
    return out
}

/// `<dir of the test binary>/boxbench`, built alongside the tests.
let boxbenchBinary: String = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var candidate = dir.appendingPathComponent("boxbench").path
    if !FileManager.default.isExecutableFile(atPath: candidate) {
        // xctest bundles on some layouts sit one level deeper.
        candidate = dir.deletingLastPathComponent().appendingPathComponent("boxbench").path
    }
    return candidate
}()

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the boxbench CLI with `environment` added; stdin is /dev/null.
func runBoxbench(_ args: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: boxbenchBinary)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
    let errBox = DataBox()
    let t = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
    t.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !errBox.done { usleep(1000) }
    return CLIResult(
        status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: errBox.data, as: UTF8.self))
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data()
    private var finished = false
    var data: Data {
        get { lock.withLock { value } }
        set {
            lock.withLock {
                value = newValue
                finished = true
            }
        }
    }
    var done: Bool { lock.withLock { finished } }
}

/// Runs `argv` and returns its exit status (output discarded).
@discardableResult
func sh(_ argv: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// An error's text must contain every expected substring; reported with the fixture name.
func expectNames(
    _ error: any Error, _ substrings: [String], fixture: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let text = "\(error)"
    for s in substrings {
        #expect(text.contains(s), "\(fixture): error does not name \"\(s)\": \(text)", sourceLocation: sourceLocation)
    }
}
