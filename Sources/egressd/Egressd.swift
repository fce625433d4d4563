import ArgumentParser

/// `egressd`: the Egress command-line program.
@main
struct Egressd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egressd",
        abstract: "Egress: a transparent HTTP/HTTPS interception proxy for Linux.",
        subcommands: [RunCommand.self, ExplainCommand.self, CACommand.self, ContainerCommand.self, DemoCommand.self]
    )
}
