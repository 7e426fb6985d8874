import Foundation
import Hummingbird
import Logging
import VMP3Core

/// What a service executable starts from: its `Settings`, checked at once, and the parts every
/// service makes of them (where to listen, where its files go, its logger, its HTTP application).
public struct ServiceEnvironment: Sendable {
    public let program: Setting.Program
    public let settings: Settings

    /// The settings of `program` from `environment`.
    /// - Throws: `ConfigurationError` naming the first setting of `program` whose value is
    ///   malformed, before anything is started or connected.
    public init(_ program: Setting.Program, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        self.program = program
        settings = Settings(environment, program: program)
        try settings.validate(for: program)
    }

    /// `Setting.httpAddress` (`HOST:PORT`; the program's own port by default).
    public func address() throws(ConfigurationError) -> BindAddress {
        let (host, port) = try settings.hostAndPort(.httpAddress) ?? ("127.0.0.1", 8080)
        return .hostname(host, port: port)
    }

    /// The path `setting` names, or `name` in `Setting.dataDirectory` when it is unset.
    public func path(_ setting: Setting, orInDataDirectory name: String) -> String {
        settings.text(setting) ?? settings.dataDirectory.appendingPathComponent(name).path
    }

    /// A logger to standard error at `Setting.logLevel`, labelled with the program's name.
    public func logger() -> Logger {
        var logger = Logger(label: program.rawValue) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = settings.text(.logLevel).flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        return logger
    }

    /// The HTTP application of a service, printing `listening on http://HOST:PORT` when it is,
    /// with the ``HTTPServerLimits`` of the settings.
    public func application(router: Router<VMP3RequestContext>, logger: Logger) throws(ConfigurationError) -> some ApplicationProtocol {
        Application(
            router: router,
            server: try HTTPServerLimits(settings: settings).server(logger: logger),
            configuration: .init(address: try address(), serverName: logger.label),
            onServerRunning: { channel in
                try? FileHandle.standardOutput.write(contentsOf: Data("\(logger.label) listening on http://\(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger
        )
    }
}
