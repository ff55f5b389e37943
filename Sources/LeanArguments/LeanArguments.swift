/// A narrow argument reader for the commands that are timed as whole commands (`boxbench container run` against
/// `crun run`, the OCI lifecycle against runc and crun): ArgumentParser first builds its reflection model of the
/// command (~1.8 ms of CPU of a ~10 ms command here, estimated from perf samples), which this skips. It takes only the forms
/// orchestrators and the benchmarks send — `--name value`, `--name=value`, `-x value`, known flags, positionals —
/// and returns nil for anything else (help, an unknown or repeated name, bundled short flags, `--`, a wrong
/// positional count), so the command then goes through ArgumentParser, which stays the reference: tests parse the
/// same arguments both ways and compare.
public struct LeanArguments: Equatable, Sendable {
    /// Canonical option name → value.
    public var options: [String: String] = [:]
    /// Canonical names of the flags given.
    public var flags: Set<String> = []
    public var positionals: [String] = []

    /// `options` and `flags` map each accepted spelling (`--bundle`, `-b`) to its canonical name.
    public init?(
        _ args: [String], options optionSpellings: [String: String], flags flagSpellings: [String: String] = [:],
        positionals: ClosedRange<Int>
    ) {
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            guard arg.hasPrefix("-"), arg != "-" else {
                self.positionals.append(arg)
                continue
            }
            var name = arg
            var inlineValue: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inlineValue = String(arg[arg.index(after: eq)...])
            }
            if let canonical = optionSpellings[name] {
                guard options[canonical] == nil else { return nil }
                if let inlineValue {
                    options[canonical] = inlineValue
                } else {
                    guard i < args.count, !args[i].hasPrefix("-") else { return nil }
                    options[canonical] = args[i]
                    i += 1
                }
            } else if inlineValue == nil, let canonical = flagSpellings[name], !flags.contains(canonical) {
                flags.insert(canonical)
            } else {
                return nil
            }
        }
        guard positionals.contains(self.positionals.count) else { return nil }
    }
}
