import Foundation
import VMP3TestSupport

/// The servers `scripts/services.sh start` runs on loopback, as `scripts/test.sh` describes them
/// in `VMP3_TEST_*` variables. A missing variable fails the test that needs it: these tests are
/// the backends' only real proof, so they never skip.
enum TestServices {
    struct Missing: Error, CustomStringConvertible {
        let variable: String
        var description: String {
            "\(variable) is not set: run the tests with scripts/test.sh, or `scripts/services.sh start` and `eval \"$(scripts/services.sh env)\"` first"
        }
    }

    static func value(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { throw Missing(variable: variable) }
        return value
    }

    static func url(_ variable: String) throws -> URL {
        guard let url = URL(string: try value(variable)) else { throw Missing(variable: variable) }
        return url
    }

    static var redis: URL { get throws { try url("VMP3_TEST_REDIS_URL") } }
    static var amqp: URL { get throws { try url("VMP3_TEST_AMQP_URL") } }
    static var s3Endpoint: URL { get throws { try url("VMP3_TEST_S3_ENDPOINT") } }

    /// Runs `scripts/services.sh COMMAND` (for fault tests: restart Redis, stop RabbitMQ, …).
    static func control(_ command: String) async throws {
        let output = try await ExternalTool.run("/bin/bash", [try value("VMP3_TEST_SERVICES"), command])
        guard output.status == 0 else {
            throw ExternalTool.Failure(description: "services.sh \(command) failed (\(output.status)): \(output.stderr)")
        }
    }
}
