import ArgumentParser

@main
struct Boxbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxbench",
        abstract: "Measure containers against virtual machines: one image, three arms (native, container, vm).",
        version: BoxbenchVersion.string,
        subcommands: [ContainerCommand.self])
}
