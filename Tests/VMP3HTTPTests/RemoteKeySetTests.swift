import Foundation
import Logging
import Synchronization
import Testing
import VMP3Auth
import VMP3HTTP
import VMP3Kit

/// ``RemoteKeySet``'s refresh rules, with the published set in memory (the gateway process
/// fetching a real vmp3-auth's set is GatewaySecurityEndToEndTests.signingKeyRotation).
@Suite struct RemoteKeySetTests {
    /// A published key set that counts how often it is fetched, and can fail.
    final class Publisher: Sendable {
        let state = Mutex<(keys: [PublicSigningKey], fetches: Int, failing: Bool)>(([], 0, false))

        var keys: [PublicSigningKey] {
            get { state.withLock { $0.keys } }
            set { state.withLock { $0.keys = newValue } }
        }
        var failing: Bool {
            get { state.withLock { $0.failing } }
            set { state.withLock { $0.failing = newValue } }
        }
        var fetches: Int { state.withLock { $0.fetches } }

        var fetch: RemoteKeySet.Fetch {
            { [self] in
                try state.withLock { state in
                    state.fetches += 1
                    if state.failing { throw ConfigurationError("the auth service is down") }
                    return state.keys
                }
            }
        }
    }

    static func token(_ key: SigningKey) async throws -> String {
        try await JWTTokenIssuer(signingKey: key).issueToken(for: "ann", email: nil).token
    }

    static func refused(_ set: RemoteKeySet, _ token: String) async -> TokenError.Code? {
        do {
            _ = try await set.verify(token)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("a token of a key it does not know makes it fetch at once (even right after a fetch), and then verifies")
    func unknownKeyFetches() async throws {
        let old = try SigningKey.generate()
        let new = try SigningKey.generate()
        let publisher = Publisher()
        publisher.keys = [new.publicKey, old.publicKey]
        let set = await RemoteKeySet(keys: [old.publicKey], configuration: .init(refreshInterval: .seconds(3600), unknownKeyInterval: .zero), logger: Logger(label: "test"), fetch: publisher.fetch)
        #expect(try await set.verify(try await Self.token(old)).userID == "ann")
        #expect(publisher.fetches == 0, "a known key needs no fetch")
        #expect(try await set.verify(try await Self.token(new)).userID == "ann")
        #expect(publisher.fetches == 1)
        #expect(try await set.verify(try await Self.token(new)).userID == "ann")
        #expect(publisher.fetches == 1, "the new key is known now")
    }

    @Test("tokens naming made-up keys cause at most one fetch per interval, however many arrive at once")
    func madeUpKeysAreRateLimited() async throws {
        let key = try SigningKey.generate()
        let publisher = Publisher()
        publisher.keys = [key.publicKey]
        // The first unknown key fetches at once; the next, within the interval, does not. An
        // hour, longer than a whole CI run: a minute was once outlasted between two lines of the
        // AddressSanitizer stage, whose starved cooperative pool has slept 60 s at a time.
        let patient = await RemoteKeySet(keys: [key.publicKey], configuration: .init(unknownKeyInterval: .seconds(3600)), logger: Logger(label: "test"), fetch: publisher.fetch)
        #expect(await Self.refused(patient, try await Self.token(try SigningKey.generate())) == .invalidSignature)
        #expect(publisher.fetches == 1)
        #expect(await Self.refused(patient, try await Self.token(try SigningKey.generate())) == .invalidSignature)
        #expect(publisher.fetches == 1)

        let set = await RemoteKeySet(keys: [key.publicKey], configuration: .init(unknownKeyInterval: .seconds(2)), logger: Logger(label: "test"), fetch: publisher.fetch)
        let forged = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<200 { group.addTask { try await Self.token(try SigningKey.generate()) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let started = ContinuousClock.now
        await withTaskGroup(of: TokenError.Code?.self) { group in
            for token in forged { group.addTask { await Self.refused(set, token) } }
            for await code in group { #expect(code == .invalidSignature) }
        }
        // One fetch per 2 s the burst lasted, and the first: bounded by time, not by tokens.
        let fetches = publisher.fetches - 1
        let allowed = 1 + Int((ContinuousClock.now - started) / .seconds(2))
        #expect(fetches >= 1 && fetches <= allowed, "200 forged tokens: \(fetches) fetches, \(allowed) allowed")
        #expect(fetches < 20)
        #expect(try await set.verify(try await Self.token(key)).userID == "ann")
    }

    @Test("a refresh drops a retired key; a failed or empty fetch keeps the keys it had")
    func refreshRetiresAndKeeps() async throws {
        let old = try SigningKey.generate()
        let new = try SigningKey.generate()
        let publisher = Publisher()
        publisher.keys = [new.publicKey, old.publicKey]
        let set = await RemoteKeySet(keys: publisher.keys, logger: Logger(label: "test"), fetch: publisher.fetch)
        let oldToken = try await Self.token(old)
        let newToken = try await Self.token(new)
        #expect(try await set.verify(oldToken).userID == "ann")

        publisher.failing = true
        await set.refresh()
        #expect(try await set.verify(oldToken).userID == "ann", "kept when the fetch fails")
        publisher.failing = false
        publisher.keys = []
        await set.refresh()
        #expect(try await set.verify(oldToken).userID == "ann", "kept when nothing is published")

        publisher.keys = [new.publicKey]
        await set.refresh()
        #expect(await Self.refused(set, oldToken) == .invalidSignature)
        #expect(try await set.verify(newToken).userID == "ann")
        #expect(await set.keyIDs == [new.keyID])
    }

    @Test("the key id of a token's header is read without verifying; junk has none")
    func keyIDOfToken() async throws {
        let key = try SigningKey.generate()
        #expect(JWTTokenVerifier.keyID(of: try await Self.token(key)) == key.keyID)
        for junk in ["", ".", "a.b.c", "!!!.b.c", String(repeating: "A", count: 5000) + ".b.c", "eyJhbGciOiJub25lIn0.e30."] {
            #expect(JWTTokenVerifier.keyID(of: junk) == nil, "\(junk.prefix(20))")
        }
    }

    @Test("VMP3_JWKS_REFRESH_SECONDS is 1…86400")
    func refreshSetting() throws {
        #expect(try RemoteKeySet.Configuration(settings: Settings([:])).refreshInterval == .seconds(300))
        #expect(try RemoteKeySet.Configuration(settings: Settings(["VMP3_JWKS_REFRESH_SECONDS": "2"])).refreshInterval == .seconds(2))
        #expect(try RemoteKeySet.Configuration(settings: Settings(["VMP3_JWKS_REFRESH_SECONDS": "2"])).unknownKeyInterval == .seconds(2))
        for bad in ["0", "-1", "86401", "x", "1.5"] {
            #expect(throws: ConfigurationError.self) { try RemoteKeySet.Configuration(settings: Settings(["VMP3_JWKS_REFRESH_SECONDS": bad])) }
        }
    }
}
