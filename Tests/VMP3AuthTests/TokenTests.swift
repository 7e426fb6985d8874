import Crypto
import Foundation
import JWTKit
import Testing
@testable import VMP3Auth
import VMP3Kit

@Suite struct TokenTests {
    let key: SigningKey
    let issuer: JWTTokenIssuer
    /// Built from the JWK set alone, as the gateway builds it.
    let verifier: JWTTokenVerifier

    init() async throws {
        key = try SigningKey.generate()
        issuer = await JWTTokenIssuer(signingKey: key)
        verifier = await JWTTokenVerifier(publicKeys: try PublicSigningKey.keys(fromJWKS: PublicSigningKey.jwks([key.publicKey])))
    }

    func expectRefused(_ token: String, _ code: TokenError.Code, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            let claims = try await verifier.verify(token)
            Issue.record("accepted a bad token for \(claims.userID)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a token verifies with the public key alone and carries the user")
    func roundTrip() async throws {
        let issued = try await issuer.issueToken(for: "user-42", email: "ann@example.com")
        #expect(issued.expiresIn == 3600)
        let claims = try await verifier.verify(issued.token)
        #expect(claims.userID == "user-42" && claims.email == "ann@example.com")
        #expect(abs(claims.expiresAt.timeIntervalSince(issued.expiresAt)) < 1)
        let header = try #require(Data(base64URL: String(issued.token.split(separator: ".")[0])))
        let fields = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
        #expect(fields["alg"] as? String == "EdDSA" && fields["kid"] as? String == key.keyID)
    }

    @Test("the JWK set describes the Ed25519 public key")
    func jwks() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: PublicSigningKey.jwks([key.publicKey])) as? [String: [[String: String]]])
        let jwk = try #require(document["keys"]?.first)
        #expect(jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519" && jwk["alg"] == "EdDSA" && jwk["kid"] == key.keyID)
        #expect(Data(base64URL: jwk["x"] ?? "")?.count == 32)
        #expect(jwk["d"] == nil, "the private key must not be published")
    }

    @Test("an expired token is refused")
    func expired() async throws {
        let stale = await JWTTokenIssuer(signingKey: key, settings: TokenSettings(lifetime: .seconds(-120)))
        await expectRefused(try await stale.issueToken(for: "user-1", email: nil).token, .expired)
    }

    @Test("a tampered token is refused")
    func tampered() async throws {
        let token = try await issuer.issueToken(for: "user-1", email: nil).token
        var parts = token.split(separator: ".").map(String.init)
        let claimData = try #require(Data(base64URL: parts[1]))
        var claims = try #require(try JSONSerialization.jsonObject(with: claimData) as? [String: Any])
        claims["sub"] = "admin"
        parts[1] = try JSONSerialization.data(withJSONObject: claims).base64URLEncodedString()
        await expectRefused(parts.joined(separator: "."), .invalidSignature)

        let signatureData = try #require(Data(base64URL: String(token.split(separator: ".")[2])))
        var signature = [UInt8](signatureData)
        signature[0] ^= 0x01
        let flipped = token.split(separator: ".")[0...1].joined(separator: ".") + "." + Data(signature).base64URLEncodedString()
        await expectRefused(flipped, .invalidSignature)
    }

    @Test("a token signed by another key is refused")
    func otherKey() async throws {
        let stranger = await JWTTokenIssuer(signingKey: try SigningKey.generate())
        await expectRefused(try await stranger.issueToken(for: "user-1", email: nil).token, .invalidSignature)
    }

    @Test("a token for another audience or from another issuer is refused")
    func wrongAudienceOrIssuer() async throws {
        let otherAudience = await JWTTokenIssuer(signingKey: key, settings: TokenSettings(audience: "another-service"))
        await expectRefused(try await otherAudience.issueToken(for: "user-1", email: nil).token, .invalidClaims)
        let otherIssuer = await JWTTokenIssuer(signingKey: key, settings: TokenSettings(issuer: "someone-else"))
        await expectRefused(try await otherIssuer.issueToken(for: "user-1", email: nil).token, .invalidClaims)
    }

    @Test("alg: none is refused, with or without a signature")
    func algNone() async throws {
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedString()
        let exp = Int(Date().addingTimeInterval(3600).timeIntervalSince1970)
        let payload = Data(#"{"sub":"admin","iss":"vmp3-auth","aud":["vmp3"],"iat":0,"exp":\#(exp)}"#.utf8).base64URLEncodedString()
        await expectRefused("\(header).\(payload).", .invalidSignature)
        let real = try await issuer.issueToken(for: "user-1", email: nil).token
        await expectRefused("\(header).\(payload).\(real.split(separator: ".")[2])", .invalidSignature)
    }

    @Test("an HS256 token keyed with the public key (algorithm confusion) is refused")
    func algorithmConfusion() async throws {
        let header = Data(#"{"alg":"HS256","typ":"JWT","kid":"\#(key.keyID)"}"#.utf8).base64URLEncodedString()
        let exp = Int(Date().addingTimeInterval(3600).timeIntervalSince1970)
        let payload = Data(#"{"sub":"admin","iss":"vmp3-auth","aud":["vmp3"],"iat":0,"exp":\#(exp)}"#.utf8).base64URLEncodedString()
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: key.publicKey.key.rawRepresentation))
        await expectRefused("\(header).\(payload).\(Data(mac).base64URLEncodedString())", .invalidSignature)
    }

    @Test("strings that are not tokens are malformed", arguments: ["", "abc", "a.b", "a.b.c.d", "...", String(repeating: "a", count: 10_000)])
    func malformed(_ token: String) async {
        do {
            _ = try await verifier.verify(token)
            Issue.record("accepted \(token.prefix(20))")
        } catch {
            #expect(error.code == .malformed || error.code == .invalidSignature)
        }
    }

    @Test("the key is generated once and kept: the same key after reloading, readable by the owner only, in a folder of the owner's")
    func keyPersistence() throws {
        let path = try temporaryPath("keys/signing-key.pem")
        let first = try SigningKey.loadOrCreate(at: path)
        let second = try SigningKey.loadOrCreate(at: path)
        #expect(first.keyID == second.keyID)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let folder = try FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("PRIVATE KEY"))
    }

    @Test("login issues a token the verifier accepts")
    func login() async throws {
        let users = try UserDirectory(path: nil, hasher: ScryptPasswordHasher(logN: 12))
        let authenticator = Authenticator(users: users, issuer: issuer)
        let user = try await authenticator.register(email: "ann@example.com", password: "correct horse battery")
        let token = try await authenticator.login(email: "ann@example.com", password: "correct horse battery")
        #expect(try await verifier.verify(token.token).userID == user.id)
        await #expect { _ = try await authenticator.login(email: "ann@example.com", password: "nope nope nope") } throws: {
            ($0 as? AuthError)?.code == .invalidCredentials
        }
    }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
