import ArgumentParser
import Foundation
import LeanArguments
import Machines
import Suites

@main
struct Boxbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxbench",
        abstract: "Measure containers against virtual machines: one image, three arms (native, container, vm).",
        discussion: "Exit status: 0 success, 1 operational failure (or a regression for `compare`), 2 bad input.",
        version: BoxbenchVersion.string,
        subcommands: [
            RunCommand.self, ReportCommand.self, CompareCommand.self, DoctorCommand.self, ImageCommand.self,
            ContainerCommand.self, VMCommand.self, HistoryCommand.self,
        ])

    /// Maps bad input (flags, files, fields) to exit 2. `container run` is timed against crun and runc as a whole
    /// command: its usual forms are read by LeanArguments (`leanContainerRun`); help, errors and every other
    /// command go through ArgumentParser.
    static func parseRoot(_ args: [String]) throws -> any ParsableCommand {
        if let first = args.first, !first.hasPrefix("-"), let suggestion = unknownCommandMessage(first) {
            throw CLIError.badInput(suggestion)
        }
        return try parseAsRoot(args)
    }

    /// "unknown command 'imag' (did you mean image?)" for a first word that names no command, else nil.
    static func unknownCommandMessage(_ word: String) -> String? {
        let names = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        guard !names.contains(word) else { return nil }
        let nearest = names.min { editDistance(word, $0) < editDistance(word, $1) }
        let hint = nearest.flatMap { editDistance(word, $0) <= 3 ? " (did you mean \($0)?)" : nil } ?? ""
        return "unknown command '\(word)'\(hint); commands: \(names.dropLast().joined(separator: ", "))"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    static func leanContainerRun(_ args: [String]) -> ContainerRunRequest? {
        guard args.count >= 2, args[0] == "container", args[1] == "run",
            let a = LeanArguments(
                Array(args.dropFirst(2)), options: ["--bundle": "bundle", "--id": "id", "--timeout": "timeout"],
                positionals: 0...0)
        else { return nil }
        var timeout: Double?
        if let text = a.options["timeout"] {
            guard let seconds = Double(text) else { return nil }
            timeout = seconds
        }
        return ContainerRunRequest(bundle: a.options["bundle"] ?? ".", id: a.options["id"], timeout: timeout)
    }

    static func main() async {
        // libvirt leaves its embedded driver's pid file behind; every exit() removes ours (signals: the handler).
        atexit { LibvirtConnection.releaseDriverPidFiles() }
        do {
            let args = Array(CommandLine.arguments.dropFirst())
            // The lean path first, as a plain value: building ArgumentParser's command and asking whether it is an
            // AsyncParsableCommand (a conformance lookup over every record in this binary) cost ~1.6 M instructions.
            if let lean = leanContainerRun(args) {
                try lean.execute()
            } else {
                var command = try parseRoot(args)
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            }
            CancellationSources.parkIfCancelling()
        } catch let code as ExitCode {
            // Straight out: ArgumentParser's exit(withError:) builds its help text even for an ExitCode (~12 M
            // instructions, results/runtime-breakdown.txt), and an ExitCode has no message to print.
            CancellationSources.parkIfCancelling()
            Glibc.exit(code.rawValue)
        } catch let error as CLIError {
            CancellationSources.parkIfCancelling()
            FileHandle.standardError.write(Data("boxbench: \(error)\n".utf8))
            switch error {
            case .badInput: Glibc.exit(2)
            case .failed: Glibc.exit(1)
            }
        } catch {
            CancellationSources.parkIfCancelling()
            let code = exitCode(for: error)
            // ArgumentParser reports usage errors as 64 (EX_USAGE); boxbench's contract is 2 for all bad input.
            if code.rawValue == 64 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}
