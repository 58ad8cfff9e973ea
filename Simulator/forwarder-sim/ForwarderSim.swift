import ArgumentParser

/// The simulator's command line: generate folders, serve the mock SFM, run simulations.
@main
struct ForwarderSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forwarder-sim",
        abstract: "Blastware folder generator, mock SFM server and end-to-end simulation.",
        subcommands: [GenerateCommand.self, PackCommand.self, UnpackCommand.self, ServeCommand.self, RunCommand.self,
                      DemoCommand.self, BenchCommand.self, CrashCommand.self, SoakCommand.self, FleetCommand.self]
    )
}
