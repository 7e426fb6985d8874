import _CryptoExtras
import Crypto
import Foundation
import VMP3Core

/// Hashes passwords with scrypt (swift-crypto's `_CryptoExtras`) and a random 16-byte salt per
/// password, and verifies them in constant time.
///
/// A hash is stored as `$scrypt$ln=LOG2N,r=R,p=P$SALT$KEY` (base64), so that the cost can be
/// raised later without invalidating stored hashes: a hash made at other parameters still
/// verifies, and ``needsRehash(_:)`` tells the directory to store a new one at the next login.
///
/// The default, N = 2^15, r = 8, p = 3, is one of OWASP's equivalent scrypt settings (its
/// Password Storage Cheat Sheet: 2^17/8/1, 2^16/8/2, 2^15/8/3, …): the CPU cost of 2^17 at a
/// quarter of its memory, 32 MiB a hash, so that a server hashing on all its cores at once
/// stays within a small, fixed amount of memory (VMP3 runs one hash a core at a time).
public struct ScryptPasswordHasher: Sendable, Equatable {
    /// log2 of scrypt's N (CPU and memory cost: 128 · r · N bytes).
    public var logN: Int
    public var blockSize: Int
    /// scrypt's p: independent mixes, each of the full memory, run one after another.
    public var parallelism: Int

    public init(logN: Int = 15, blockSize: Int = 8, parallelism: Int = 3) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    static let keyLength = 32

    /// The hasher `Setting.passwordHashCost` names (`ln=LOG2N,r=R,p=P`, as in a stored hash), or
    /// the default when it is unset. Stored hashes of other parameters are rehashed at the next
    /// login, so the cost can be raised (or, for a test deployment, lowered) at any restart.
    ///
    /// - Throws: `ConfigurationError` naming the variable, for a malformed value or one
    ///   outside ln 10–20, r 1–32, p 1–16.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init()
        guard let text = settings.text(.passwordHashCost) else { return }
        guard let parameters = Self.parameters(Substring(text)), parameters.logN >= 10 else {
            throw settings.malformed(.passwordHashCost, text, "ln=10…20,r=1…32,p=1…16 (the default is ln=15,r=8,p=3)")
        }
        self.init(logN: parameters.logN, blockSize: parameters.r, parallelism: parameters.p)
    }

    /// A new hash of `password` with a fresh salt.
    public func hash(_ password: String) throws(AuthError) -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let key = try derive(password, salt: salt, logN: logN, blockSize: blockSize, parallelism: parallelism)
        return "$scrypt$ln=\(logN),r=\(blockSize),p=\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` matches `stored`. Takes as long for a wrong password as for the right one.
    public func verify(_ password: String, against stored: String) throws(AuthError) -> Bool {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard fields.count == 4, fields[0] == "scrypt",
              let parameters = Self.parameters(fields[1]),
              let salt = Data(base64Encoded: String(fields[2])),
              let expected = Data(base64Encoded: String(fields[3])) else {
            throw AuthError(code: .storageFailed, message: "a stored password hash is malformed")
        }
        let key = try derive(password, salt: [UInt8](salt), logN: parameters.logN, blockSize: parameters.r, parallelism: parameters.p)
        return constantTimeEquals(key, [UInt8](expected))
    }

    /// Whether `stored` was made at other parameters than this hasher's (an older, cheaper
    /// default, typically), or cannot be read: the caller, holding the right password, should
    /// store ``hash(_:)`` of it instead.
    public func needsRehash(_ stored: String) -> Bool {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard fields.count == 4, fields[0] == "scrypt", let parameters = Self.parameters(fields[1]) else { return true }
        return parameters != (logN, blockSize, parallelism)
    }

    private static func parameters(_ field: Substring) -> (logN: Int, r: Int, p: Int)? {
        var values: [Substring: Int] = [:]
        for pair in field.split(separator: ",") {
            let parts = pair.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[parts[0]] = value
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"], (1...20).contains(logN), (1...32).contains(r), (1...16).contains(p) else {
            return nil
        }
        return (logN, r, p)
    }

    private func derive(_ password: String, salt: [UInt8], logN: Int, blockSize: Int, parallelism: Int) throws(AuthError) -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: Self.keyLength,
                rounds: 1 << logN, blockSize: blockSize, parallelism: parallelism
            )
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw AuthError(code: .storageFailed, message: "scrypt failed: \(error)")
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths, not on where they differ.
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}
