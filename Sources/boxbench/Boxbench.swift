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
            ContainerCommand.self, VMCommand.self,
        ])

    /// Wires the image builder's RUN steps to boxbench's runtime and maps bad input (flags, files, fields) to exit 2.
    /// `container run` is timed against crun and runc as a whole command: its usual forms are read by
    /// LeanArguments; help, errors and every other command go through ArgumentParser.
    static func parseLeanOrRoot() throws -> any ParsableCommand {
        if let command = leanContainerRun(Array(CommandLine.arguments.dropFirst())) { return command }
        return try parseAsRoot()
    }

    static func leanContainerRun(_ args: [String]) -> ContainerRun? {
        guard args.count >= 2, args[0] == "container", args[1] == "run",
            let a = LeanArguments(
                Array(args.dropFirst(2)), options: ["--bundle": "bundle", "--id": "id", "--timeout": "timeout"],
                positionals: 0...0)
        else { return nil }
        var command = ContainerRun()
        command.bundle = a.options["bundle"] ?? "."
        command.id = a.options["id"]
        if let text = a.options["timeout"] {
            guard let seconds = Double(text) else { return nil }
            command.timeout = seconds
        } else {
            command.timeout = nil
        }
        return command
    }

    static func main() async {
        makeRunStepExecutor = { ContainerRunStepExecutor() }
        // libvirt leaves its embedded driver's pid file behind; every exit() removes ours (signals: the handler).
        atexit { LibvirtConnection.releaseDriverPidFiles() }
        do {
            var command = try parseLeanOrRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            CancellationSources.parkIfCancelling()
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
