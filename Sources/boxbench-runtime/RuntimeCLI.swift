import ArgumentParser
import Containers
import Foundation
import LeanArguments

/// boxbench's container runtime behind runc's command line, so OCI tooling can drive it.
@main
struct RuntimeCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxbench-runtime",
        abstract: "An OCI runtime (runc-compatible command line) backed by boxbench's container runtime.",
        // runc's form: its own version, then the runtime-spec version it implements.
        version: "boxbench-runtime version 0.1.0\nspec: 1.0.2",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, Spec.self])

    /// runc takes global flags before the subcommand (`runc --root R create …`); move them after it for the parser.
    static func main() {
        // A container that dies while create waits on it must be an error, not a silent SIGPIPE death.
        signal(SIGPIPE, SIG_IGN)
        // Arrays, not Sets: these two Set<String> literals cost 0.36 M instructions of generic set-up per command.
        let valued = ["--root", "--log", "--log-format"]
        let flags = ["--debug", "--systemd-cgroup"]
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
        // The lifecycle commands are timed against runc and crun as whole commands: the forms orchestrators send
        // are read by LeanArguments; anything else (help, errors, other commands) goes through ArgumentParser.
        if let (command, settings) = leanCommand(args) {
            do { try settings.perform { try command.execute(settings) } } catch let code as ExitCode {
                // ArgumentParser's exit(withError:) builds its help text even for an ExitCode (~12 M instructions
                // per command, results/runtime-breakdown.txt); an ExitCode has no message to print.
                Glibc.exit(code.rawValue)
            } catch {
                exit(withError: error)
            }
            return
        }
        main(args)
    }

    /// create, start, state, kill, delete and run from `LeanArguments`, or nil. Plain values, not the
    /// ArgumentParser commands: initialising their property wrappers cost each command ~0.6 M instructions.
    static func leanCommand(_ args: [String]) -> (LifecycleCommand, RuntimeSettings)? {
        guard let name = args.first else { return nil }
        let rest = Array(args.dropFirst())
        func settings(_ a: LeanArguments) -> RuntimeSettings {
            RuntimeSettings(
                root: a.options["root"] ?? RuntimeSettings.defaultRoot, log: a.options["log"],
                logFormat: a.options["log-format"] ?? "text", systemdCgroup: a.flags.contains("systemd-cgroup"))
        }
        /// The global options and flags, the command's own flag (long name, also `-<first letter>`), one id.
        func read(flag: (long: String, short: String, name: String)? = nil, positionals: ClosedRange<Int> = 1...1)
            -> LeanArguments?
        {
            if let flag {
                return LeanArguments(
                    rest, options: ["--root": "root", "--log": "log", "--log-format": "log-format"],
                    flags: [
                        "--debug": "debug", "--systemd-cgroup": "systemd-cgroup", flag.long: flag.name,
                        flag.short: flag.name,
                    ], positionals: positionals)
            }
            return LeanArguments(
                rest, options: ["--root": "root", "--log": "log", "--log-format": "log-format"],
                flags: ["--debug": "debug", "--systemd-cgroup": "systemd-cgroup"], positionals: positionals)
        }
        switch name {
        case "create", "run":
            guard
                let a = LeanArguments(
                    rest,
                    options: [
                        "--root": "root", "--log": "log", "--log-format": "log-format", "--bundle": "bundle",
                        "-b": "bundle", "--pid-file": "pid-file", "--console-socket": "console-socket",
                    ], flags: ["--debug": "debug", "--systemd-cgroup": "systemd-cgroup"], positionals: 1...1),
                // `run` has no --console-socket: ArgumentParser refuses it.
                name == "create" || a.options["console-socket"] == nil
            else { return nil }
            let (id, bundle, pidFile) = (a.positionals[0], a.options["bundle"] ?? ".", a.options["pid-file"])
            let command: LifecycleCommand =
                name == "create"
                ? .create(id: id, bundle: bundle, pidFile: pidFile, consoleSocket: a.options["console-socket"])
                : .run(id: id, bundle: bundle, pidFile: pidFile)
            return (command, settings(a))
        case "start":
            return read().map { (.start(id: $0.positionals[0]), settings($0)) }
        case "state":
            return read().map { (.state(id: $0.positionals[0]), settings($0)) }
        case "delete":
            guard let a = read(flag: ("--force", "-f", "force")) else { return nil }
            return (.delete(id: a.positionals[0], force: a.flags.contains("force")), settings(a))
        case "kill":
            guard let a = read(flag: ("--all", "-a", "all"), positionals: 1...2) else { return nil }
            let signal = a.positionals.count > 1 ? a.positionals[1] : "SIGTERM"
            return (.kill(id: a.positionals[0], signal: signal, all: a.flags.contains("all")), settings(a))
        default:
            return nil
        }
    }
}

/// What the lifecycle commands do, whichever parser read them.
enum LifecycleCommand {
    case create(id: String, bundle: String, pidFile: String?, consoleSocket: String?)
    case start(id: String)
    case state(id: String)
    case kill(id: String, signal: String, all: Bool)
    case delete(id: String, force: Bool)
    case run(id: String, bundle: String, pidFile: String?)

    /// Runs the command; `run` ends with the container's exit status as an ExitCode.
    func execute(_ settings: RuntimeSettings) throws {
        let runtime = settings.runtime
        switch self {
        case .create(let id, let bundle, let pidFile, let consoleSocket):
            if consoleSocket != nil {
                throw OCIRuntimeError(
                    "cannot use --console-socket: process.terminal is not supported by boxbench-runtime")
            }
            try runtime.create(id: id, bundle: bundle, pidFile: pidFile)
        case .start(let id):
            try runtime.start(id)
        case .state(let id):
            FileHandle.standardOutput.write(try runtime.state(id).ociJSON())
            print()
        case .kill(let id, let signal, let all):
            guard let number = Kill.signalNumber(signal) else { throw OCIRuntimeError("unknown signal \"\(signal)\"") }
            try runtime.kill(id, signal: number, all: all)
        case .delete(let id, let force):
            try runtime.delete(id, force: force)
        case .run(let id, let bundle, let pidFile):
            throw ExitCode(try runtime.run(id: id, bundle: bundle, pidFile: pidFile).exit.shellStatus)
        }
    }
}

/// A lifecycle command as ArgumentParser reads it (help, errors, every form LeanArguments leaves to it).
protocol LifecycleParsable: ParsableCommand {
    var global: GlobalOptions { get }
    var lifecycle: LifecycleCommand { get }
}

extension LifecycleParsable {
    func run() throws { try global.perform { try lifecycle.execute(global.settings) } }
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Root directory for container state.") var root = RuntimeSettings.defaultRoot
    @Option(name: .long, help: "Log file (errors are also written to stderr).") var log: String?
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat = "text"
    @Flag(name: .long, help: "Ignored; accepted for runc compatibility.") var debug = false
    @Flag(name: .customLong("systemd-cgroup"), help: "Not supported; accepted and refused clearly.") var systemdCgroup =
        false

    var settings: RuntimeSettings {
        RuntimeSettings(root: root, log: log, logFormat: logFormat, systemdCgroup: systemdCgroup)
    }
    var runtime: OCIRuntime { settings.runtime }
    func perform(_ body: () throws -> Void) throws { try settings.perform(body) }
}

/// The global options as plain values (what both parsers produce).
struct RuntimeSettings {
    static let defaultRoot = "/run/boxbench-runtime"
    var root: String
    var log: String?
    var logFormat: String
    var systemdCgroup: Bool

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
                    let obj = ["level": "error", "msg": message, "time": Date.now.formatted(.iso8601)]
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
            // Bad input (a bundle that cannot be run as written, a cgroup in use) is 2; operational failures 1.
            throw ExitCode((error as? OCIRuntimeError)?.isBadInput == true ? 2 : 1)
        }
    }
}

struct Create: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Create a container; it waits for `start` before exec.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Bundle directory.") var bundle = "."
    @Option(name: .customLong("pid-file"), help: "Write the container's pid here.") var pidFile: String?
    @Option(name: .customLong("console-socket"), help: "Terminal socket (needs process.terminal).") var consoleSocket:
        String?
    @Argument var id: String

    var lifecycle: LifecycleCommand {
        .create(id: id, bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket)
    }
}

struct Start: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Start a created container (exec its process).")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String
    var lifecycle: LifecycleCommand { .start(id: id) }
}

struct State: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Print the container's OCI state as JSON.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String
    var lifecycle: LifecycleCommand { .state(id: id) }
}

struct Kill: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Send a signal (default SIGTERM) to the container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Signal every process in the container's cgroup.") var all = false
    @Argument var id: String
    @Argument var signal = "SIGTERM"

    var lifecycle: LifecycleCommand { .kill(id: id, signal: signal, all: all) }

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

struct Delete: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Delete a stopped container (--force: any).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Kill and delete even if running.") var force = false
    @Argument var id: String
    var lifecycle: LifecycleCommand { .delete(id: id, force: force) }
}

struct Run: LifecycleParsable {
    static let configuration = CommandConfiguration(abstract: "Create, start and wait; exit status is the container's.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Bundle directory.") var bundle = "."
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Argument var id: String

    var lifecycle: LifecycleCommand { .run(id: id, bundle: bundle, pidFile: pidFile) }
}

/// One container as runc's `list --format json` prints it (pid a number).
struct ListEntry: Encodable {
    var id: String
    var pid: Int32
    var status: String
    var bundle: String
    var created: String
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
                            ListEntry(
                                id: s.id, pid: s.pid, status: s.status, bundle: s.bundle, created: s.created ?? "")
                        }))
                print()
            } else if format == "table" {
                // Full ids (up to 64 characters): what is printed can be passed back to delete.
                let width = max(24, (states.map(\.id.count).max() ?? 0) + 2)
                print("ID".padding(toLength: width, withPad: " ", startingAt: 0) + "PID       STATUS    BUNDLE")
                for s in states {
                    print(
                        s.id.padding(toLength: width, withPad: " ", startingAt: 0)
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
