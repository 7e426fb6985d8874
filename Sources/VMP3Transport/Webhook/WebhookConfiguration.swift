import Crypto
import Foundation
import VMP3Core

/// How a ``WebhookNotifier`` signs, times out and retries.
public struct WebhookConfiguration: Sendable {
    /// The master secret each user's signing secret is derived from (`WebhookSigningSecrets`).
    public var secret: SymmetricKey
    /// How long one attempt may take, connection included.
    public var timeout: Duration
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The wait before the second attempt; it doubles before each next one, up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var userAgent: String
    /// Which addresses webhooks may reach (by default, none that are internal).
    public var egress: WebhookEgressPolicy
    /// When a receiver that keeps failing gets one attempt a delivery instead of ``maxAttempts``
    /// (`ReceiverBackoff`).
    public var receiverBackoff: ReceiverBackoff.Policy

    public init(
        secret: SymmetricKey,
        timeout: Duration = .seconds(10),
        maxAttempts: Int = 5,
        initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(30),
        userAgent: String = "vmp3-notifier",
        egress: WebhookEgressPolicy = WebhookEgressPolicy(),
        receiverBackoff: ReceiverBackoff.Policy = ReceiverBackoff.Policy()
    ) {
        self.secret = secret
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.userAgent = userAgent
        self.egress = egress
        self.receiverBackoff = receiverBackoff
    }

    /// The secret from `Setting.webhookSecret` (at least 16 bytes), the internal networks
    /// webhooks may reach from `Setting.webhookAllowedNetworks` (`WebhookEgressPolicy`),
    /// defaults otherwise.
    ///
    /// - Throws: `ConfigurationError` if the secret is missing or too short, or a network is malformed.
    public init(settings: Settings) throws {
        guard let secret = settings.text(.webhookSecret), secret.utf8.count >= 16 else {
            throw ConfigurationError("\(settings.source(of: .webhookSecret)) must be set to at least 16 bytes to sign webhooks")
        }
        self.init(secret: SymmetricKey(data: Array(secret.utf8)), egress: try WebhookEgressPolicy(settings: settings))
    }

    /// The users' webhook secrets derived from `Setting.webhookSecret`, for the gateway that
    /// shows them; `nil` when it is unset.
    /// - Throws: `ConfigurationError` if it is set but shorter than 16 bytes.
    public static func signingSecrets(settings: Settings) throws -> WebhookSigningSecrets? {
        guard settings.text(.webhookSecret) != nil else { return nil }
        return WebhookSigningSecrets(master: try WebhookConfiguration(settings: settings).secret)
    }

    /// The secret kept in the file at `path`, made there (32 random bytes, hex, mode 0600) if
    /// there is none yet: `vmp3 serve` signs with it, and the receiver reads it from the file.
    ///
    /// - Throws: `ConfigurationError` if the file cannot be read or written, or holds fewer
    ///   than 16 bytes.
    public init(secretFile path: String) throws {
        let url = URL(fileURLWithPath: path)
        if !FileManager.default.fileExists(atPath: path) {
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { $0.hexEncoded }
            do {
                try PrivateFile.makeDirectory(url.deletingLastPathComponent().path)
            } catch {
                throw ConfigurationError("cannot make the directory of \(path): \(error.reason)")
            }
            do {
                // Created 0600, never chmod-ed after the secret is in it; a file another process
                // made meanwhile is read below.
                try PrivateFile.create(path, contents: Array((secret + "\n").utf8))
            } catch where error.code == EEXIST {
            } catch {
                throw ConfigurationError("cannot write the webhook secret to \(path): \(error.reason)")
            }
        }
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigurationError("cannot read the webhook secret at \(path): \(error)")
        }
        guard text.utf8.count >= 16 else { throw ConfigurationError("the webhook secret at \(path) is shorter than 16 bytes") }
        self.init(secret: SymmetricKey(data: Array(text.utf8)))
    }

    /// The wait before attempt `attempt` (2 or later).
    func backoff(before attempt: Int) -> Duration {
        let doubled = initialBackoff * (1 << min(max(attempt - 2, 0), 20))
        return min(doubled, maxBackoff)
    }
}
