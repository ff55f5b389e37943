/// A narrow argument reader for the commands that are timed as whole commands (`boxbench container run` against
/// `crun run`, the OCI lifecycle against runc and crun): ArgumentParser first builds its reflection model of the
/// command (~1.8 ms of CPU of a ~10 ms command here, estimated from perf samples), which this skips. It takes only the forms
/// orchestrators and the benchmarks send — `--name value`, `--name=value`, `-x value`, known flags, positionals —
/// and returns nil for anything else (help, an unknown or repeated name, bundled short flags, `--`, a wrong
/// positional count), so the command then goes through ArgumentParser, which stays the reference: tests parse the
/// same arguments both ways and compare.
///
/// Lists, not Dictionary or Set: the first use of a hashed collection type costs a Swift process generic set-up
/// and conformance lookups (0.36 M instructions for two Dictionary literals in boxbench-runtime, more in a larger
/// binary), and these commands use no other.
public struct LeanArguments: Equatable, Sendable {
    /// Canonical option name → value.
    public var options = Values()
    /// Canonical names of the flags given.
    public var flags = Names()
    public var positionals: [String] = []

    /// Values by name, in the order given.
    public struct Values: Equatable, Sendable {
        var names: [String] = []
        var values: [String] = []
        public subscript(_ name: String) -> String? {
            names.firstIndex(of: name).map { values[$0] }
        }
        mutating func add(_ name: String, _ value: String) {
            names.append(name)
            values.append(value)
        }
    }

    /// A set of names.
    public struct Names: Equatable, Sendable {
        var names: [String] = []
        public func contains(_ name: String) -> Bool { names.contains(name) }
    }

    /// `options` and `flags` map each accepted spelling (`--bundle`, `-b`) to its canonical name.
    public init?(
        _ args: [String], options optionSpellings: KeyValuePairs<String, String>,
        flags flagSpellings: KeyValuePairs<String, String> = [:], positionals: ClosedRange<Int>
    ) {
        func canonical(_ spellings: KeyValuePairs<String, String>, _ name: String) -> String? {
            spellings.first { $0.key == name }?.value
        }
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
            if let option = canonical(optionSpellings, name) {
                guard options[option] == nil else { return nil }
                if let inlineValue {
                    options.add(option, inlineValue)
                } else {
                    guard i < args.count, !args[i].hasPrefix("-") else { return nil }
                    options.add(option, args[i])
                    i += 1
                }
            } else if inlineValue == nil, let flag = canonical(flagSpellings, name), !flags.contains(flag) {
                flags.names.append(flag)
            } else {
                return nil
            }
        }
        guard positionals.contains(self.positionals.count) else { return nil }
    }
}
