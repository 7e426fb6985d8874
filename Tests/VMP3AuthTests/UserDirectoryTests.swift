import Foundation
import Testing
@testable import VMP3Auth
import VMP3Kit

@Suite struct UserDirectoryTests {
    /// Lower scrypt cost than production keeps the suite quick; the algorithm is the same.
    static let hasher = ScryptPasswordHasher(logN: 12)

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
        let users = try UserDirectory(path: nil, hasher: ScryptPasswordHasher(logN: 14))
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
}

func temporaryPath(_ name: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-auth-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}
