import ArgumentParser
import Containers
import Foundation
import Machines
import Results
import Synchronization

/// Exit codes: 2 for bad input (file, field, flag), 1 for operational failures.
enum CLIError: Error, CustomStringConvertible {
    case badInput(String)
    case failed(String)
    var description: String {
        switch self {
        case .badInput(let m), .failed(let m): m
        }
    }
}

extension CLIError: CustomNSError {}

/// SIGINT/SIGTERM: tear down what this process created, then exit 130/143.
///
/// By default the handler does it all and `_exit`s: `extra` (VMs), every container this process created,
/// `sweep` (this process's temp files and directories), after waiting for a results or report write in flight
/// (`ResultsStore.closeWrites`). With `unwind`, the main thread cleans up itself: the handler calls `unwind`
/// (which makes the work throw at its next check), kills the containers, and leaves the exit to the main thread,
/// which unwinds (removing its scratch files) and exits 128+signal; should it not have exited after
/// `unwindDeadline`, the handler sweeps and exits anyway.
func installCancellationHandlers(
    extra: (@Sendable () -> Void)? = nil, sweep: (@Sendable () -> Void)? = nil, unwind: (@Sendable () -> Void)? = nil,
    unwindDeadline: Duration = .seconds(30)
) {
    CancellationSources.unwinding.store(unwind != nil, ordering: .relaxed)
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        // The handler holds its own source: a deliberate cycle that keeps it alive for the life of the process,
        // with no global to hold it.
        source.setEventHandler { [source] in
            _ = source
            let first = CancellationSources.signalled.withLock { current in
                if current != 0 { return false }
                current = sig
                return true
            }
            guard first else { return }  // a second signal while the first one's cleanup runs
            if let unwind {
                unwind()
                ContainerRuntime.cancelAll()
                CancellationSources.handlerFinished.signal()
                let ms = Int(unwindDeadline.components.seconds * 1000)
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(ms)) {
                    ResultsStore.closeWrites()
                    sweep?()
                    FileHandle.standardError.write(
                        Data("boxbench: still busy \(ms / 1000) s after signal \(sig); exiting\n".utf8))
                    _exit(128 + sig)
                }
                return
            }
            extra?()
            ContainerRuntime.cancelAll()
            ResultsStore.closeWrites()
            sweep?()
            LibvirtConnection.releaseDriverPidFiles()
            // _exit, not exit: the main thread may be exiting at the same moment, and two threads in exit()
            // deadlock (seen as `container run` hanging after SIGINT until killed, leaving its cgroup).
            _exit(128 + sig)
        }
        source.resume()
    }
}

enum CancellationSources {
    /// Set when the main thread owns the exit after a signal (`installCancellationHandlers(unwind:)`).
    static let unwinding = Atomic<Bool>(false)
    static let signalled = Mutex<Int32>(0)
    /// Unwinding mode: signalled once the handler has torn down the containers (the main thread waits for it).
    static let handlerFinished = DispatchSemaphore(value: 0)

    /// Once SIGINT/SIGTERM arrived, the exit status is 128+signal: in unwinding mode the main thread, having
    /// unwound its work, exits with it here; otherwise the handler owns the exit and other paths wait for it.
    static func parkIfCancelling() {
        let sig = signalled.withLock { $0 }
        guard sig != 0 else { return }
        if unwinding.load(ordering: .relaxed) {
            handlerFinished.wait()
            FileHandle.standardError.write(Data("boxbench: interrupted by signal \(sig); cleaned up\n".utf8))
            exit(128 + sig)
        }
        while true { pause() }
    }
}

/// `--format terminal|json` for the commands with a machine form (`--json` stays as its old spelling).
struct MachineFormatOption: ParsableArguments {
    @Option(name: .long, help: "terminal (default) or json.") var format: String?
    @Flag(name: .long, help: ArgumentHelp("Same as --format json.", visibility: .hidden)) var json = false

    /// True for json; bad input (exit 2) for a format the command does not have.
    func wantsJSON() throws -> Bool {
        switch format?.lowercased() {
        case nil: return json
        case "json": return true
        case "terminal", "text", "table": return false
        case let other?: throw CLIError.badInput("--format \(other): use terminal or json")
        }
    }
}
