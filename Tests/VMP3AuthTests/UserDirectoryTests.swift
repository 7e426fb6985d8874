import Foundation
import Synchronization
import Testing
@testable import VMP3Auth
import VMP3Kit

@Suite struct UserDirectoryTests {
    /// Lower scrypt cost than production keeps the suite quick; the algorithm is the same.
    static let hasher = ScryptPasswordHasher(logN: 12, parallelism: 1)

    func directory(path: String? = nil) throws -> UserDirectory {
        try UserDirectory(path: path, hasher: Self.hasher)
    }

    @Test("register stores a normalised address; the same address in another case or with spaces is taken")
    func register() async throws {
        let users = try directory()
        let user = try await users.register(email: "  Ann.Lee@Example.COM ", password: "correct horse battery")
        #expect(user.email.value == "ann.lee@example.com")
        for variant in ["ann.lee@example.com", "ANN.LEE@EXAMPLE.COM", " ann.lee@example.com\n"] {
            await #expect { _ = try await users.register(email: variant, password: "another good password") } throws: {
                ($0 as? AuthError)?.code == .emailTaken
            }
        }
        #expect(try await users.user(user.id)?.email == user.email)
    }

    @Test("malformed addresses are refused", arguments: [
        "", "plain", "@example.com", "ann@", "ann@example", "ann@@example.com", "ann lee@example.com", "ann@exa mple.com",
        "ann@.example.com", "ann@example..com", "<ann>@example.com", String(repeating: "a", count: 65) + "@example.com",
    ])
    func invalidEmail(_ email: String) async throws {
        await #expect { _ = try await directory().register(email: email, password: "correct horse battery") } throws: {
            ($0 as? AuthError)?.code == .invalidEmail
        }
    }

    @Test("weak passwords are refused with the reason", arguments: [
        ("short1!", "at least 10 characters"), ("aaaaaaaaaaaa", "different characters"), ("abababababab", "different characters"),
        ("Password123", "most common"), (String(repeating: "x1y2z3", count: 200), "at most 1024 bytes"),
    ])
    func weakPassword(_ password: String, _ reason: String) async throws {
        do {
            _ = try await directory().register(email: "ann@example.com", password: password)
            Issue.record("accepted \(password)")
        } catch let error as AuthError {
            #expect(error.code == .weakPassword)
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test("login succeeds with the right password only, and does not say whether the address exists")
    func authenticate() async throws {
        let users = try directory()
        let user = try await users.register(email: "ann@example.com", password: "correct horse battery")
        #expect(try await users.authenticate(email: "ANN@example.com ", password: "correct horse battery") == user)
        for (email, password) in [("ann@example.com", "correct horse batterY"), ("ann@example.com", ""), ("bob@example.com", "correct horse battery"), ("not an address", "x")] {
            do {
                _ = try await users.authenticate(email: email, password: password)
                Issue.record("logged in with \(email) / \(password)")
            } catch {
                #expect(error.code == .invalidCredentials)
                #expect(error.message == "unknown e-mail address or wrong password")
            }
        }
    }

    @Test("a wrong password costs as much time as an unknown address: both run scrypt in full")
    func loginTiming() async throws {
        let users = try UserDirectory(path: nil, hasher: ScryptPasswordHasher(logN: 14, parallelism: 1))
        _ = try await users.register(email: "ann@example.com", password: "correct horse battery")
        func seconds(_ email: String) async -> Double {
            let start = ContinuousClock.now
            _ = try? await users.authenticate(email: email, password: "wrong password here")
            return (ContinuousClock.now - start).seconds
        }
        // Adjacent pairs, so that whatever else loads the machine weighs on both alike.
        var ratios: [Double] = []
        var knownTimes: [Double] = []
        for _ in 0..<7 {
            let known = await seconds("ann@example.com")
            let unknown = await seconds("nobody@example.com")
            knownTimes.append(known)
            ratios.append(unknown / known)
        }
        let ratio = ratios.sorted()[3]
        let known = knownTimes.sorted()[3]
        // Without the decoy hash an unknown address would answer hundreds of times faster.
        #expect(ratio > 0.2 && ratio < 5, "median unknown/known time ratio \(ratio) (\(ratios))")
        #expect(known > 0.005, "scrypt ran in \(known) s: too cheap to be doing its work")
    }

    @Test("passwords are stored as salted scrypt hashes, never as text")
    func hashes() async throws {
        let path = try temporaryPath("users.sqlite")
        let users = try directory(path: path)
        _ = try await users.register(email: "a@example.com", password: "the same password")
        _ = try await users.register(email: "b@example.com", password: "the same password")
        let contents = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(contents.range(of: Data("the same password".utf8)) == nil)
        let hash = try Self.hasher.hash("the same password")
        #expect(hash.hasPrefix("$scrypt$ln=12,r=8,p=1$"))
        #expect(try Self.hasher.hash("the same password") != hash, "the salt must differ per hash")
        #expect(try Self.hasher.verify("the same password", against: hash))
        #expect(try !Self.hasher.verify("the same passworD", against: hash))
        #expect(throws: AuthError.self) { try Self.hasher.verify("x", against: "$scrypt$garbage") }
    }

    @Test("constant-time comparison is a correct comparison")
    func constantTime() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([], []))
    }

    @Test("users survive reopening the database")
    func persistence() async throws {
        let path = try temporaryPath("users.sqlite")
        let user = try await directory(path: path).register(email: "ann@example.com", password: "correct horse battery")
        let reopened = try directory(path: path)
        #expect(try await reopened.authenticate(email: "ann@example.com", password: "correct horse battery").id == user.id)
    }

    @Test("a hash made at an older, cheaper cost is replaced at the next login with the right password, and the password still works")
    func rehashOnLogin() async throws {
        let path = try temporaryPath("users.sqlite")
        let old = ScryptPasswordHasher(logN: 10, parallelism: 1)
        let raised = ScryptPasswordHasher(logN: 12, parallelism: 2)
        let user = try await UserDirectory(path: path, hasher: old).register(email: "ann@example.com", password: "correct horse battery")
        let upgraded = try UserDirectory(path: path, hasher: raised)
        let before = try #require(try await upgraded.storedPasswordHash(email: "ann@example.com"))
        #expect(before.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(raised.needsRehash(before) && !old.needsRehash(before))

        // A wrong password proves nothing: the old hash stays.
        await #expect(throws: AuthError.self) { try await upgraded.authenticate(email: "ann@example.com", password: "wrong horse battery") }
        #expect(try await upgraded.storedPasswordHash(email: "ann@example.com") == before)

        #expect(try await upgraded.authenticate(email: "ann@example.com", password: "correct horse battery").id == user.id)
        let after = try #require(try await upgraded.storedPasswordHash(email: "ann@example.com"))
        #expect(after.hasPrefix("$scrypt$ln=12,r=8,p=2$") && after != before)
        #expect(!raised.needsRehash(after))
        // The new hash verifies, and only the right password.
        #expect(try await upgraded.authenticate(email: "ann@example.com", password: "correct horse battery").id == user.id)
        await #expect(throws: AuthError.self) { try await upgraded.authenticate(email: "ann@example.com", password: "correct horse batterY") }
        #expect(try await upgraded.storedPasswordHash(email: "ann@example.com") == after)
    }

    @Test("the default cost is today's guidance: scrypt at N = 2^15, r = 8, p = 3")
    func defaultCost() throws {
        let hasher = ScryptPasswordHasher()
        #expect(try hasher.hash("correct horse battery").hasPrefix("$scrypt$ln=15,r=8,p=3$"))
        #expect(hasher.needsRehash("$scrypt$ln=14,r=8,p=1$c2FsdA==$a2V5") && hasher.needsRehash("not a hash"))
    }

    @Test("no more hashes run at once than the pool is wide")
    func hashingPoolWidth() async throws {
        let pool = PasswordHashingPool(width: 2)
        let counter = ConcurrencyCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    try await pool.run { () throws(AuthError) in
                        counter.enter()
                        // Wait (a little) for a second hash to join: however slowly threads are
                        // scheduled, the pool must let two run together, and never three.
                        let deadline = Date().addingTimeInterval(2)
                        while counter.now < 2, Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
                        Thread.sleep(forTimeInterval: 0.01)
                        counter.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counter.highest == 2)
    }

    @Test("a login waiting for the pool goes before every registration queued ahead of it")
    func loginsGoFirst() async throws {
        final class Shared: Sendable {
            let order = Mutex<[String]>([])
            let gate = Mutex(false)
        }
        let pool = PasswordHashingPool(width: 1)
        let shared = Shared()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // One hash holds the only place until the queue has formed behind it.
            group.addTask {
                try await pool.run { () throws(AuthError) in
                    while !shared.gate.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.005) }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            for index in 0..<5 {
                group.addTask { try await pool.run(.background) { () throws(AuthError) in shared.order.withLock { $0.append("register-\(index)") } } }
            }
            try await Task.sleep(for: .milliseconds(200))
            group.addTask { try await pool.run(.login) { () throws(AuthError) in shared.order.withLock { $0.append("login") } } }
            try await Task.sleep(for: .milliseconds(200))
            shared.gate.withLock { $0 = true }
            try await group.waitForAll()
        }
        let ran = shared.order.withLock { $0 }
        #expect(ran.first == "login" && ran.count == 6, "\(ran)")
    }
}

/// Counts how many callers are between `enter` and `leave` at once, and the most there were.
final class ConcurrencyCounter: Sendable {
    private let state = Mutex((now: 0, highest: 0))
    func enter() { state.withLock { $0.now += 1; $0.highest = max($0.highest, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var now: Int { state.withLock { $0.now } }
    var highest: Int { state.withLock { $0.highest } }
}

func temporaryPath(_ name: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-auth-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}
