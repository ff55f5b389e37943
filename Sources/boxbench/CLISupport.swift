import ArgumentParser
import Containers
import Foundation

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
            extra?()
            ContainerRuntime.cancelAll()
            exit(128 + sig)
        }
        source.resume()
        CancellationSources.keep(source)
    }
}

enum CancellationSources {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
}
