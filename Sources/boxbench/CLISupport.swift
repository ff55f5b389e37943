import ArgumentParser
import Containers
import Foundation
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
func installCancellationHandlers(extra: (@Sendable () -> Void)? = nil) {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler {
            CancellationSources.signalled.withLock { $0 = sig }
            extra?()
            ContainerRuntime.cancelAll()
            // _exit, not exit: the main thread may be exiting at the same moment, and two threads in exit()
            // deadlock (seen as `container run` hanging after SIGINT until killed, leaving its cgroup).
            _exit(128 + sig)
        }
        source.resume()
        CancellationSources.keep(source)
    }
}

enum CancellationSources {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
    static let signalled = Mutex<Int32>(0)

    /// Once SIGINT/SIGTERM arrived, the handler owns the exit (teardown, then 128+signal): other paths wait for it.
    static func parkIfCancelling() {
        guard signalled.withLock({ $0 }) != 0 else { return }
        while true { pause() }
    }
}
