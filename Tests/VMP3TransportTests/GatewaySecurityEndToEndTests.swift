import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Testing
@testable import VMP3Auth
import VMP3Kit
import VMP3TestSupport

/// The gateway's security and bad-input answers, against the `vmp3-gateway` process (with
/// `vmp3-auth` and `vmp3-converter`) on the real RabbitMQ, Redis and S3 server: over HTTP only.
@Suite(.serialized) struct GatewaySecurityEndToEndTests {
    /// An HTTP answer, read whole (every body here is small).
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        var problemType: String? {
            struct Problem: Decodable { var type: String }
            return try? JSONDecoder().decode(Problem.self, from: Data(body.utf8)).type
        }

        func job() throws -> JobDocument { try JobDocument.makeDecoder().decode(JobDocument.self, from: Data(body.utf8)) }
    }

    /// Sends with `Authorization: Bearer TOKEN`, or with the raw `authorization` header value,
    /// and `X-Forwarded-For` if given.
    static func send(
        _ method: HTTPMethod, _ url: String, token: String? = nil, authorization: String? = nil, forwardedFor: String? = nil, body: ByteBuffer? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let value = authorization ?? token.map({ "Bearer \($0)" }) { request.headers.add(name: "Authorization", value: value) }
        if let forwardedFor { request.headers.add(name: "X-Forwarded-For", value: forwardedFor) }
        if let body {
            request.headers.add(name: "Content-Type", value: method == .POST && url.contains("/auth/") ? "application/json" : "application/octet-stream")
            request.body = .bytes(body)
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(90))
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: try await response.body.collect(upTo: 1 << 24)))
    }

    static func token(_ base: String, _ email: String) async throws -> String {
        let credentials = ByteBuffer(string: #"{"email":"\#(email)","password":"a long passphrase"}"#)
        #expect(try await send(.POST, base + "/v1/auth/register", body: credentials).status == 201)
        let login = try await send(.POST, base + "/v1/auth/login", body: credentials)
        struct Token: Decodable { var access_token: String }
        return try JSONDecoder().decode(Token.self, from: Data(login.body.utf8)).access_token
    }

    /// Follows the job's events to the end; returns the last event's job.
    static func follow(_ base: String, _ id: JobID, token: String) async throws -> JobDocument {
        let events = try await send(.GET, base + "/v1/jobs/\(id.rawValue)/events", token: token)
        #expect(events.status == 200)
        let last = try #require(events.body.split(separator: "\n").last { $0.hasPrefix("data: ") }?.dropFirst(6), "\(events.body)")
        return try JobDocument.makeDecoder().decode(JobDocument.self, from: Data(last.utf8))
    }

    @Test("vmp3-auth replaces a password hash of an older, cheaper scrypt cost at the next login, and the password keeps working")
    func scryptRehashOnLogin() async throws {
        let data = try makeScratchDirectory()
        let path = data.appendingPathComponent("users.sqlite").path
        // A user registered when the cost was N = 2^12, p = 1.
        _ = try await UserDirectory(path: path, hasher: ScryptPasswordHasher(logN: 12, parallelism: 1))
            .register(email: "old@example.com", password: "a long passphrase")
        let auth = try await ServiceProcess.start("vmp3-auth", environment: [
            "VMP3_DATA_DIR": data.path, "VMP3_HTTP_ADDRESS": "127.0.0.1:0", "VMP3_LOG_LEVEL": "warning",
        ])
        func login(_ password: String) async throws -> Int {
            let body = ByteBuffer(string: #"{"email":"old@example.com","password":"\#(password)"}"#)
            return try await Self.send(.POST, auth.url + "/v1/auth/login", body: body).status
        }
        let stored = { try await UserDirectory(path: path, hasher: ScryptPasswordHasher(logN: 12, parallelism: 1)).storedPasswordHash(email: "old@example.com") ?? "" }
        #expect(try await login("a wrong passphrase") == 401)
        #expect(try await stored().hasPrefix("$scrypt$ln=12,r=8,p=1$"), "a wrong password must not change the hash")
        #expect(try await login("a long passphrase") == 200)
        #expect(try await stored().hasPrefix("$scrypt$ln=15,r=8,p=3$"))
        #expect(try await login("a long passphrase") == 200)
        #expect(try await login("a wrong passphrase") == 401)
        auth.process.kill(SIGTERM)
        _ = try await auth.process.finish()

        let cheap = try await ExternalTool.run("/usr/bin/env", [
            "VMP3_PASSWORD_HASH_COST=ln=4,r=8,p=1", "VMP3_DATA_DIR=\(data.path)", "VMP3_HTTP_ADDRESS=127.0.0.1:0", builtExecutable("vmp3-auth"),
        ])
        #expect(cheap.status != 0 && cheap.stderr.contains("VMP3_PASSWORD_HASH_COST") && cheap.stderr.split(separator: "\n").count == 1, "\(cheap.stderr)")
    }

    @Test("401 for no, malformed, tampered, expired, foreign and alg:none tokens; 404 for another user's job, events and download")
    func tokensAndOwnership() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let ann = try await Self.token(base, "ann@example.com")
        let bob = try await Self.token(base, "bob@example.com")

        // Tokens the gateway must refuse: made from a real one, or signed with the auth
        // service's own key but expired, or with another key.
        let key = try SigningKey.loadOrCreate(at: deployment.data.appendingPathComponent("signing-key.pem").path)
        let expired = try await JWTTokenIssuer(signingKey: key, settings: TokenSettings(lifetime: .seconds(-300))).issueToken(for: "ann", email: nil).token
        let foreign = try await JWTTokenIssuer(signingKey: try SigningKey.generate()).issueToken(for: "ann", email: nil).token
        let parts = ann.split(separator: ".").map(String.init)
        let tampered = parts[0] + "." + parts[1] + "." + String(parts[2].reversed())
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let unsigned = header + "." + parts[1] + "."
        #expect(try await Self.send(.GET, base + "/v1/jobs", token: ann).status == 200)
        let refused: [String?] = [nil, "Basic abc", "Bearer"] + ["not.a.token", tampered, expired, foreign, unsigned].map { "Bearer \($0)" }
        for authorization in refused {
            let answer = try await Self.send(.GET, base + "/v1/jobs", authorization: authorization)
            #expect(answer.status == 401, "\(authorization ?? "no token")")
            #expect(answer.headers.first(name: "Content-Type") == "application/problem+json")
            #expect(answer.headers.first(name: "WWW-Authenticate") == "Bearer")
        }

        let clip = ByteBuffer(bytes: try Data(contentsOf: try await deployment.makeClip()))
        let job = try await Self.send(.POST, base + "/v1/jobs", token: ann, body: clip).job()
        for path in ["", "/events", "/download"] {
            let answer = try await Self.send(.GET, base + "/v1/jobs/\(job.id.rawValue)\(path)", token: bob)
            #expect(answer.status == 404, "\(path): \(answer.body)")
        }
        #expect(try await Self.send(.DELETE, base + "/v1/jobs/\(job.id.rawValue)", token: bob).status == 404)
        #expect(try await Self.follow(base, job.id, token: ann).status == .succeeded)
        #expect(try await Self.send(.GET, base + "/v1/jobs/\(job.id.rawValue)/download", token: bob).status == 404)
        #expect(try await Self.send(.GET, base + "/v1/jobs/\(job.id.rawValue)/download", token: ann).status == 200)
        try await deployment.stopAll()
    }

    @Test("an upload over the limit is 413 with nothing stored; a file that is not a video fails with a typed reason, and the services keep serving")
    func refusedAndFailedUploads() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_MAX_UPLOAD_MB"] = "1"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let token = try await Self.token(base, "ann@example.com")

        // Over the limit, with a Content-Length and chunked: refused, and nothing in the bucket.
        let big = ByteBuffer(repeating: 7, count: 3 << 20)
        let refused = try await Self.send(.POST, base + "/v1/jobs", token: token, body: big)
        #expect(refused.status == 413)
        #expect(refused.problemType?.hasSuffix("/upload_too_large") == true, "\(refused.body)")
        let file = deployment.data.appendingPathComponent("big.bin")
        try Data(repeating: 9, count: 3 << 20).write(to: file)
        let chunked = try await ExternalTool.run("curl", [
            "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)",
            "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)", base + "/v1/jobs",
        ])
        #expect(chunked.text == "413", "\(chunked.text) \(chunked.stderr)")
        #expect(try await deployment.storedObjects() == [])
        #expect(try await Self.send(.GET, base + "/v1/jobs", token: token).body.contains(#""jobs":[]"#))

        // Not a video: accepted, then failed with a reason; the gateway and converter go on.
        let text = ByteBuffer(string: String(repeating: "not a video ", count: 1000))
        let bad = try await Self.send(.POST, base + "/v1/jobs", token: token, body: text).job()
        let failed = try await Self.follow(base, bad.id, token: token)
        #expect(failed.status == .failed && failed.failure?.code == "not_media_file", "\(failed)")
        #expect(try await Self.send(.GET, base + "/v1/jobs/\(bad.id.rawValue)/download", token: token).status == 404)
        for service in ["vmp3-gateway", "vmp3-converter"] {
            #expect(try await Self.send(.GET, try #require(deployment.services[service]).url + "/healthz").status == 200)
        }
        let clip = ByteBuffer(bytes: try Data(contentsOf: try await deployment.makeClip()))
        let good = try await Self.send(.POST, base + "/v1/jobs", token: token, body: clip).job()
        #expect(try await Self.follow(base, good.id, token: token).status == .succeeded)
        try await deployment.stopAll()
    }

    @Test("the active-jobs cap holds for parallel uploads: of 12 at once with room for 3, exactly 3 are accepted, the rest 429 with nothing stored")
    func activeJobsCapUnderParallelUploads() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_MAX_ACTIVE_JOBS"] = "3"
        // No converter: the accepted jobs stay queued, so the places stay taken.
        try await deployment.start(withAuth: ["vmp3-gateway"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let token = try await Self.token(base, "ann@example.com")
        let clip = ByteBuffer(bytes: try Data(contentsOf: try await deployment.makeClip()))
        let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
            for _ in 0..<12 {
                group.addTask { try await Self.send(.POST, base + "/v1/jobs", token: token, body: clip) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let accepted = answers.filter { $0.status == 202 }
        let refused = answers.filter { $0.status == 429 }
        #expect(accepted.count == 3 && refused.count == 9, "\(answers.map(\.status))")
        #expect(refused.allSatisfy { $0.problemType?.hasSuffix("/active_jobs_limit") == true && $0.headers.first(name: "Retry-After") != nil }, "\(refused.map(\.body))")
        // The refused uploads' bytes are not kept: one source per accepted job.
        let ids = try Set(accepted.map { try $0.job().id.rawValue })
        #expect(Set(try await deployment.storedObjects()) == Set(ids.map { "sources/\($0)" }))
        // Another user has places of their own; cancelling a job frees one.
        let other = try await Self.token(base, "bob@example.com")
        #expect(try await Self.send(.POST, base + "/v1/jobs", token: other, body: clip).status == 202)
        #expect(try await Self.send(.POST, base + "/v1/jobs", token: token, body: clip).status == 429)
        #expect(try await Self.send(.DELETE, base + "/v1/jobs/\(try #require(ids.first))", token: token).status < 300)
        #expect(try await Self.send(.POST, base + "/v1/jobs", token: token, body: clip).status == 202)
        try await deployment.stopAll()
    }

    @Test("vmp3-gateway caps event streams per user and in total: 429 too_many_event_streams beyond them, others still served; a bad cap does not start")
    func eventStreamCaps() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_MAX_EVENT_STREAMS_PER_USER"] = "1"
        deployment.environment["VMP3_MAX_EVENT_STREAMS"] = "2"
        try await deployment.start(withAuth: ["vmp3-gateway"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let clip = ByteBuffer(bytes: try Data(contentsOf: try await deployment.makeClip()))
        var streams: [HTTPClientResponse] = []
        func open(_ token: String, _ id: JobID) async throws -> HTTPClientResponse {
            var request = HTTPClientRequest(url: base + "/v1/jobs/\(id.rawValue)/events")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        }
        var users: [(String, JobID)] = []
        for user in ["ann", "bob", "cy"] {
            let token = try await Self.token(base, "\(user)@example.com")
            users.append((token, try await Self.send(.POST, base + "/v1/jobs", token: token, body: clip).job().id))
        }
        streams.append(try await open(users[0].0, users[0].1))
        #expect(streams[0].status == .ok)
        let second = try await open(users[0].0, users[0].1)
        #expect(second.status == .tooManyRequests && second.headers.first(name: "Retry-After") != nil)
        #expect(String(buffer: try await second.body.collect(upTo: 1 << 16)).contains("too_many_event_streams"))
        streams.append(try await open(users[1].0, users[1].1))
        #expect(streams[1].status == .ok, "another user has a place of their own")
        let third = try await open(users[2].0, users[2].1)
        #expect(third.status == .tooManyRequests, "the gateway's two places are taken")
        _ = try await third.body.collect(upTo: 1 << 16)
        #expect(try await Self.send(.GET, base + "/v1/jobs/\(users[2].1.rawValue)", token: users[2].0).status == 200, "the other routes still answer")
        try await deployment.stopAll()

        deployment.environment["VMP3_MAX_EVENT_STREAMS"] = "0"
        try await deployment.expectRefusesToStart("vmp3-gateway", naming: "VMP3_MAX_EVENT_STREAMS")
    }

    @Test("signing-key rotation as Docs/operations.md tells it: tokens of the old and the new key verify at running gateways without a restart; once the old key is retired, its tokens are refused")
    func signingKeyRotation() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start("vmp3-auth")
        let auth = try #require(deployment.services["vmp3-auth"])
        deployment.environment["VMP3_AUTH_URL"] = auth.url
        // One gateway that refreshes its keys every 2 s, one that would not for an hour: that
        // one sees the new key only because a token names a key it does not know.
        deployment.environment["VMP3_JWKS_REFRESH_SECONDS"] = "2"
        try await deployment.start("vmp3-gateway")
        let fast = try #require(deployment.services["vmp3-gateway"]).url
        deployment.environment["VMP3_JWKS_REFRESH_SECONDS"] = "3600"
        let slow = try await ServiceProcess.start("vmp3-gateway", environment: deployment.environment)
        func listing(_ base: String, _ token: String) async throws -> Int {
            let answer = try await Self.send(.GET, base + "/v1/jobs", token: token)
            return answer.status
        }
        func kid(_ token: String) -> String? { JWTTokenVerifier.keyID(of: token) }
        let old = try await Self.token(fast, "rotate@example.com")
        #expect(try await listing(fast, old) == 200)
        #expect(try await listing(slow.url, old) == 200)

        // 1. The current key becomes the previous one; vmp3-auth, restarted on its address,
        //    makes a new key, signs with it and publishes both.
        let address = String(auth.url.dropFirst("http://".count))
        auth.process.kill(SIGTERM)
        _ = try await auth.process.finish()
        let keyFile = deployment.data.appendingPathComponent("signing-key.pem")
        let previousFile = deployment.data.appendingPathComponent("signing-key.previous.pem")
        try FileManager.default.moveItem(at: keyFile, to: previousFile)
        var restarted = deployment.environment
        restarted["VMP3_HTTP_ADDRESS"] = address
        var rotated = try await ServiceProcess.start("vmp3-auth", environment: restarted)
        let login = ByteBuffer(string: #"{"email":"rotate@example.com","password":"a long passphrase"}"#)
        struct Token: Decodable { var access_token: String }
        let new = try JSONDecoder().decode(Token.self, from: Data(try await Self.send(.POST, slow.url + "/v1/auth/login", body: login).body.utf8)).access_token
        #expect(kid(new) != nil && kid(new) != kid(old), "the restarted auth service signs with a new key")
        let published = try PublicSigningKey.keys(fromJWKS: Data(try await Self.send(.GET, rotated.url + "/v1/auth/jwks").body.utf8)).map(\.keyID)
        #expect(published == [kid(new), kid(old)].compactMap { $0 }, "current key first, then the previous one")
        for base in [slow.url, fast] {
            #expect(try await listing(base, new) == 200, "the new key's token at \(base)")
            #expect(try await listing(base, old) == 200, "the old key's token at \(base), within its lifetime")
        }

        // 2. A token lifetime later the previous key is retired: deleted, and vmp3-auth restarted.
        rotated.process.kill(SIGTERM)
        _ = try await rotated.process.finish()
        try FileManager.default.removeItem(at: previousFile)
        rotated = try await ServiceProcess.start("vmp3-auth", environment: restarted)
        let retired = ContinuousClock.now
        var oldStatus = 200
        while oldStatus == 200, ContinuousClock.now - retired < .seconds(60) {
            try await Task.sleep(for: .milliseconds(250))
            oldStatus = try await listing(fast, old)
        }
        #expect(oldStatus == 401, "the retired key's token is refused once the gateway has refreshed")
        #expect(ContinuousClock.now - retired < .seconds(30), "within a few refresh intervals")
        #expect(try await listing(fast, new) == 200)
        // A gateway that has not refreshed yet still has the retired key: the procedure waits for
        // the tokens to expire, not for every gateway to notice.
        #expect(try await listing(slow.url, new) == 200)

        // Tokens naming keys nobody published are refused, and the auth service staying down
        // does not make the gateway forget the keys it has.
        let foreign = try await JWTTokenIssuer(signingKey: try SigningKey.generate()).issueToken(for: "rotate", email: nil).token
        #expect(try await listing(fast, foreign) == 401)
        rotated.process.kill(SIGTERM)
        _ = try await rotated.process.finish()
        try await Task.sleep(for: .seconds(5))
        #expect(try await listing(fast, new) == 200, "keys kept while the auth service is down")
        slow.process.kill(SIGTERM)
        _ = try await slow.process.finish()
        deployment.services["vmp3-auth"] = nil
        try await deployment.stopAll()

        deployment.environment["VMP3_JWKS_REFRESH_SECONDS"] = "0"
        try await deployment.expectRefusesToStart("vmp3-gateway", naming: "VMP3_JWKS_REFRESH_SECONDS")
    }

    @Test("throttles that hold in a deployment: two auth services on one Redis count each client together; the client is the hop trusted proxies vouch for; a forged X-Forwarded-For or a respelt address gets no fresh count")
    func throttlesAcrossProcessesAndProxies() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR"] = "3"
        try await deployment.start("vmp3-auth")
        let first = try #require(deployment.services["vmp3-auth"])
        let second = try await ServiceProcess.start("vmp3-auth", environment: deployment.environment)
        func post(_ base: String, _ path: String, _ email: String, password: String = "a long passphrase", forwardedFor: String? = nil) async throws -> Int {
            let body = try JSONSerialization.data(withJSONObject: ["email": email, "password": password])
            return try await Self.send(.POST, base + path, forwardedFor: forwardedFor, body: ByteBuffer(bytes: body)).status
        }

        // Each auth service trusts loopback (where the gateways run): X-Forwarded-For names the
        // client, and the two services share its count through Redis.
        var statuses: [Int] = []
        for (index, auth) in [first, second, first, second].enumerated() {
            statuses.append(try await post(auth.url, "/v1/auth/register", "client-a-\(index)@example.com", forwardedFor: "203.0.113.10"))
        }
        #expect(statuses == [201, 201, 201, 429], "three registrations an hour per client, over both services: \(statuses)")
        #expect(try await post(second.url, "/v1/auth/register", "client-b@example.com", forwardedFor: "203.0.113.11") == 201)

        // Wrong passwords per address and client, over both services, under any spelling of the
        // address: one client's count is spent, and the owner, at another client, still logs in.
        for attempt in 0..<10 {
            let spelling = ["client-b@example.com", "Client-B@Example.com\n", " CLIENT-B@example.com\t"][attempt % 3]
            let auth = attempt.isMultiple(of: 2) ? first : second
            #expect(try await post(auth.url, "/v1/auth/login", spelling, password: "not the passphrase", forwardedFor: "198.51.100.7") == 401)
        }
        #expect(try await post(first.url, "/v1/auth/login", "client-b@example.com\n", forwardedFor: "198.51.100.7") == 429, "that client's count is spent")
        #expect(try await post(second.url, "/v1/auth/login", "client-b@example.com", forwardedFor: "198.51.100.99") == 200, "no lock-out of the owner")

        // A gateway trusting only loopback: a client's own X-Forwarded-For names nobody, each
        // forged value lands in the count of the real connection (127.0.0.1 here).
        deployment.environment["VMP3_AUTH_URL"] = first.url
        deployment.environment["VMP3_TRUSTED_PROXIES"] = "none"
        try await deployment.start("vmp3-gateway")
        let gateway = try #require(deployment.services["vmp3-gateway"]).url
        statuses = []
        for index in 0..<4 {
            statuses.append(try await post(gateway, "/v1/auth/register", "forged-\(index)@example.com", forwardedFor: "192.0.2.\(index)"))
        }
        #expect(statuses == [201, 201, 201, 429], "forged X-Forwarded-For values share the connection's count: \(statuses)")

        // Behind a trusted proxy (the test's own requests, from loopback, play it) the gateway
        // takes the rightmost hop the proxy appended, not what the client wrote to its left.
        let behindProxy = try await ServiceProcess.start("vmp3-gateway", environment: deployment.environment.merging(["VMP3_TRUSTED_PROXIES": "127.0.0.1"]) { $1 })
        #expect(try await post(behindProxy.url, "/v1/auth/register", "proxied-1@example.com", forwardedFor: "192.0.2.200, 203.0.113.50") == 201)
        #expect(try await post(behindProxy.url, "/v1/auth/register", "proxied-2@example.com", forwardedFor: "192.0.2.201, 203.0.113.50") == 201)
        #expect(try await post(behindProxy.url, "/v1/auth/register", "proxied-3@example.com", forwardedFor: "192.0.2.202, 203.0.113.50") == 201)
        #expect(try await post(behindProxy.url, "/v1/auth/register", "proxied-4@example.com", forwardedFor: "192.0.2.203, 203.0.113.50") == 429)
        #expect(try await post(behindProxy.url, "/v1/auth/register", "proxied-5@example.com", forwardedFor: "203.0.113.51") == 201, "another client")

        behindProxy.process.kill(SIGTERM)
        second.process.kill(SIGTERM)
        _ = try await behindProxy.process.finish()
        _ = try await second.process.finish()
        try await deployment.stopAll()
        deployment.environment["VMP3_TRUSTED_PROXIES"] = "10.0.0.0/33"
        try await deployment.expectRefusesToStart("vmp3-auth", naming: "VMP3_TRUSTED_PROXIES")
    }
}
