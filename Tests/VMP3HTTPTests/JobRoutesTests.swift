import AsyncHTTPClient
import NIOHTTP1
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
import VMP3Auth
@testable import VMP3HTTP
import VMP3Kit
import VMP3TestSupport

private func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var fields = lhs
    fields.append(contentsOf: rhs)
    return fields
}

@Suite struct JobRoutesTests {
    static func auth(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    static func document(_ buffer: ByteBuffer) throws -> JobDocument {
        try JobDocument.makeDecoder().decode(JobDocument.self, from: Data(buffer: buffer))
    }

    @Test("upload a real clip, follow its events to succeeded, download the MP3 under the upload's name")
    func uploadFollowDownload() async throws {
        let clip = try await Clip.bytes()
        try await TestGateway().run { client in
            let token = try await client.token(for: "ann@example.com")
            let job = try await client.execute(
                uri: "/v1/jobs?bitrate=128&title=Sea%20Song&channels=1&cover=none", method: .post,
                headers: Self.auth(token) + [.contentDisposition: "attachment; filename=\"sea.mp4\""], body: clip
            ) { (response: TestResponse) async throws in
                #expect(response.status == .accepted)
                let job = try Self.document(response.body)
                #expect(response.headers[.location] == "/v1/jobs/\(job.id.rawValue)")
                #expect(job.options.bitrate == 128 && job.options.channels == 1 && job.sourceName == "sea.mp4" && job.options.cover == "none")
                #expect(job.sourceSize == Int64(clip.readableBytes))
                return job
            }
            let events = try await client.execute(uri: "/v1/jobs/\(job.id.rawValue)/events", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                #expect(response.status == .ok && response.headers[.contentType] == "text/event-stream")
                return String(buffer: response.body)
            }
            // Blocks without data (the `retry:` hint, heartbeats) are not events.
            let documents = try events.components(separatedBy: "\n\n").filter { $0.contains("data: ") }.map { block in
                let data = try #require(block.split(separator: "\n").first { $0.hasPrefix("data: ") }?.dropFirst(6))
                return try JobDocument.makeDecoder().decode(JobDocument.self, from: Data(data.utf8))
            }
            #expect(documents.last?.status == .succeeded, "events: \(events)")
            #expect(documents.allSatisfy { $0.id == job.id })

            try await client.execute(uri: "/v1/jobs/\(job.id.rawValue)", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                let current = try Self.document(response.body)
                #expect(current.status == .succeeded && current.output?.channels == 1 && current.output?.bitrate == 128)
                #expect(abs((current.output?.duration ?? 0) - 2) < 0.1)
            }
            try await client.execute(uri: "/v1/jobs/\(job.id.rawValue)/download", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                #expect(response.status == .ok && response.headers[.contentType] == "audio/mpeg")
                #expect(response.headers[.contentDisposition] == "attachment; filename=\"sea.mp3\"")
                let bytes = Array(buffer: response.body)
                #expect(bytes.count > 10_000 && Array(bytes.prefix(3)) == Array("ID3".utf8))
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                struct List: Decodable { var jobs: [JobDocument] }
                #expect(try JobDocument.makeDecoder().decode(List.self, from: Data(buffer: response.body)).jobs.map(\.id) == [job.id])
            }
        }
    }

    @Test("no token, a malformed, tampered, expired, foreign or alg:none token: 401")
    func badTokens() async throws {
        let gateway = try await TestGateway()
        let expired = try await JWTTokenIssuer(signingKey: gateway.signingKey, settings: TokenSettings(lifetime: .seconds(-300)))
            .issueToken(for: "someone", email: nil).token
        let foreign = try await JWTTokenIssuer(signingKey: try SigningKey.generate()).issueToken(for: "someone", email: nil).token
        try await gateway.run { client in
            let good = try await client.token(for: "eve@example.com")
            let parts = good.split(separator: ".").map(String.init)
            let tampered = parts[0] + "." + parts[1] + "." + String(parts[2].reversed())
            let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            let unsigned = none + "." + parts[1] + "."
            try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.auth(good)) { #expect($0.status == .ok) }
            var cases: [HTTPFields] = [[:], [.authorization: "Basic abc"], [.authorization: "Bearer"]]
            cases += ["not.a.token", tampered, expired, foreign, unsigned].map { Self.auth($0) }
            for headers in cases {
                try await client.execute(uri: "/v1/jobs", method: .get, headers: headers) { (response: TestResponse) async throws in
                    #expect(response.status == .unauthorized, "\(headers)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                }
            }
        }
    }

    @Test("another user's job, events and download are 404, as is a job that does not exist")
    func ownership() async throws {
        let clip = try await Clip.bytes()
        try await TestGateway().run { client in
            let ann = try await client.token(for: "ann@example.com")
            let bob = try await client.token(for: "bob@example.com")
            let id = try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(ann), body: clip) { try Self.document($0.body).id }
            for path in ["", "/events", "/download"] {
                try await client.execute(uri: "/v1/jobs/\(id.rawValue)\(path)", method: .get, headers: Self.auth(bob)) { #expect($0.status == .notFound, "\(path)") }
            }
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .delete, headers: Self.auth(bob)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/jobs/\(JobID().rawValue)", method: .get, headers: Self.auth(ann)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/jobs/not-a-uuid", method: .get, headers: Self.auth(ann)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .get, headers: Self.auth(ann)) { #expect($0.status == .ok) }
        }
    }

    @Test("an upload over the limit is 413 with nothing stored; bad options, webhooks to internal addresses among them, are 422 with nothing stored")
    func refusedUploads() async throws {
        let gateway = try await TestGateway(jobs: JobRoutes.Configuration(maxUploadBytes: 1000))
        try await gateway.run { client in
            let token = try await client.token(for: "ann@example.com")
            try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(token), body: ByteBuffer(repeating: 7, count: 5000)) { (response: TestResponse) async throws in
                #expect(response.status == .contentTooLarge)
                #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "upload_too_large")
            }
            let internalHooks = ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:10.0.0.1]/", "http://10.0.0.7/"]
            for query in ["bitrate=1000", "bitrate=128&quality=2", "channels=3", "start=soon", "webhook_url=ftp://x/y", "sample_rate=12345", "cover=%2Fetc%2Fpasswd", "cover=yes", "cover=at:soon", "cover=at:-5", "cover=at:999999", "loudness=-3", "loudness=loud"]
                + internalHooks.map({ "webhook_url=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) }) {
                try await client.execute(uri: "/v1/jobs?\(query)", method: .post, headers: Self.auth(token), body: ByteBuffer(repeating: 7, count: 10)) { (response: TestResponse) async throws in
                    #expect(response.status == .unprocessableContent, "\(query)")
                    #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "invalid_option")
                }
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                #expect(String(buffer: response.body).contains(#""jobs":[]"#))
            }
        }
        let stored = gateway.storedFiles()
        #expect(stored.isEmpty, "\(stored)")
    }

    @Test("a chunked upload (no Content-Length) is cut off with 413 once it passes the limit, nothing stored")
    func chunkedUploadOverLimit() async throws {
        let gateway = try await TestGateway(jobs: JobRoutes.Configuration(maxUploadBytes: 100_000))
        let file = try makeScratchDirectory().appendingPathComponent("big.bin")
        try Data(repeating: 9, count: 1_000_000).write(to: file)
        try await gateway.run { client in
            let token = try await client.token(for: "ann@example.com")
            let port = try #require(client.port)
            let output = try await ExternalTool.run("curl", [
                "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)", "http://127.0.0.1:\(port)/v1/jobs",
            ])
            #expect(output.text == "413", "curl: \(output.text) \(output.stderr)")
        }
        let stored = gateway.storedFiles()
        #expect(stored.isEmpty, "\(stored)")
    }

    @Test("the storage quota: an upload that would go over it is 413 quota_exceeded (declared or chunked) with nothing stored; a kept MP3 counts; deleting a job frees its bytes")
    func storageQuota() async throws {
        let clip = try await Clip.bytes()
        let quota = Int64(clip.readableBytes) + 1000
        let gateway = try await TestGateway(jobs: JobRoutes.Configuration(storageQuotaBytes: quota))
        let big = try makeScratchDirectory().appendingPathComponent("big.bin")
        try Data(repeating: 9, count: Int(quota) + 1).write(to: big)
        try await gateway.run { client in
            let token = try await client.token(for: "ann@example.com")
            func upload(_ body: ByteBuffer) async throws -> (status: HTTPResponse.Status, code: String?, id: JobID?) {
                try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(token), body: body) { (response: TestResponse) async throws in
                    let code = response.status == .accepted ? nil : try JSONDecoder().decode(ProblemDetails.self, from: response.body).code
                    return (response.status, code, response.status == .accepted ? try Self.document(response.body).id : nil)
                }
            }
            // Bigger than the whole quota, declared, then streamed without a length.
            let declared = try await upload(ByteBuffer(bytes: try Data(contentsOf: big)))
            #expect(declared.status == .contentTooLarge && declared.code == "quota_exceeded")
            let port = try #require(client.port)
            let chunked = try await ExternalTool.run("curl", [
                "-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(big.path)", "http://127.0.0.1:\(port)/v1/jobs",
            ])
            #expect(chunked.text.hasSuffix("413") && chunked.text.contains("quota_exceeded"), "curl: \(chunked.text) \(chunked.stderr)")
            #expect(gateway.storedFiles().filter { $0.contains("sources.d/") && !$0.hasSuffix(".json") }.isEmpty)

            // The clip fits; once converted, its MP3 is kept and counts, so the same clip no longer fits.
            let first = try await upload(clip)
            let id = try #require(first.id, "\(first)")
            let events = try await client.execute(uri: "/v1/jobs/\(id.rawValue)/events", method: .get, headers: Self.auth(token)) { String(buffer: $0.body) }
            #expect(events.contains(#""status":"succeeded""#))
            let second = try await upload(clip)
            #expect(second.status == .contentTooLarge && second.code == "quota_exceeded", "\(second)")

            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .delete, headers: Self.auth(token)) { (response: TestResponse) async throws in
                #expect(response.status == .noContent)
            }
            #expect(try await upload(clip).status == .accepted)
        }
    }

    @Test("the bytes a user's jobs hold: uploads of jobs not yet ended and the MP3s kept, no one else's")
    func bytesHeld() async throws {
        let store = InMemoryJobStore()
        let service = JobService(storage: try FileObjectStore(root: try makeScratchDirectory()), queue: InMemoryMessageQueue<JobMessage>(), store: store)
        func job(_ owner: UserID, size: Int64) -> Job { Job(owner: owner, source: Job.sourceKey(for: JobID()), sourceSize: size) }
        try await store.create(job("ann", size: 100), idempotencyKey: nil)
        let running = try await store.create(job("ann", size: 200), idempotencyKey: nil).job
        _ = try await store.claim(running.id, holder: "w", leaseDuration: .seconds(60))
        let done = try await store.create(job("ann", size: 400), idempotencyKey: nil).job
        _ = try await store.claim(done.id, holder: "w", leaseDuration: .seconds(60))
        var output = JobOutput(key: done.outputKey, result: ConversionResult(
            output: URL(fileURLWithPath: "/tmp/x.mp3"), duration: 3, byteCount: 30, sampleRate: 44_100, channels: .stereo,
            encoding: .variableBitRate(quality: 2), tags: AudioTags(), sourceStreamIndex: 1, sourceCodec: "aac", elapsed: 0.1
        ))
        output.byteCount = 30
        try await store.succeed(done.id, holder: "w", output: output)
        try await store.cancel(try await store.create(job("ann", size: 800), idempotencyKey: nil).job.id)
        try await store.create(job("bob", size: 1600), idempotencyKey: nil)
        for _ in 0..<150 { try await store.create(job("cy", size: 1), idempotencyKey: nil) }
        #expect(try await service.bytesHeld(by: "ann") == 100 + 200 + 30)
        #expect(try await service.bytesHeld(by: "cy") == 150)
        #expect(try await service.bytesHeld(by: "nobody") == 0)
    }

    /// A user's token and a job of theirs, the test clip uploaded: on a gateway run without a
    /// worker (`converting: false`), it stays queued.
    static func queuedJob(of user: String, on client: any TestClientProtocol) async throws -> (token: String, id: JobID) {
        let token = try await client.token(for: "\(user)@example.com")
        let id = try await client.execute(uri: "/v1/jobs", method: .post, headers: auth(token), body: try await Clip.bytes()) { (response: TestResponse) async throws in
            try document(response.body).id
        }
        return (token, id)
    }

    @Test("an event stream starts with `retry:` and the job's state (with its version as `id:`), and ends after its lifetime")
    func eventStreamLifetime() async throws {
        var configuration = JobRoutes.Configuration()
        configuration.eventStreamLifetime = .milliseconds(1500)
        let gateway = try await TestGateway(jobs: configuration)
        try await gateway.run(converting: false) { client in
            let (token, id) = try await Self.queuedJob(of: "ann", on: client)
            let started = ContinuousClock.now
            let stream = try await client.execute(uri: "/v1/jobs/\(id.rawValue)/events", method: .get, headers: Self.auth(token)) { String(buffer: $0.body) }
            let took = ContinuousClock.now - started
            // Version 2: the record, then its message marked published.
            #expect(stream.hasPrefix("retry: 2000\n\nid: 2\nevent: status\ndata: {"), "\(stream.prefix(300))")
            #expect(stream.contains(#""status":"queued""#))
            #expect(took >= .milliseconds(1400) && took < .seconds(20), "the stream lasted \(took)")
        }
    }

    /// Read as it arrives, until the third heartbeat: how many a fixed lifetime holds depends on
    /// how often the test process's few cooperative threads are free (a loaded 2-core CI run once
    /// fitted only 2 of a possible 30 into 3 s), so the lifetime here is long and the count is
    /// what the test waits for, not what it counts at the end. What ends the stream then is the
    /// job ending, not a clock.
    @Test("an event stream sends heartbeats while nothing happens, and ends when its job ends (cancelled by DELETE)")
    func eventStreamHeartbeats() async throws {
        var configuration = JobRoutes.Configuration()
        configuration.eventStreamHeartbeat = .milliseconds(100)
        configuration.eventStreamLifetime = .seconds(600)
        let gateway = try await TestGateway(jobs: configuration)
        try await gateway.run(converting: false) { client in
            let (token, id) = try await Self.queuedJob(of: "ann", on: client)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(try #require(client.port))/v1/jobs/\(id.rawValue)/events")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            // The stream's lifetime is ten minutes: ended sooner, it ended for its job.
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
            #expect(response.status == .ok)
            var text = ""
            var deleted = false
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if !deleted, text.components(separatedBy: ": keep-alive\n\n").count - 1 >= 3 {
                    deleted = true
                    try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .delete, headers: Self.auth(token)) { #expect($0.status == .accepted) }
                }
            }
            #expect(deleted, "the stream ended before its third heartbeat: \(text)")
            #expect(text.contains(#""status":"cancelled""#), "\(text.suffix(400))")
            #expect(text.hasPrefix("retry: 2000\n\nid: 2\nevent: status\ndata: {"), "\(text.prefix(300))")
        }
    }

    @Test("event streams are capped per user and in total (429 too_many_event_streams); a stream that ends gives its place back")
    func eventStreamCaps() async throws {
        var configuration = JobRoutes.Configuration()
        configuration.eventStreamLifetime = .seconds(3)
        configuration.maxEventStreamsPerUser = 2
        configuration.maxEventStreams = 3
        let gateway = try await TestGateway(jobs: configuration)
        try await gateway.run(converting: false) { client in
            let port = try #require(client.port)
            let base = "http://127.0.0.1:\(port)"
            var madeTokens: [String: String] = [:]
            var madeJobs: [String: JobID] = [:]
            for user in ["ann", "bob", "cy"] {
                (madeTokens[user], madeJobs[user]) = try await Self.queuedJob(of: user, on: client)
            }
            // Opens a stream and returns its status once the head is in (the place is taken by then).
            let (tokens, jobs) = (madeTokens, madeJobs)
            func open(_ user: String) async throws -> (status: Int, body: HTTPClientResponse.Body, headers: HTTPHeaders) {
                var request = HTTPClientRequest(url: "\(base)/v1/jobs/\(jobs[user]!.rawValue)/events")
                request.headers.add(name: "Authorization", value: "Bearer \(tokens[user]!)")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                return (Int(response.status.code), response.body, response.headers)
            }
            let first = try await open("ann"), second = try await open("ann")
            #expect(first.status == 200 && second.status == 200)
            let third = try await open("ann")
            #expect(third.status == 429 && third.headers.first(name: "Retry-After") != nil)
            #expect(String(buffer: try await third.body.collect(upTo: 1 << 16)).contains("too_many_event_streams"))
            let bob = try await open("bob")
            #expect(bob.status == 200, "another user has places of their own")
            let cy = try await open("cy")
            #expect(cy.status == 429, "the server's three places are taken")
            _ = try await cy.body.collect(upTo: 1 << 16)
            // The streams end after their lifetime; then their places are free again.
            for stream in [first, second, bob] { _ = try await stream.body.collect(upTo: 1 << 20) }
            let again = try await open("cy")
            #expect(again.status == 200)
            _ = try await again.body.collect(upTo: 1 << 20)
        }
    }

    @Test("a file that is not a video: the job fails with a typed reason, and the gateway keeps serving")
    func notAVideo() async throws {
        try await TestGateway().run { client in
            let token = try await client.token(for: "ann@example.com")
            let id = try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(token), body: ByteBuffer(string: String(repeating: "hello ", count: 500))) { (response: TestResponse) async throws in
                #expect(response.status == .accepted)
                return try Self.document(response.body).id
            }
            let events = try await client.execute(uri: "/v1/jobs/\(id.rawValue)/events", method: .get, headers: Self.auth(token)) { String(buffer: $0.body) }
            #expect(events.contains(#""status":"failed""#))
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .get, headers: Self.auth(token)) { (response: TestResponse) async throws in
                let job = try Self.document(response.body)
                #expect(job.status == .failed && job.failure?.code == "not_media_file")
                #expect(job.failure?.message.hasPrefix("the upload ") == true, "\(job.failure?.message ?? "")")
            }
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)/download", method: .get, headers: Self.auth(token)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .delete, headers: Self.auth(token)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/jobs/\(id.rawValue)", method: .get, headers: Self.auth(token)) { #expect($0.status == .notFound) }
        }
    }

    @Test("names and Idempotency-Keys are bounded in bytes after NFC: combining marks make no long name; decomposed and composed keys are one key")
    func boundedNames() async throws {
        let clip = try await Clip.bytes()
        try await TestGateway().run { client in
            let token = try await client.token(for: "ann@example.com")
            // A thousand combining marks on one letter, and on the one letter of its extension: a
            // name of 31 characters and 4 KB (the bound counted characters once).
            let marks = String(repeating: "\u{301}", count: 1_000)
            let name = "a\(marks).m\(marks)"
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let job = try await client.execute(uri: "/v1/jobs?filename=\(encoded)", method: .post, headers: Self.auth(token), body: clip) {
                (response: TestResponse) async throws in
                #expect(response.status == .accepted)
                return try Self.document(response.body)
            }
            #expect(job.sourceName == nil || job.sourceName!.utf8.count <= SourceFileName.maxBytes, "\(job.sourceName?.utf8.count ?? 0) bytes")
            // A decomposed name is kept composed: "é" (e + U+0301) is the two bytes of U+00E9.
            let decomposed = try await client.execute(
                uri: "/v1/jobs?filename=caf\("e\u{301}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!).mp4", method: .post,
                headers: Self.auth(token), body: clip
            ) { try Self.document($0.body) }
            #expect(decomposed.sourceName == "caf\u{e9}.mp4" && decomposed.sourceName?.utf8.count == 9)
            // A key of combining marks is cut to 200 bytes; the same key composed or decomposed is one key.
            var headers = Self.auth(token)
            headers[HTTPField.Name("Idempotency-Key")!] = "k\u{e9}y-" + String(repeating: "x", count: 500)
            let composedKey = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: clip) { try Self.document($0.body).id }
            headers[HTTPField.Name("Idempotency-Key")!] = "ke\u{301}y-" + String(repeating: "x", count: 500)
            let decomposedKey = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: clip) { try Self.document($0.body).id }
            #expect(composedKey == decomposedKey)
        }
        #expect(JobRoutes.idempotencyKey("k" + String(repeating: "\u{301}", count: 10_000)) == nil, "one character past the bound: no key")
        #expect(JobRoutes.idempotencyKey(String(repeating: "\u{e9}", count: 150))?.utf8.count == 200)
    }

    @Test("the same Idempotency-Key returns the same job; uploads past the user's rate are 429 with Retry-After")
    func idempotencyAndRateLimit() async throws {
        let clip = try await Clip.bytes()
        try await TestGateway(jobs: JobRoutes.Configuration(uploadsPerMinute: 2)).run { client in
            let token = try await client.token(for: "ann@example.com")
            var headers = Self.auth(token)
            headers[HTTPField.Name("Idempotency-Key")!] = "upload-1"
            let first = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: clip) { try Self.document($0.body).id }
            let second = try await client.execute(uri: "/v1/jobs", method: .post, headers: headers, body: clip) { try Self.document($0.body).id }
            #expect(first == second)
            try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(token), body: clip) { (response: TestResponse) async throws in
                #expect(response.status == .tooManyRequests)
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            // The rate limit comes before the webhook's check (a name lookup): past it, even a
            // webhook the gateway would refuse is a 429.
            try await client.execute(
                uri: "/v1/jobs?webhook_url=http%3A%2F%2F169.254.169.254%2Fhook", method: .post, headers: Self.auth(token), body: clip
            ) { #expect($0.status == .tooManyRequests) }
            // Another user has a rate of their own.
            let bob = try await client.token(for: "bob@example.com")
            try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.auth(bob), body: clip) { #expect($0.status == .accepted) }
        }
    }
}
