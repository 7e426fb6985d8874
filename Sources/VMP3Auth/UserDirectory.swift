import Foundation
import GRDB
import VMP3Core

/// A registered user.
public struct User: Sendable, Hashable, Codable {
    public var id: UserID
    public var email: EmailAddress
    public var createdAt: Date
}

/// Users in SQLite (GRDB): registration and login.
///
/// E-mail addresses are unique after normalisation (``EmailAddress``); passwords are stored only
/// as scrypt hashes. Login takes the same time whether the address is unknown or the password
/// wrong, so that timing does not tell which addresses exist.
public struct UserDirectory: Sendable {
    private let database: DatabaseQueue
    public let hasher: ScryptPasswordHasher
    public let policy: PasswordPolicy
    /// Verified against when the address is unknown, so that a miss costs a full scrypt run too.
    private let decoy = DecoyHash()
    /// Where hashes run: by default the process's one pool, a core at a time.
    private let hashingPool: PasswordHashingPool

    /// Opens (creating and migrating if needed) the database at `path`; `nil` keeps it in memory.
    public init(
        path: String?, hasher: ScryptPasswordHasher = ScryptPasswordHasher(), policy: PasswordPolicy = PasswordPolicy(),
        hashingPool: PasswordHashingPool = .shared
    ) throws {
        do {
            if let path {
                // Made 0600 in a 0700 folder before SQLite opens it: it holds the password hashes.
                try PrivateFile.createEmptyUnlessPresent(path)
                database = try DatabaseQueue(path: path)
            } else {
                database = try DatabaseQueue()
            }
            try Self.migrator.migrate(database)
        } catch {
            throw AuthError(code: .storageFailed, message: "cannot open the user database \(path ?? ":memory:"): \(error)")
        }
        self.hasher = hasher
        self.policy = policy
        self.hashingPool = hashingPool
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-users") { db in
            try db.create(table: "user") { table in
                table.primaryKey("id", .text)
                table.column("email", .text).notNull().unique()
                table.column("passwordHash", .text).notNull()
                table.column("createdAtMillis", .integer).notNull()
            }
        }
        return migrator
    }

    private struct Row: Codable, FetchableRecord, PersistableRecord {
        static let databaseTableName = "user"
        var id: String
        var email: String
        var passwordHash: String
        /// Milliseconds since 1970: an integer reads back exactly, a formatted date may not.
        var createdAtMillis: Int64

        var user: User? {
            (try? EmailAddress(email)).map {
                User(id: UserID(rawValue: id), email: $0, createdAt: Date(timeIntervalSince1970: Double(createdAtMillis) / 1000))
            }
        }
    }

    /// Registers a user.
    ///
    /// - Throws: ``AuthError`` `invalidEmail`, `weakPassword`, or `emailTaken`.
    public func register(email: String, password: String) async throws(AuthError) -> User {
        let address = try EmailAddress(email)
        try policy.check(password)
        let hash = try await offPool(.background) { [hasher] () throws(AuthError) in try hasher.hash(password) }
        let row = Row(
            id: UUID().uuidString.lowercased(), email: address.value, passwordHash: hash,
            createdAtMillis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        )
        do {
            try await database.write { db in try row.insert(db) }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw AuthError(code: .emailTaken, message: "\(address) is registered already")
        } catch {
            throw AuthError(code: .storageFailed, message: "cannot store the user: \(error)")
        }
        return User(id: UserID(rawValue: row.id), email: address, createdAt: Date(timeIntervalSince1970: Double(row.createdAtMillis) / 1000))
    }

    /// The user with this address and password.
    ///
    /// - Throws: ``AuthError/Code/invalidCredentials`` for an unknown address or a wrong
    ///   password alike (and for a malformed address: it cannot be registered either).
    public func authenticate(email: String, password: String) async throws(AuthError) -> User {
        let refused = AuthError(code: .invalidCredentials, message: "unknown e-mail address or wrong password")
        let row: Row?
        if let address = try? EmailAddress(email) {
            do {
                row = try await database.read { db in try Row.filter(Column("email") == address.value).fetchOne(db) }
            } catch {
                throw AuthError(code: .storageFailed, message: "cannot read users: \(error)")
            }
        } else {
            row = nil
        }
        let stored = if let row { row.passwordHash } else { try await decoy.value(hasher: hasher, pool: hashingPool) }
        let matches = try await offPool(.login) { [hasher] () throws(AuthError) in try hasher.verify(password, against: stored) }
        guard matches, let row, let user = row.user else { throw refused }
        if hasher.needsRehash(stored) {
            await rehash(userID: row.id, replacing: stored, password: password)
        }
        return user
    }

    /// Stores a hash of `password` at the current parameters in place of `stored`, made at
    /// older ones, now that the password is known to be right. Best effort: the login succeeds
    /// whether or not this does, and a failure leaves the old hash, tried again next login.
    /// Compare-and-set, so that a password changed meanwhile is not overwritten.
    private func rehash(userID: String, replacing stored: String, password: String) async {
        guard let fresh = try? await offPool(.background, { [hasher] () throws(AuthError) in try hasher.hash(password) }) else { return }
        _ = try? await database.write { db in
            try db.execute(
                sql: "UPDATE user SET passwordHash = ? WHERE id = ? AND passwordHash = ?",
                arguments: [fresh, userID, stored]
            )
        }
    }

    /// The stored hash of the user with this address (tests read its parameters).
    func storedPasswordHash(email: String) async throws -> String? {
        let address = try EmailAddress(email)
        return try await database.read { db in try Row.filter(Column("email") == address.value).fetchOne(db)?.passwordHash }
    }

    /// The user with this id, if any.
    public func user(_ id: UserID) async throws(AuthError) -> User? {
        do {
            return try await database.read { db in try Row.fetchOne(db, key: id.rawValue) }?.user
        } catch {
            throw AuthError(code: .storageFailed, message: "cannot read users: \(error)")
        }
    }
}

extension UserDirectory {
    /// Hashes on the ``PasswordHashingPool``: off the cooperative pool, a core at a time.
    private func offPool<T: Sendable>(
        _ priority: PasswordHashingPool.Priority, _ work: @escaping @Sendable () throws(AuthError) -> T
    ) async throws(AuthError) -> T {
        try await hashingPool.run(priority, work)
    }
}
