import Foundation
import Testing
import VMP3TestSupport

/// `vmp3 serve` stopped in the middle of a batch of jobs — killed with SIGKILL, then stopped with
/// SIGTERM — and started again on the same data directory: nothing is lost, nothing converted
/// into a second output, nothing left behind.
@Suite(.serialized) struct ServeRestartTests {
    /// A user of a running `vmp3 serve`, through curl.
    struct Client {
        var base: String
        var token: String

        static func signUp(_ server: RunningServe) async throws -> Client {
            let credentials = #"{"email":"restart@example.com","password":"a long passphrase"}"#
            _ = try await ExternalTool.run("curl", ["-sf", "\(server.url)/v1/auth/register", "-H", "Content-Type: application/json", "-d", credentials])
            let login = try await ExternalTool.run("curl", ["-sf", "\(server.url)/v1/auth/login", "-H", "Content-Type: application/json", "-d", credentials])
            let token = try #require(login.text.firstMatch(of: /"access_token":"([^"]+)"/).map { String($0.1) }, "\(login.text)")
            return Client(base: server.url, token: token)
        }

        func upload(_ file: URL) async throws -> String {
            let run = try await ExternalTool.run("curl", ["-sf", "\(base)/v1/jobs?bitrate=128", "-H", "Authorization: Bearer \(token)", "--data-binary", "@\(file.path)"])
            return try #require(run.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) }, "upload: \(run.text) \(run.stderr)")
        }

        /// Every job's status, by id.
        func statuses() async throws -> [String: String] {
            let run = try await ExternalTool.run("curl", ["-sf", "\(base)/v1/jobs?limit=100", "-H", "Authorization: Bearer \(token)"])
            guard run.status == 0 else { return [:] }
            let list = try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
            let jobs = list?["jobs"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: jobs.compactMap { job in
                (job["id"] as? String).map { ($0, job["status"] as? String ?? "") }
            })
        }

        /// Waits (up to `timeout`) until `condition` holds for the statuses.
        func wait(_ what: String, timeout: Duration = .seconds(180), until condition: ([String: String]) -> Bool) async throws -> [String: String] {
            // Asked once more at the deadline: one sleep on a starved machine can outlast the timeout.
            let deadline = ContinuousClock.now + timeout
            while true {
                let statuses = try await statuses()
                if condition(statuses) { return statuses }
                guard ContinuousClock.now < deadline else {
                    Issue.record("timed out waiting for \(what): \(statuses)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    @Test("SIGKILL, then SIGTERM (which returns within 5 s), in the middle of 20 jobs: after each restart every job reaches succeeded, with exactly one MP3 each, and the uploads and temporary files are gone")
    func restartsLoseNothing() async throws {
        var server = try await RunningServe.start()
        let directory = server.directory
        // A minute and a half of audio: long enough to be caught running, short enough for 20.
        let audio = directory.appendingPathComponent("talk.m4a")
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=90", "-c:a", "aac", "-b:a", "64k", audio.path])
        var client = try await Client.signUp(server)
        var ids: [String] = []
        for _ in 1...20 { ids.append(try await client.upload(audio)) }

        func counts(_ statuses: [String: String]) -> (done: Int, running: Int) {
            (statuses.values.filter { $0 == "succeeded" }.count, statuses.values.filter { $0 == "running" }.count)
        }

        // Killed with some done, one running and the rest queued.
        _ = try await client.wait("a few jobs done and one running") { counts($0).done >= 3 && counts($0).running == 1 }
        server.process.kill(SIGKILL)
        #expect(try await server.process.finish().status == 128 + SIGKILL)

        server = try await RunningServe.start(in: directory)
        client.base = server.url  // a new port; the same account and token
        let afterKill = try await client.statuses()
        #expect(Set(afterKill.keys) == Set(ids), "jobs lost in the kill: \(afterKill.count) of 20")

        // Stopped gracefully with more done and one running: it returns quickly.
        _ = try await client.wait("more jobs done and one running") { counts($0).done >= 8 && counts($0).running == 1 }
        let stopping = ContinuousClock.now
        let stopped = try await server.stop()
        let took = ContinuousClock.now - stopping
        #expect(stopped.status == 0, "\(stopped.stderrTail)")
        #expect(took < .seconds(5), "SIGTERM took \(took)")

        server = try await RunningServe.start(in: directory)
        client.base = server.url
        let final = try await client.wait("every job to end") { statuses in
            statuses.count == 20 && statuses.values.allSatisfy { ["succeeded", "failed", "cancelled"].contains($0) }
        }
        #expect(final.values.allSatisfy { $0 == "succeeded" }, "\(final)")
        #expect(Set(final.keys) == Set(ids))

        // One MP3 per job in the store, no upload kept, no temporary folder left.
        let objects = directory.appendingPathComponent("data/objects/objects")
        let outputs = directoryContents(objects.appendingPathComponent("outputs.d")).filter { $0.hasSuffix(".mp3.o") }
        #expect(Set(outputs) == Set(ids.map { "\($0).mp3.o" }), "\(outputs)")
        #expect(directoryContents(objects.appendingPathComponent("sources.d")).isEmpty)
        #expect(directoryContents(directory.appendingPathComponent("data/work")).filter { $0.hasPrefix("vmp3-job-") }.isEmpty)
        let mp3 = directory.appendingPathComponent("out.mp3")
        _ = try await ExternalTool.run("curl", ["-sf", "\(client.base)/v1/jobs/\(ids[0])/download", "-H", "Authorization: Bearer \(client.token)", "-o", mp3.path])
        let probe = try await ExternalTool.run("ffprobe", ["-v", "error", "-show_entries", "format=format_name,duration", "-of", "csv=p=0", mp3.path])
        #expect(probe.text.hasPrefix("mp3,90."), "\(probe.text)")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("SIGTERM while a webhook is being retried returns within 5 s; after the restart the webhook is retried and delivered, once")
    func webhookRetryOutlivesRestart() async throws {
        // The receiver fails its first four requests, then accepts.
        let receiver = try await HTTPTestReceiver.start(script: Array(repeating: .status(503), count: 4), fallback: .status(200))
        var server = try await RunningServe.start()
        let directory = server.directory
        var client = try await Client.signUp(server)
        let clip = try await TestClip.make(at: directory.appendingPathComponent("clip.mp4"), seconds: 1)
        let upload = try await ExternalTool.run("curl", [
            "-sf", "\(client.base)/v1/jobs?webhook_url=\(receiver.url.absoluteString)", "-H", "Authorization: Bearer \(client.token)", "--data-binary", "@\(clip.path)",
        ])
        let id = try #require(upload.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) }, "\(upload.text)")
        await receiver.waitForRequests(1)

        let stopping = ContinuousClock.now
        let stopped = try await server.stop()
        let took = ContinuousClock.now - stopping
        #expect(stopped.status == 0 && took < .seconds(5), "SIGTERM took \(took): \(stopped.stderrTail)")
        let before = receiver.requests.count
        #expect(before < 5, "the webhook was delivered before the stop")

        server = try await RunningServe.start(in: directory)
        client.base = server.url
        await receiver.waitForRequests(5)
        try await Task.sleep(for: .seconds(2))
        #expect(receiver.requests.count == 5, "delivered more than once: \(receiver.requests.count) requests")
        #expect(receiver.requests.allSatisfy { $0.header("VMP3-Delivery") == "\(id).succeeded" })
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
        try await receiver.stop()
    }

    @Test("retention: an ended job's record and MP3 are deleted once it is older than --retention-days; its upload as soon as it ends")
    func retention() async throws {
        // 0.00003 days: about 2.6 s.
        let server = try await RunningServe.start(["--retention-days", "0.00003"], environment: ["VMP3_MAINTENANCE_INTERVAL_SECONDS": "0.5"])
        let client = try await Client.signUp(server)
        let clip = try await TestClip.make(at: server.directory.appendingPathComponent("clip.mp4"), seconds: 1)
        let id = try await client.upload(clip)
        _ = try await client.wait("the job to succeed", timeout: .seconds(60)) { $0[id] == "succeeded" }
        let objects = server.directory.appendingPathComponent("data/objects/objects")
        #expect(directoryContents(objects.appendingPathComponent("sources.d")).isEmpty, "the upload is kept after its job ended")

        _ = try await client.wait("the job to expire", timeout: .seconds(30)) { $0[id] == nil }
        let status = try await ExternalTool.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(client.base)/v1/jobs/\(id)", "-H", "Authorization: Bearer \(client.token)"])
        #expect(status.text == "404")
        #expect(directoryContents(objects.appendingPathComponent("outputs.d")).filter { $0.hasSuffix(".o") }.isEmpty)
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("bad settings of `vmp3 serve` are one line and a non-zero exit, not a crash")
    func badSettings() async throws {
        for arguments in [["--retention-days", "1e300"], ["--retention-days", "nan"], ["--storage-quota-mb", "lots"]] {
            let run = try await ExternalTool.run(builtExecutable("vmp3"), ["serve", "--port", "0", "--data-dir", try makeScratchDirectory().path] + arguments)
            #expect(run.status != 0, "\(arguments)")
            #expect(run.stderr.split(separator: "\n").count == 1 && !run.stderr.contains("Fatal error"), "\(arguments): \(run.stderr)")
        }
    }

    @Test("a second `vmp3 serve` on a data directory in use says so in one line and exits non-zero")
    func dataDirectoryInUse() async throws {
        let server = try await RunningServe.start()
        let second = try await ExternalTool.run(builtExecutable("vmp3"), [
            "serve", "--port", "0", "--data-dir", server.directory.appendingPathComponent("data").path,
        ])
        #expect(second.status != 0)
        let lines = second.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("another process is using it"), "\(second.stderr)")
        #expect(!second.stderr.contains("Fatal error"))
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }
}
