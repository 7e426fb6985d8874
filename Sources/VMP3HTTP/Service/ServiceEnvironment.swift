import Foundation
import Hummingbird
import Logging
import VMP3Core

/// What the service executables read from the environment besides the backend URLs
/// (``BackendConfiguration``): where to listen and where their files go.
public struct ServiceEnvironment: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// A variable's value, `nil` when unset or empty.
    public subscript(_ name: String) -> String? {
        values[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `VMP3_HTTP_ADDRESS` (`HOST:PORT`), or `127.0.0.1:defaultPort`.
    public func address(defaultPort: Int) throws -> BindAddress {
        guard let text = self["VMP3_HTTP_ADDRESS"] else { return .hostname("127.0.0.1", port: defaultPort) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigurationError("VMP3_HTTP_ADDRESS must be HOST:PORT, not \(text)")
        }
        return .hostname(String(text[..<colon]), port: port)
    }

    /// `VMP3_DATA_DIR` (default `vmp3-data`) joined with `name`.
    public func dataPath(_ name: String) -> String {
        URL(fileURLWithPath: self["VMP3_DATA_DIR"] ?? "vmp3-data", isDirectory: true).appendingPathComponent(name).path
    }

    /// A logger to standard error at `VMP3_LOG_LEVEL` (default `info`), labelled `label`.
    public func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = self["VMP3_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }

    /// The HTTP application of a service, printing `listening on http://HOST:PORT` when it is,
    /// with the ``HTTPServerLimits`` of the environment.
    public func application(router: Router<VMP3RequestContext>, defaultPort: Int, logger: Logger) throws -> some ApplicationProtocol {
        Application(
            router: router,
            server: try HTTPServerLimits(environment: values).server,
            configuration: .init(address: try address(defaultPort: defaultPort), serverName: logger.label),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("\(logger.label) listening on http://\(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger
        )
    }
}
