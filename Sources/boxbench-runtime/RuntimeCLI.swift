import ArgumentParser
import Containers
import Foundation

/// boxbench's container runtime behind runc's command line, so OCI tooling can drive it.
@main
struct RuntimeCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxbench-runtime",
        abstract: "An OCI runtime (runc-compatible command line) backed by boxbench's container runtime.",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, Spec.self])

    /// runc takes global flags before the subcommand (`runc --root R create …`); move them after it for the parser.
    static func main() {
        let valued: Set<String> = ["--root", "--log", "--log-format"]
        let flags: Set<String> = ["--debug", "--systemd-cgroup"]
        var args = Array(CommandLine.arguments.dropFirst())
        var globals: [String] = []
        while let first = args.first, first.hasPrefix("--") {
            let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
            if valued.contains(name) && !first.contains("=") && args.count > 1 {
                globals += args.prefix(2)
                args.removeFirst(2)
            } else if valued.contains(name) || flags.contains(name) {
                globals.append(first)
                args.removeFirst()
            } else {
                break
            }
        }
        if !args.isEmpty { args.insert(contentsOf: globals, at: 1) }
        // The lifecycle commands are timed against runc and crun as whole commands: parse just the subcommand's
        // own arguments (building the whole command tree first costs ~2 ms here). Help and errors take the full path.
        let leaves: [String: any ParsableCommand.Type] = [
            "create": Create.self, "start": Start.self, "delete": Delete.self, "run": Run.self, "kill": Kill.self,
            "state": State.self,
        ]
        if let name = args.first, let leaf = leaves[name], runLeaf(leaf, Array(args.dropFirst())) { return }
        main(args)
    }

    /// Runs `type` parsed from `args` alone; false (nothing run) when they do not parse.
    static func runLeaf<Command: ParsableCommand>(_ type: Command.Type, _ args: [String]) -> Bool {
        guard var command = try? Command.parse(args) else { return false }
        do { try command.run() } catch { exit(withError: error) }
        return true
    }
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Root directory for container state.") var root = "/run/boxbench-runtime"
    @Option(name: .long, help: "Log file (errors are also written to stderr).") var log: String?
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat = "text"
    @Flag(name: .long, help: "Ignored; accepted for runc compatibility.") var debug = false
    @Flag(name: .customLong("systemd-cgroup"), help: "Not supported; accepted and refused clearly.") var systemdCgroup =
        false

    var runtime: OCIRuntime { OCIRuntime(root: root) }

    /// Runs `body`; errors go to stderr and the log (JSON lines with --log-format json), exit status 1 like runc.
    func perform(_ body: () throws -> Void) throws {
        do {
            if systemdCgroup { throw OCIRuntimeError("--systemd-cgroup is not supported (cgroupfs only)") }
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let message = "\(error)"
            FileHandle.standardError.write(Data("boxbench-runtime: \(message)\n".utf8))
            if let log {
                let line: String
                if logFormat == "json" {
                    let obj = ["level": "error", "msg": message, "time": ISO8601DateFormatter().string(from: Date())]
                    line = String(
                        decoding: (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data(),
                        as: UTF8.self)
                } else {
                    line = "error: \(message)"
                }
                if let h = FileHandle(forWritingAtPath: log)
                    ?? (FileManager.default.createFile(atPath: log, contents: nil)
                        ? FileHandle(forWritingAtPath: log) : nil)
                {
                    h.seekToEndOfFile()
                    h.write(Data((line + "\n").utf8))
                    try? h.close()
                }
            }
            throw ExitCode(1)
        }
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container; it waits for `start` before exec.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Bundle directory.") var bundle = "."
    @Option(name: .customLong("pid-file"), help: "Write the container's pid here.") var pidFile: String?
    @Option(name: .customLong("console-socket"), help: "Terminal socket (needs process.terminal).") var consoleSocket:
        String?
    @Argument var id: String

    func run() throws {
        try global.perform {
            if consoleSocket != nil {
                throw OCIRuntimeError(
                    "cannot use --console-socket: process.terminal is not supported by boxbench-runtime")
            }
            try global.runtime.create(id: id, bundle: bundle, pidFile: pidFile)
        }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a created container (exec its process).")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String
    func run() throws { try global.perform { try global.runtime.start(id) } }
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the container's OCI state as JSON.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String
    func run() throws {
        try global.perform {
            FileHandle.standardOutput.write(try global.runtime.state(id).ociJSON())
            print()
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal (default SIGTERM) to the container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Signal every process in the container's cgroup.") var all = false
    @Argument var id: String
    @Argument var signal = "SIGTERM"

    func run() throws {
        try global.perform {
            guard let number = Self.signalNumber(signal) else { throw OCIRuntimeError("unknown signal \"\(signal)\"") }
            try global.runtime.kill(id, signal: number, all: all)
        }
    }

    static func signalNumber(_ s: String) -> Int32? {
        if let n = Int32(s), n > 0, n < 65 { return n }
        let names: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1, "USR2": SIGUSR2,
            "TERM": SIGTERM, "STOP": SIGSTOP, "CONT": SIGCONT, "ALRM": SIGALRM, "WINCH": SIGWINCH,
        ]
        let bare = s.uppercased().hasPrefix("SIG") ? String(s.uppercased().dropFirst(3)) : s.uppercased()
        return names[bare]
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a stopped container (--force: any).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Kill and delete even if running.") var force = false
    @Argument var id: String
    func run() throws { try global.perform { try global.runtime.delete(id, force: force) } }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create, start and wait; exit status is the container's.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Bundle directory.") var bundle = "."
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Argument var id: String

    func run() throws {
        var status: Int32 = 0
        try global.perform {
            let spec: RuntimeSpec
            do { spec = try RuntimeSpec.load(bundle: bundle) } catch { throw OCIRuntimeError("\(error)") }
            let runtime = ContainerRuntime(stateRoot: global.root)
            let result = try runtime.run(
                ContainerRequest(
                    id: id, bundle: URL(fileURLWithPath: bundle).standardizedFileURL.path, spec: spec,
                    io: .inherit(stdin: 0, stdout: 1, stderr: 2)))
            status = result.exit.shellStatus
        }
        throw ExitCode(status)
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List containers.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "table or json.") var format = "table"
    @Flag(name: [.short, .long], help: "Only ids.") var quiet = false

    func run() throws {
        try global.perform {
            let states = global.runtime.list()
            if quiet {
                states.forEach { print($0.id) }
            } else if format == "json" {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                FileHandle.standardOutput.write(
                    try e.encode(
                        states.map { s in
                            [
                                "id": s.id, "pid": "\(s.pid)", "status": s.status, "bundle": s.bundle,
                                "created": s.created ?? "",
                            ]
                        }))
                print()
            } else if format == "table" {
                print("ID".padding(toLength: 24, withPad: " ", startingAt: 0) + "PID       STATUS    BUNDLE")
                for s in states {
                    print(
                        s.id.padding(toLength: 24, withPad: " ", startingAt: 0)
                            + "\(s.pid)".padding(toLength: 10, withPad: " ", startingAt: 0)
                            + s.status.padding(toLength: 10, withPad: " ", startingAt: 0) + s.bundle)
                }
            } else {
                throw OCIRuntimeError("unknown --format \(format) (table or json)")
            }
        }
    }
}

struct Spec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a default config.json into the bundle directory.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Bundle directory.") var bundle = "."

    func run() throws {
        try global.perform {
            let path = bundle + "/config.json"
            if FileManager.default.fileExists(atPath: path) {
                throw OCIRuntimeError("File \(path) exists. Remove it first")
            }
            try RuntimeSpec.defaultSpec().jsonData().write(to: URL(fileURLWithPath: path))
        }
    }
}
