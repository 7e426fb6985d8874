import Hummingbird
import VMP3Core

/// `GET /healthz` (the process answers) and `GET /readyz` (its backends answer too).
public struct HealthRoutes: Sendable {
    /// Checks one backend; throws if it is not usable.
    public typealias Check = @Sendable () async throws -> Void
    let checks: [String: Check]

    public init(checks: [String: Check] = [:]) {
        self.checks = checks
    }

    /// `/readyz` asks each of `backends` (`Backends.readinessChecks`).
    public init(backends: Backends) {
        self.init(checks: backends.readinessChecks)
    }

    public func add(to router: Router<VMP3RequestContext>) {
        router.get("healthz") { _, _ in HTTPResponse.Status.ok }
        router.get("readyz") { _, context -> HTTPResponse.Status in
            for (name, check) in checks.sorted(by: { $0.key < $1.key }) {
                do { try await check() } catch {
                    context.logger.warning("not ready", metadata: ["backend": "\(name)", "error": "\(error)"])
                    throw ProblemDetails(.serviceUnavailable, code: "not_ready", title: "Not ready", detail: "\(name) is unavailable")
                }
            }
            return .ok
        }
    }
}
