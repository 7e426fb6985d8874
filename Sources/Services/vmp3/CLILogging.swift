import Logging

enum CLILogging {
    /// A logger to standard error: debug with `--verbose`, else warnings only.
    static func logger(verbose: Bool) -> Logger {
        var logger = Logger(label: "vmp3") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}
