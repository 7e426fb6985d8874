import Crypto
import Foundation
import JWTKit
import VMP3Core

/// The Ed25519 key pair tokens are signed with, and its public half as the gateway receives it.
public struct SigningKey: Sendable {
    public let privateKey: EdDSA.PrivateKey
    /// A stable identifier of the key (`kid`): the first 16 hex digits of SHA-256 of the public key.
    public let keyID: String

    public init(privateKey: EdDSA.PrivateKey) {
        self.privateKey = privateKey
        keyID = SHA256.hash(data: privateKey.publicKey.rawRepresentation).prefix(8).hexEncoded
    }

    /// A new random key.
    public static func generate() throws(AuthError) -> SigningKey {
        do {
            return SigningKey(privateKey: try EdDSA.PrivateKey(curve: .ed25519))
        } catch {
            throw AuthError(code: .keyUnavailable, message: "cannot generate a signing key: \(error)")
        }
    }

    /// Loads the PEM private key at `path`, or, if there is no file, generates one and writes it
    /// there readable by the owner only, so that tokens stay valid across restarts.
    public static func loadOrCreate(at path: String) throws(AuthError) -> SigningKey {
        if FileManager.default.fileExists(atPath: path) {
            return try load(at: path)
        }
        let key = try generate()
        do {
            let url = URL(fileURLWithPath: path)
            try PrivateFile.makeDirectory(url.deletingLastPathComponent().path)
            let staging = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
            // Created 0600, never chmod-ed after the key is in it.
            try PrivateFile.create(staging.path, contents: Array(key.privateKey.pemRepresentation.utf8))
            // Rename, never overwrite: if another process created the key meanwhile, use that one.
            if link(staging.path, path) != 0 {
                unlink(staging.path)
                return try loadOrCreate(at: path)
            }
            unlink(staging.path)
        } catch let error as AuthError {
            throw error
        } catch {
            throw AuthError(code: .keyUnavailable, message: "cannot write the signing key to \(path): \(error)")
        }
        return key
    }

    /// Loads the PEM private key at `path`.
    public static func load(at path: String) throws(AuthError) -> SigningKey {
        do {
            return SigningKey(privateKey: try EdDSA.PrivateKey(pem: String(contentsOfFile: path, encoding: .utf8)))
        } catch {
            throw AuthError(code: .keyUnavailable, message: "cannot read the signing key at \(path): \(error)")
        }
    }

    public var publicKey: PublicSigningKey {
        PublicSigningKey(key: privateKey.publicKey, keyID: keyID)
    }
}

/// The public half of a ``SigningKey``: all a verifier needs.
public struct PublicSigningKey: Sendable, Equatable {
    public let key: EdDSA.PublicKey
    public let keyID: String

    public init(key: EdDSA.PublicKey, keyID: String) {
        self.key = key
        self.keyID = keyID
    }

    /// The key as a JSON Web Key (RFC 8037: `kty` OKP, `crv` Ed25519).
    public var jwk: [String: String] {
        ["kty": "OKP", "crv": "Ed25519", "x": key.rawRepresentation.base64URLEncodedString(), "kid": keyID, "alg": "EdDSA", "use": "sig"]
    }

    /// A JWK Set document (`GET /v1/auth/jwks`) holding `keys`.
    public static func jwks(_ keys: [PublicSigningKey]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(["keys": keys.map(\.jwk)])) ?? Data("{\"keys\":[]}".utf8)
    }

    /// Reads the Ed25519 keys of a JWK Set document.
    public static func keys(fromJWKS data: Data) throws(AuthError) -> [PublicSigningKey] {
        struct Document: Decodable { var keys: [[String: String]] }
        do {
            let document = try JSONDecoder().decode(Document.self, from: data)
            return try document.keys.compactMap { jwk in
                guard jwk["kty"] == "OKP", jwk["crv"] == "Ed25519", let x = jwk["x"], let kid = jwk["kid"] else { return nil }
                return PublicSigningKey(key: try EdDSA.PublicKey(x: x, curve: .ed25519), keyID: kid)
            }
        } catch {
            throw AuthError(code: .keyUnavailable, message: "cannot read the JWK set: \(error)")
        }
    }
}

extension Data {
    func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
