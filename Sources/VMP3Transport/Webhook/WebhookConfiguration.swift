import Crypto
import Foundation
import VMP3Kit

/// How a ``WebhookNotifier`` signs, times out and retries.
public struct WebhookConfiguration: Sendable {
    /// The HMAC key of the `VMP3-Signature` header.
    public var secret: SymmetricKey
    /// How long one attempt may take, connection included.
    public var timeout: Duration
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles before each next one, up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var userAgent: String

    public init(
        secret: SymmetricKey,
        timeout: Duration = .seconds(10),
        maxAttempts: Int = 5,
        initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(30),
        userAgent: String = "vmp3-notifier"
    ) {
        self.secret = secret
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.userAgent = userAgent
    }

    /// The secret from `VMP3_WEBHOOK_SECRET` (at least 16 bytes), defaults otherwise.
    ///
    /// - Throws: ``ConfigurationError`` if the variable is missing or too short.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let secret = environment["VMP3_WEBHOOK_SECRET"], secret.utf8.count >= 16 else {
            throw ConfigurationError("VMP3_WEBHOOK_SECRET must be set to at least 16 bytes to sign webhooks")
        }
        self.init(secret: SymmetricKey(data: Array(secret.utf8)))
    }

    /// The wait before attempt `attempt` (2 or later).
    func backoff(before attempt: Int) -> Duration {
        let doubled = initialBackoff * (1 << min(max(attempt - 2, 0), 20))
        return min(doubled, maxBackoff)
    }
}
