import ArgumentParser
import LeanArguments
import Testing

@testable import boxbench
@testable import boxbench_runtime

/// The lean readers of the timed commands must agree with ArgumentParser on every form they accept, and hand
/// everything else to it.
struct LeanArgumentsTests {
    static let runtimeAccepted: [[String]] = [
        ["create", "--bundle", "/b", "c1"], ["create", "-b", "/b", "--pid-file", "/p", "c1", "--root", "/r"],
        ["create", "--bundle=/b", "--log", "/l", "--log-format", "json", "c1"], ["create", "c1", "--debug"],
        ["start", "c1"], ["start", "--root=/r", "c1"], ["state", "c1", "--root", "/r"],
        ["delete", "c1"], ["delete", "--force", "c1"], ["delete", "-f", "c1", "--systemd-cgroup"],
        ["kill", "c1"], ["kill", "c1", "KILL"], ["kill", "--all", "c1", "9"], ["kill", "-a", "c1"],
        ["run", "--bundle", "/b", "c1"], ["run", "-b", "/b", "--pid-file=/p", "c1"],
    ]
    static let runtimeRefused: [[String]] = [
        ["create", "--help"], ["create", "-h", "c1"], ["create", "--bogus", "x", "c1"], ["create", "c1", "c2"],
        ["create"], ["create", "--bundle", "/a", "--bundle", "/b", "c1"], ["delete", "-fa", "c1"],
        ["start", "--", "c1"], ["kill", "c1", "KILL", "extra"], ["list"], ["spec"], ["create", "--bundle", "c1"],
        ["delete", "--force=yes", "c1"], [],
    ]

    /// Every parsed value of a runtime command, as text.
    static func describe(_ command: LifecycleCommand, _ settings: RuntimeSettings) -> String {
        "\(command) \(settings.root)|\(settings.log ?? "-")|\(settings.logFormat)|\(settings.systemdCgroup)"
    }

    @Test(arguments: runtimeAccepted) func runtimeLeanMatchesArgumentParser(_ args: [String]) throws {
        let (command, settings) = try #require(RuntimeCLI.leanCommand(args))
        let reference = try #require(try RuntimeCLI.parseAsRoot(args) as? any LifecycleParsable)
        #expect(Self.describe(command, settings) == Self.describe(reference.lifecycle, reference.global.settings))
    }

    @Test(arguments: runtimeRefused) func runtimeLeanLeavesTheRestToArgumentParser(_ args: [String]) {
        #expect(RuntimeCLI.leanCommand(args) == nil)
    }

    @Test(arguments: [
        ["container", "run"], ["container", "run", "--bundle", "/b"], ["container", "run", "--bundle=/b", "--id", "x"],
        ["container", "run", "--timeout", "2.5", "--bundle", "/b"], ["container", "run", "--timeout=1e1"],
    ])
    func containerRunLeanMatchesArgumentParser(_ args: [String]) throws {
        let lean = try #require(Boxbench.leanContainerRun(args))
        let reference = try #require(try Boxbench.parseAsRoot(args) as? ContainerRun)
        #expect(lean == reference.request)
    }

    @Test(arguments: [
        ["container", "run", "--help"], ["container", "run", "--timeout", "soon"], ["container", "run", "extra"],
        ["container", "run", "--bundle"], ["container", "spec"], ["run"],
        ["container", "run", "--id", "a", "--id", "b"],
    ])
    func containerRunLeanLeavesTheRestToArgumentParser(_ args: [String]) {
        #expect(Boxbench.leanContainerRun(args) == nil)
    }

    @Test func readerRules() {
        let a = LeanArguments(
            ["-b", "x", "--n=v", "p"], options: ["-b": "b", "--n": "n"], flags: [:], positionals: 1...1)
        #expect(a?.options["b"] == "x" && a?.options["n"] == "v" && a?.positionals == ["p"])
        #expect(LeanArguments(["--n", "-x"], options: ["--n": "n"], positionals: 0...0) == nil)
        #expect(LeanArguments(["--f=1"], options: [:], flags: ["--f": "f"], positionals: 0...0) == nil)
        #expect(LeanArguments(["-"], options: [:], positionals: 1...1)?.positionals == ["-"])
    }
}
