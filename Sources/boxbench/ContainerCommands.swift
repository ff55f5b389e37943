import ArgumentParser
import Containers
import Foundation
import Probes

struct ContainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Run OCI bundles with boxbench's own container runtime.",
        subcommands: [ContainerRun.self, ContainerSpecCommand.self, ContainerBench.self])
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

    var request: ContainerRunRequest { ContainerRunRequest(bundle: bundle, id: id, timeout: timeout) }

    func run() throws { try request.execute() }
}

/// `container run` as plain values, whichever parser read them.
struct ContainerRunRequest: Equatable {
    var bundle: String
    var id: String?
    var timeout: Double?

    func execute() throws {
        installCancellationHandlers()
        let spec: RuntimeSpec
        do { spec = try RuntimeSpec.load(bundle: bundle) } catch {
            throw CLIError.badInput(error.description)
        }
        let runtime = ContainerRuntime()
        let request = ContainerRequest(
            id: id ?? OwnedName.domain.name(), bundle: bundle, spec: spec, io: .inherit(stdin: 0, stdout: 1, stderr: 2),
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
        // The process arguments are taken verbatim, but `spec --help` alone asks for help, not a config running it.
        if args == ["--help"] || args == ["-h"] {
            print(Self.helpMessage())
            return
        }
        FileHandle.standardOutput.write(RuntimeSpec.defaultSpec(args: args).jsonData())
        print()
    }
}

/// In-process launch latency: what the container arm reports, without the CLI's own start-up.
struct ContainerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time launch → exit of a bundle's process N times inside one boxbench process (JSON on stdout).")

    @Option(name: .long, help: "Bundle directory.") var bundle: String
    @Option(name: .long, help: "Measured runs.") var runs: Int = 100
    @Option(name: .long, help: "Unmeasured warmup runs.") var warmup: Int = 10
    @Flag(name: .long, help: "Mount the bundle's rootfs as the lower layer of an overlay (as images are run).")
    var overlay = false

    func run() throws {
        installCancellationHandlers()
        guard runs > 0, warmup >= 0 else { throw CLIError.badInput("--runs must be > 0 and --warmup ≥ 0") }
        let spec: RuntimeSpec
        do { spec = try RuntimeSpec.load(bundle: bundle) } catch { throw CLIError.badInput(error.description) }
        let runtime = ContainerRuntime()
        let rootfs = spec.root.map { $0.path.hasPrefix("/") ? $0.path : "\(bundle)/\($0.path)" } ?? bundle
        var samples: [Double] = []
        for i in 0..<(warmup + runs) {
            var s = spec
            var overlayRoot: OverlayRootfs?
            if overlay {
                overlayRoot = OverlayRootfs(lowerDirs: [rootfs])
                s.root?.path = "\(runtime.stateRoot)/\(OwnedName.bench.name(String(i)))/rootfs"
            }
            let request = ContainerRequest(
                id: OwnedName.bench.name(String(i)), bundle: bundle, spec: s, overlay: overlayRoot, io: .capture,
                timeout: .seconds(30))
            let result: ContainerResult
            do { result = try runtime.run(request) } catch { throw CLIError.failed(error.description) }
            guard result.exit == .exited(0) else {
                throw CLIError.failed("run \(i): \(result.status): \(String(decoding: result.stderr, as: UTF8.self))")
            }
            if i >= warmup { samples.append(Double(result.exitNs) / 1e6) }
        }
        samples.sort()
        let median =
            samples.count % 2 == 1
            ? samples[samples.count / 2] : (samples[samples.count / 2 - 1] + samples[samples.count / 2]) / 2
        let json: [String: Any] = [
            "runs": runs, "median_ms": median, "min_ms": samples.first!, "max_ms": samples.last!,
            "p90_ms": samples[min(samples.count - 1, Int(Double(samples.count) * 0.9))], "overlay": overlay,
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
