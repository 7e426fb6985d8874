import Foundation
import JWTKit
import VMP3Core

/// Issuer, audience and lifetime of access tokens: the issuer and verifier must agree.
public struct TokenSettings: Sendable, Hashable {
    public var issuer: String
    public var audience: String
    public var lifetime: Duration

    public init(issuer: String = "vmp3-auth", audience: String = "vmp3", lifetime: Duration = .seconds(3600)) {
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
    }
}

/// The claims of a VMP3 access token.
struct AccessTokenPayload: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var email: String?

    /// VMP3's checks of the claims are made by ``JWTTokenVerifier`` after the signature has
    /// verified, so that each failure maps to its own ``TokenError`` code.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Issues EdDSA (Ed25519) access tokens with jwt-kit.
public struct JWTTokenIssuer: TokenIssuer {
    private let keys: JWTKeyCollection
    private let keyID: String
    public let settings: TokenSettings

    public init(signingKey: SigningKey, settings: TokenSettings = TokenSettings()) async {
        keys = JWTKeyCollection()
        await keys.add(eddsa: signingKey.privateKey, kid: JWKIdentifier(string: signingKey.keyID))
        keyID = signingKey.keyID
        self.settings = settings
    }

    public func issueToken(for user: UserID, email: String?) async throws -> IssuedToken {
        let now = Date()
        let expiry = now.addingTimeInterval(settings.lifetime.seconds)
        let payload = AccessTokenPayload(
            sub: SubjectClaim(value: user.rawValue), iss: IssuerClaim(value: settings.issuer),
            aud: AudienceClaim(value: [settings.audience]), iat: IssuedAtClaim(value: now), exp: ExpirationClaim(value: expiry),
            email: email
        )
        let token = try await keys.sign(payload, kid: JWKIdentifier(string: keyID))
        return IssuedToken(token: token, expiresAt: expiry, expiresIn: Int(settings.lifetime.seconds))
    }
}

/// Verifies access tokens with public keys only: what the gateway runs, without calling the
/// auth service per request.
///
/// Accepts only EdDSA tokens signed by one of its keys (so `alg: none` and HMAC tokens signed
/// with a public key as secret are refused), then checks expiry, issuer and audience.
public struct JWTTokenVerifier: TokenVerifier {
    private let keys: JWTKeyCollection
    public let settings: TokenSettings
    /// Tolerance for clocks that disagree a little.
    public let leeway: Duration
    /// The `kid`s of the keys it trusts.
    public let keyIDs: Set<String>

    public init(publicKeys: [PublicSigningKey], settings: TokenSettings = TokenSettings(), leeway: Duration = .seconds(30)) async {
        keys = JWTKeyCollection()
        for key in publicKeys {
            await keys.add(eddsa: key.key, kid: JWKIdentifier(string: key.keyID))
        }
        keyIDs = Set(publicKeys.map(\.keyID))
        self.settings = settings
        self.leeway = leeway
    }

    /// The `kid` a compact token's header names, if it can be read; nothing is verified.
    public static func keyID(of token: String) -> String? {
        guard let header = token.split(separator: ".", maxSplits: 1).first, header.utf8.count <= 1024 else { return nil }
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["kid"] as? String
    }

    public func verify(_ token: String) async throws(TokenError) -> AccessTokenClaims {
        guard token.split(separator: ".", omittingEmptySubsequences: false).count == 3, token.utf8.count <= 8192 else {
            throw TokenError(code: .malformed, message: "not a compact JWT")
        }
        let payload: AccessTokenPayload
        do {
            payload = try await keys.verify(token, as: AccessTokenPayload.self)
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw TokenError(code: .malformed, message: "the token cannot be read")
        } catch {
            throw TokenError(code: .invalidSignature, message: "the token's signature does not verify with a trusted key")
        }
        let now = Date()
        guard payload.exp.value.addingTimeInterval(leeway.seconds) > now else {
            throw TokenError(code: .expired, message: "the token expired at \(payload.exp.value)")
        }
        guard payload.iss.value == settings.issuer else {
            throw TokenError(code: .invalidClaims, message: "the token's issuer is not \(settings.issuer)")
        }
        guard payload.aud.value.contains(settings.audience) else {
            throw TokenError(code: .invalidClaims, message: "the token is not meant for \(settings.audience)")
        }
        guard !payload.sub.value.isEmpty else {
            throw TokenError(code: .invalidClaims, message: "the token names no user")
        }
        return AccessTokenClaims(userID: UserID(rawValue: payload.sub.value), email: payload.email, issuedAt: payload.iat.value, expiresAt: payload.exp.value)
    }
}
