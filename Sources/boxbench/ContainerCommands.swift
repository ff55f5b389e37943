import ArgumentParser
import Containers
import Foundation

struct ContainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Run OCI bundles with boxbench's own container runtime.",
        subcommands: [ContainerRun.self, ContainerSpecCommand.self])
}

struct ContainerRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a bundle to completion; exit status is the container's.")

    @Option(name: .long, help: "Bundle directory holding config.json and the rootfs.")
    var bundle: String = "."
    @Option(name: .long, help: "Container id (default: boxbench-<pid>).")
    var id: String?
    @Option(name: .long, help: "Seconds before the whole cgroup is killed.")
    var timeout: Double?

    func run() throws {
        installCancellationHandlers()
        let spec: RuntimeSpec
        do { spec = try RuntimeSpec.load(bundle: bundle) } catch {
            throw CLIError.badInput(error.description)
        }
        let runtime = ContainerRuntime()
        let request = ContainerRequest(
            id: id ?? "boxbench-\(getpid())", bundle: bundle, spec: spec, io: .inherit(stdin: 0, stdout: 1, stderr: 2),
            timeout: timeout.map { .milliseconds(Int64($0 * 1000)) })
        let result: ContainerResult
        do { result = try runtime.run(request) } catch { throw CLIError.failed(error.description) }
        if result.timedOut || result.oomKilled {
            FileHandle.standardError.write(Data("boxbench: container \(request.id): \(result.status)\n".utf8))
        }
        throw ExitCode(result.exit.shellStatus)
    }
}

struct ContainerSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec", abstract: "Print a default config.json (like `runc spec`).")
    @Argument(parsing: .captureForPassthrough, help: "Process arguments.") var args: [String] = ["sh"]

    func run() throws {
        FileHandle.standardOutput.write(RuntimeSpec.defaultSpec(args: args).jsonData())
        print()
    }
}
