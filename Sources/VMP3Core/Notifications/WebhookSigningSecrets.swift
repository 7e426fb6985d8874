import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Each user's webhook signing secret, derived from the deployment's master secret
/// (`VMP3_WEBHOOK_SECRET`) and the user's secret generation (``JobStore/webhookSecretGeneration(of:)``):
/// `whsec_` and the hex of HMAC-SHA256(master, "vmp3-webhook-secret" 0 OWNER 0 GENERATION).
///
/// A user who has their secret cannot compute another user's (HMAC is a pseudo-random
/// function of the master), so no user can forge another's webhooks; rotating moves the user to
/// the next generation, which changes their secret and nobody else's. No secret is stored: the
/// gateway (which shows it) and the notifier (which signs with it) derive the same one.
/// Receivers key HMAC-SHA256 with the secret's UTF-8 bytes, `whsec_` included.
public struct WebhookSigningSecrets: Sendable {
    private let master: SymmetricKey

    /// - Parameter master: at least 16 bytes.
    public init(master: SymmetricKey) {
        self.master = master
    }

    public init(master text: String) {
        self.init(master: SymmetricKey(data: Array(text.utf8)))
    }

    /// The secret of `owner` at `generation`.
    public func secret(for owner: UserID, generation: Int) -> String {
        var message = Array("vmp3-webhook-secret".utf8)
        message.append(0)
        message += Array(owner.rawValue.utf8)
        message.append(0)
        message += Array(String(generation).utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: master)
        return "whsec_" + mac.hexEncoded
    }

    /// The HMAC key webhooks of `owner` at `generation` are signed with.
    public func signingKey(for owner: UserID, generation: Int) -> SymmetricKey {
        SymmetricKey(data: Array(secret(for: owner, generation: generation).utf8))
    }
}
