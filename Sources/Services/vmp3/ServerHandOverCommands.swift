import ArgumentParser

/// `vmp3 serve`, as `vmp3 --help` lists it (``ServerProgram`` runs it).
struct ServeHandOverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the VMP3 HTTP API on embedded backends, each conversion in a confined child process (`vmp3 serve --help` for its options)."
    )

    @Argument(parsing: .captureForPassthrough)
    var arguments: [String] = []

    func run() { ServerProgram.exec(["serve"] + arguments) }
}

/// `vmp3 create-bucket`, as `vmp3 --help` lists it (``ServerProgram`` runs it).
struct CreateBucketHandOverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-bucket",
        abstract: "Create the S3 bucket of VMP3_STORAGE if it does not exist."
    )

    @Argument(parsing: .captureForPassthrough)
    var arguments: [String] = []

    func run() { ServerProgram.exec(["create-bucket"] + arguments) }
}
