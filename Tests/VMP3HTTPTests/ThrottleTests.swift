import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Kit

/// Whose request is whose (``TrustedProxies``) and the limits keyed on it.
@Suite struct ThrottleTests {
    static func proxies(_ text: String) throws -> TrustedProxies {
        try TrustedProxies(settings: Settings(["VMP3_TRUSTED_PROXIES": text]))
    }

    @Test("the client is the rightmost hop no trusted proxy vouches for; a client's own X-Forwarded-For is never believed")
    func clientAddress() throws {
        let loopback = TrustedProxies.loopback
        // Straight from a client: its header is ignored.
        #expect(loopback.clientAddress(peer: "203.0.113.9", forwardedFor: ["10.0.0.1"]) == "203.0.113.9")
        // Through the gateway on this host.
        #expect(loopback.clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.9"]) == "203.0.113.9")
        // A dual-stack listener's IPv4 peer (IPv4-mapped) is judged as IPv4; NAT64 is not mapped.
        let privateNetwork = TrustedProxies([IPNetwork("10.0.0.0/8")!])
        #expect(privateNetwork.trusts("::ffff:10.0.0.7") && !privateNetwork.trusts("::ffff:192.0.2.1") && !privateNetwork.trusts("64:ff9b::a00:7"))
        // A client that sends X-Forwarded-For through the proxy only adds hops to the left.
        #expect(loopback.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 203.0.113.9"]) == "203.0.113.9")
        #expect(loopback.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "203.0.113.9"]) == "203.0.113.9")
        // Two proxies deep: a load balancer in 10.0.0.0/8, then the gateway on loopback.
        let chain = try Self.proxies("10.0.0.0/8, 127.0.0.1")
        #expect(chain.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 203.0.113.9, 10.1.2.3"]) == "203.0.113.9")
        // Junk ends the walk at the last proxy believed; no header at all leaves the peer.
        #expect(chain.clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.9, unknown"]) == "127.0.0.1")
        #expect(chain.clientAddress(peer: "10.1.2.3", forwardedFor: []) == "10.1.2.3")
        // IPv6, and an address written in another form is the same client.
        #expect(try Self.proxies("::1").clientAddress(peer: "::1", forwardedFor: ["2001:DB8::0:1"]) == "2001:db8::1")
        // `none`: nobody's header counts.
        #expect(try Self.proxies("none").clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.9"]) == "127.0.0.1")
        #expect(try TrustedProxies(settings: Settings([:])) == .loopback)
        for bad in ["10.0.0.0/33", "gateway.internal", "1.2.3"] {
            #expect(throws: ConfigurationError.self) { try Self.proxies(bad) }
        }
    }

    @Test("fixed windows: counts per key, a new window after the old one ends, Retry-After the seconds left")
    func windows() async throws {
        let counter = InMemoryRateLimitCounter(pruneAbove: 10)
        let limiter = FixedWindowRateLimiter("test", limit: 2, per: .seconds(1), counter: counter)
        #expect(await limiter.record("a") == nil)
        #expect(await limiter.record("a") == nil)
        #expect(await limiter.record("a") == 1)
        #expect(await limiter.record("b") == nil)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(await limiter.record("a") == nil, "a new window")
        // Many keys: ended windows are dropped, so memory is bounded by one window's keys.
        for index in 0..<50 { _ = await limiter.record("flood-\(index)") }
        try await Task.sleep(for: .milliseconds(1100))
        _ = await limiter.record("after")
        #expect(await counter.keyCount < 50)
    }

    /// A shared counter that is down.
    struct Unreachable: RateLimitCounter {
        func increment(_ key: String, window: Duration) async throws -> RateLimitCount {
            throw ConfigurationError("Redis is down")
        }

        func reset(_ key: String) async throws {
            throw ConfigurationError("Redis is down")
        }
    }

    @Test("a shared counter that cannot be reached: the limit still holds, counted in the process")
    func sharedCounterDown() async throws {
        let limiter = FixedWindowRateLimiter("test", limit: 1, per: .seconds(60), counter: Unreachable())
        #expect(await limiter.record("a") == nil)
        #expect(try #require(await limiter.record("a")) > 50)
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    static func register(_ client: some TestClientProtocol, _ email: String, from address: String) async throws -> HTTPResponse.Status {
        var headers = json
        headers[.init("X-Forwarded-For")!] = address
        let body = ByteBuffer(string: #"{"email":"\#(email)","password":"correct horse battery"}"#)
        return try await client.execute(uri: "/v1/auth/register", method: .post, headers: headers, body: body) { (response: TestResponse) async throws in
            if response.status == .tooManyRequests {
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 > 60, "the window is an hour")
                #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "rate_limited")
            }
            return response.status
        }
    }

    static func login(_ client: some TestClientProtocol, _ email: String, _ password: String, from address: String) async throws -> HTTPResponse.Status {
        var headers = json
        headers[.init("X-Forwarded-For")!] = address
        let body = ByteBuffer(string: #"{"email":"\#(email)","password":"\#(password)"}"#)
        return try await client.execute(uri: "/v1/auth/login", method: .post, headers: headers, body: body) { $0.status }
    }

    @Test("no lock-out: while an attacker keeps guessing an address's password, its owner logs in from their own client; the attacker's client is refused even the right password")
    func noLockOut() async throws {
        try await TestGateway(auth: AuthRoutes.Configuration(failuresPerAddressAndClient: 3, attemptsPerClient: 100)).run { client in
            let status1 = try await Self.register(client, "victim@example.com", from: "198.51.100.7")
            #expect(status1 == .created)
            var statuses: [HTTPResponse.Status] = []
            for guess in 0..<12 {
                statuses.append(try await Self.login(client, "victim@example.com", "guess number \(guess)", from: "203.0.113.9"))
            }
            #expect(statuses == Array(repeating: .unauthorized, count: 3) + Array(repeating: .tooManyRequests, count: 9))
            let status2 = try await Self.login(client, "victim@example.com", "correct horse battery", from: "198.51.100.7")
            #expect(status2 == .ok)
            let status3 = try await Self.login(client, "Victim@Example.com", "a typo of mine", from: "198.51.100.7")
            #expect(status3 == .unauthorized, "the owner's own failures are their own")
            let status4 = try await Self.login(client, "victim@example.com", "correct horse battery", from: "198.51.100.7")
            #expect(status4 == .ok)
            let status5 = try await Self.login(client, "victim@example.com", "correct horse battery", from: "203.0.113.9")
            #expect(status5 == .tooManyRequests)
        }
    }

    @Test("guesses sent at once are counted at once: of 30 wrong passwords for one address from one client, 10 are checked and 20 refused")
    func parallelGuesses() async throws {
        try await TestGateway(auth: AuthRoutes.Configuration(failuresPerAddressAndClient: 10, attemptsPerClient: 100)).run { client in
            let registered = try await Self.register(client, "target@example.com", from: "198.51.100.8")
            #expect(registered == .created)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for guess in 0..<30 {
                    group.addTask { try await Self.login(client, "target@example.com", "guess number \(guess)", from: "203.0.113.10") }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == 10)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 20)
        }
    }

    @Test("an IPv6 client is its /64 (any prefix a setting names), an IPv4 client its address, in IPv6 dress too")
    func clientPrefixes() throws {
        let prefixes = ClientPrefixes()
        #expect(prefixes.key(for: "2001:db8:1:2::1") == "2001:db8:1:2::/64")
        #expect(prefixes.key(for: "2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64")
        #expect(prefixes.key(for: "2001:db8:1:3::1") == "2001:db8:1:3::/64")
        #expect(prefixes.key(for: "203.0.113.5") == "203.0.113.5")
        #expect(prefixes.key(for: "::ffff:203.0.113.5") == "203.0.113.5")
        #expect(prefixes.key(for: "unknown") == "unknown")
        let wide = try ClientPrefixes(settings: Settings(["VMP3_CLIENT_PREFIX_IPV4": "24", "VMP3_CLIENT_PREFIX_IPV6": "48"]))
        #expect(wide.key(for: "2001:db8:1:2::1") == "2001:db8:1::/48")
        #expect(wide.key(for: "203.0.113.77") == "203.0.113.0/24")
        #expect(ClientPrefixes(ipv6: 128).key(for: "2001:db8::7") == "2001:db8::7")
        for bad in [["VMP3_CLIENT_PREFIX_IPV6": "8"], ["VMP3_CLIENT_PREFIX_IPV4": "33"], ["VMP3_CLIENT_PREFIX_IPV6": "sixty-four"]] {
            #expect(throws: ConfigurationError.self) { try ClientPrefixes(settings: Settings(bad)) }
        }
    }

    @Test("one IPv6 /64 is one client: registrations from many of its addresses share one limit; the next /64 has its own")
    func ipv6SubscriberIsOneClient() async throws {
        try await TestGateway(auth: AuthRoutes.Configuration(registrationsPerClient: 3)).run { client in
            for index in 1...3 {
                let status1 = try await Self.register(client, "v6-\(index)@example.com", from: "2001:db8:1:2::\(index)")
                #expect(status1 == .created)
            }
            let status2 = try await Self.register(client, "v6-4@example.com", from: "2001:db8:1:2:ffff:1234:5678:9abc")
            #expect(status2 == .tooManyRequests)
            let status3 = try await Self.register(client, "v6-5@example.com", from: "2001:db8:1:3::1")
            #expect(status3 == .created, "another subscriber")
        }
    }

    @Test("registrations are limited per client and per address (normalised): 429 with Retry-After; other clients and addresses go on")
    func registrationThrottle() async throws {
        try await TestGateway(auth: AuthRoutes.Configuration(registrationsPerAddress: 2, registrationsPerClient: 3)).run { client in
            // The test client connects from loopback, a trusted proxy: X-Forwarded-For names the client.
            for index in 0..<3 {
                let status1 = try await Self.register(client, "user\(index)@example.com", from: "203.0.113.1")
                #expect(status1 == .created)
            }
            let status2 = try await Self.register(client, "user3@example.com", from: "203.0.113.1")
            #expect(status2 == .tooManyRequests)
            let status3 = try await Self.register(client, "user3@example.com", from: "203.0.113.2")
            #expect(status3 == .created, "another client")
            // Per address: the taken address tried again and again, from new clients each time.
            let status4 = try await Self.register(client, "taken@example.com", from: "198.51.100.1")
            #expect(status4 == .created)
            let status5 = try await Self.register(client, "Taken@Example.com\\n", from: "198.51.100.2")
            #expect(status5 == .conflict)
            let status6 = try await Self.register(client, " taken@example.COM", from: "198.51.100.3")
            #expect(status6 == .tooManyRequests)
        }
    }
}
