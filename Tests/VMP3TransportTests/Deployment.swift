import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// A service executable started as a process, and the address it printed.
struct ServiceProcess {
    let process: ExternalTool.Running
    let url: String

    /// Starts the built executable `name` with `environment` and waits (up to a minute) for its
    /// `listening on http://…` line.
    static func start(_ name: String, environment: [String: String]) async throws -> ServiceProcess {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let process = try await ExternalTool.start("/usr/bin/env", assignments + [builtExecutable(name)])
        if let url = try await process.waitForOutput(/listening on (http:\/\/[0-9.]+:[0-9]+)/, timeout: .seconds(60)) {
            return ServiceProcess(process: process, url: url)
        }
        process.kill(SIGKILL)
        let output = try await process.finish()
        throw ExternalTool.Failure(description: "\(name) did not start: \(output.stderr)")
    }
}

/// The four services on a fresh prefix of the shared servers (bucket, queues and keys of their
/// own), with a webhook receiver.
struct Deployment {
    var environment: [String: String]
    var services: [String: ServiceProcess] = [:]
    let receiver: HTTPTestReceiver
    let data: URL
    let name: String

    static func make() async throws -> Deployment {
        let name = "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        let data = try makeScratchDirectory()
        let storage = "s3://\(name)?endpoint=\(try TestServices.s3Endpoint.absoluteString)&region=us-east-1"
        try await S3ObjectStore(configuration: try S3Configuration(url: URL(string: storage)!), credentials: S3ObjectStoreTests.credentials).createBucketIfNeeded()
        let environment = [
            "VMP3_STORAGE": storage, "AWS_ACCESS_KEY_ID": "vmp3-test", "AWS_SECRET_ACCESS_KEY": "vmp3-test-secret",
            "VMP3_QUEUE": "\(try TestServices.amqp.absoluteString)?prefix=\(name).",
            "VMP3_STORE": "\(try TestServices.redis.absoluteString)?prefix=\(name):",
            "VMP3_DATA_DIR": data.path, "VMP3_HTTP_ADDRESS": "127.0.0.1:0", "VMP3_LOG_LEVEL": "info",
            "VMP3_WEBHOOK_SECRET": "e2e-webhook-secret-\(name)", "VMP3_CONCURRENCY": "1", "VMP3_LEASE_SECONDS": "4",
            // The receiver listens on loopback, which webhooks may not reach by default.
            "VMP3_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "VMP3_PASSWORD_HASH_COST": testPasswordHashCost,
            // Every test user registers from 127.0.0.1; the throttle has tests of its own.
            "VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR": "10000",
            // The test users' addresses, which notify_email may mail.
            "VMP3_EMAIL_ALLOWED_RECIPIENTS": "@example.com",
            // The tests upload the same clip again and again to see it converted: the cache has
            // tests of its own (ConversionCacheEndToEndTests).
            "VMP3_CONVERSION_CACHE": "off",
        ]
        return Deployment(environment: environment, receiver: try await HTTPTestReceiver.start(), data: data, name: name)
    }

    /// The bucket's name.
    var bucket: String { name }

    mutating func start(_ service: String) async throws {
        services[service] = try await ServiceProcess.start(service, environment: environment)
    }

    /// Starts `vmp3-auth`, then the other `services` pointed at it.
    mutating func start(withAuth services: [String]) async throws {
        try await start("vmp3-auth")
        environment["VMP3_AUTH_URL"] = try #require(self.services["vmp3-auth"]).url
        for service in services { try await start(service) }
    }

    /// Runs `script` with `$BASE` (the gateway) and `$TOKEN` (a fresh user's) set.
    func run(_ script: String, user: String = "fault@example.com") async throws -> ExternalTool.Output {
        let login = #"-H 'Content-Type: application/json' -d '{"email":"\#(user)","password":"a long passphrase"}'"#
        let base = try #require(services["vmp3-gateway"]).url
        return try await ExternalTool.run("/bin/bash", ["-c", """
        set -e
        cd '\(data.path)'
        BASE=\(base)
        curl -s $BASE/v1/auth/register \(login) > /dev/null
        TOKEN=$(curl -sf $BASE/v1/auth/login \(login) | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
        \(script)
        """])
    }

    /// Registers `user` (if new) and logs in: the bearer token and the user's id (its `sub`).
    func signIn(_ user: String = "fault@example.com") async throws -> (token: String, userID: UserID) {
        let output = try await run("echo \"TOKEN=$TOKEN\"", user: user)
        let token = try #require(output.text.firstMatch(of: /TOKEN=([A-Za-z0-9._-]+)/).map { String($0.1) }, "\(output.text) \(output.stderr)")
        let payload = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let padded = payload + String(repeating: "=", count: (4 - payload.count % 4) % 4)
        let claims = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: padded))) as? [String: Any]
        return (token, UserID(rawValue: try #require(claims?["sub"] as? String)))
    }

    /// Every job of the token's user, by id: its status (empty when the gateway cannot answer).
    func statuses(token: String) async throws -> [String: String] {
        let base = try #require(services["vmp3-gateway"]).url
        let run = try await ExternalTool.run("curl", ["-sf", "--max-time", "10", "\(base)/v1/jobs?limit=100", "-H", "Authorization: Bearer \(token)"])
        guard run.status == 0, let list = try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any] else { return [:] }
        let jobs = list["jobs"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: jobs.compactMap { job in (job["id"] as? String).map { ($0, job["status"] as? String ?? "") } })
    }

    /// Waits (up to `timeout`) until `condition` holds for ``statuses(token:)``.
    @discardableResult
    func waitForStatuses(token: String, _ what: String, timeout: Duration = .seconds(180), until condition: ([String: String]) -> Bool) async throws -> [String: String] {
        // Asked once more at the deadline: one sleep on a starved machine can outlast the timeout.
        let deadline = ContinuousClock.now + timeout
        while true {
            let statuses = try await statuses(token: token)
            if condition(statuses) { return statuses }
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what): \(statuses)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A short video made in the data directory (``TestClip``).
    func makeClip(_ name: String = "clip.mp4", seconds: Int = 2) async throws -> URL {
        try await TestClip.make(at: data.appendingPathComponent(name), seconds: seconds)
    }

    /// Uploads ten minutes of audio (a few seconds of conversion: time enough to stop a
    /// converter mid-job), with the receiver as its webhook, and returns its id once it runs.
    func uploadLongJobAndWaitUntilRunning() async throws -> String {
        let audio = data.appendingPathComponent("long.m4a")
        if !FileManager.default.fileExists(atPath: audio.path) {
            try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=600", "-c:a", "aac", "-b:a", "96k", audio.path])
        }
        let upload = try await run("""
        JOB=$(curl -sf "$BASE/v1/jobs?webhook_url=\(receiver.url.absoluteString)" -H "Authorization: Bearer $TOKEN" --data-binary @long.m4a | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        echo "JOB=$JOB"
        for i in $(seq 1 400); do
          curl -sf $BASE/v1/jobs/$JOB -H "Authorization: Bearer $TOKEN" | grep -q '"status":"running"' && break
          sleep 0.05
        done
        """)
        let id = try #require(upload.text.firstMatch(of: /JOB=([0-9a-f-]{36})/).map { String($0.1) }, "\(upload.text) \(upload.stderr)")
        try await Task.sleep(for: .milliseconds(300))
        return id
    }

    /// The job as the gateway shows it now (`follow: true`: its events until it ends, the last
    /// 2000 bytes of them).
    func job(_ id: String, follow: Bool = false) async throws -> String {
        let output = try await run(follow
            ? "curl -sf -N --max-time 120 $BASE/v1/jobs/\(id)/events -H \"Authorization: Bearer $TOKEN\" | tail -c 2000"
            : "curl -sf $BASE/v1/jobs/\(id) -H \"Authorization: Bearer $TOKEN\"")
        return output.text + output.stderr
    }

    /// The size of the job's MP3 in the bucket.
    func outputSize(of id: String) async throws -> Int64 {
        let store = S3ObjectStore(configuration: try S3Configuration(url: URL(string: try #require(environment["VMP3_STORAGE"]))!), credentials: S3ObjectStoreTests.credentials)
        return try await store.head(try ObjectKey("outputs/\(id).mp3")).size
    }

    /// The keys of every object in the deployment's bucket (listed with boto3, which the S3
    /// server's Python package brings).
    func storedObjects() async throws -> [String] {
        let output = try await ExternalTool.run("python3", ["-c", """
        import boto3, sys
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                          aws_access_key_id="vmp3-test", aws_secret_access_key="vmp3-test-secret")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
            for item in page.get("Contents", []): print(item["Key"])
        """, try TestServices.s3Endpoint.absoluteString, bucket])
        guard output.status == 0 else { throw ExternalTool.Failure(description: "listing the bucket failed: \(output.stderr)") }
        return output.text.split(separator: "\n").map(String.init)
    }

    /// Runs `service` with this environment and expects it not to start: a non-zero exit and
    /// one line on standard error naming `variable`, no crash report.
    func expectRefusesToStart(_ service: String, naming variable: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let run = try await ExternalTool.run("/usr/bin/env", assignments + [builtExecutable(service)])
        #expect(run.status != 0 && run.stderr.contains(variable) && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)", sourceLocation: sourceLocation)
    }

    func stopAll() async throws {
        for service in services.values { service.process.kill(SIGTERM) }
        for service in services.values { _ = try await service.process.finish() }
        try await receiver.stop()
    }
}
