import Foundation

/// The keys of a token issuer: the current one, which signs, and the previous ones, which no
/// longer sign but are still published so that tokens they signed keep verifying until expiry.
///
/// Rotating is: move the current key's file to the previous key's place, restart the issuer (it
/// makes a new current key), and once the previous key's last tokens have expired (a token
/// lifetime later) delete that file and restart again. Verifiers that refresh the published set
/// (``RemoteKeySet`` in VMP3HTTP) follow without a restart.
public struct SigningKeyRing: Sendable {
    /// The key new tokens are signed with.
    public let current: SigningKey
    /// Keys that verify but no longer sign.
    public let previous: [PublicSigningKey]

    public init(current: SigningKey, previous: [PublicSigningKey] = []) {
        self.current = current
        self.previous = previous.filter { $0.keyID != current.keyID }
    }

    /// The current key from `currentPath` (made there if missing, see
    /// ``SigningKey/loadOrCreate(at:)``) and, if a file is at `previousPath`, the key in it.
    public static func load(currentPath: String, previousPath: String?) throws(AuthError) -> SigningKeyRing {
        let current = try SigningKey.loadOrCreate(at: currentPath)
        guard let previousPath, FileManager.default.fileExists(atPath: previousPath) else {
            return SigningKeyRing(current: current)
        }
        return SigningKeyRing(current: current, previous: [try SigningKey.load(at: previousPath).publicKey])
    }

    /// What the issuer publishes (`GET /v1/auth/jwks`): the current key first.
    public var publishedKeys: [PublicSigningKey] {
        [current.publicKey] + previous
    }
}
