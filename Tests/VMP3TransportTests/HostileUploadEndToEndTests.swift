import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport

/// The uploads that once took a server down or read its files, sent over HTTP to `vmp3 serve`
/// and to the four services: each is refused (422) or fails its job with a typed code, nothing
/// of the server's files comes back, and the server goes on converting.
@Suite(.serialized) struct HostileUploadEndToEndTests {
    typealias API = GatewaySecurityEndToEndTests

    /// What an attacker sends, made on this machine: the "server's file" (a TS with audio) that
    /// a playlist points at, the playlist, and an hour of silence in a 14 KB FLAC.
    struct Payloads {
        let secret: URL
        let playlist: ByteBuffer
        let hourOfSilence: ByteBuffer
        /// Ten minutes of a tone: long enough to be caught mid-conversion.
        let longAudio: ByteBuffer

        static func make(in directory: URL) async throws -> Payloads {
            let secret = directory.appendingPathComponent("secret.ts")
            try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=1000:duration=3", "-c:a", "aac", secret.path])
            let flac = directory.appendingPathComponent("hour.flac")
            try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600", "-c:a", "flac", "-frame_size", "65535", flac.path])
            let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\nfile://\(secret.path)\n#EXT-X-ENDLIST\n"
            let long = directory.appendingPathComponent("long.flac")
            try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=600", "-c:a", "flac", long.path])
            return Payloads(
                secret: secret, playlist: ByteBuffer(string: playlist), hourOfSilence: ByteBuffer(bytes: try Data(contentsOf: flac)),
                longAudio: ByteBuffer(bytes: try Data(contentsOf: long))
            )
        }
    }

    /// The whole sequence against a gateway at `base` whose converter has a 10-minute limit and
    /// runs below the process `converter`.
    static func attack(_ base: String, payloads: Payloads, clip: URL, converter: pid_t) async throws {
        let token = try await API.token(base, "mallory-\(UUID().uuidString.prefix(6).lowercased())@example.com")

        // Options that trapped the converter: refused before anything is stored.
        for query in ["duration=0.00001", "duration=1e16", "start=1e300", "duration=nan", "start=-1"] {
            let answer = try await API.send(.POST, base + "/v1/jobs?\(query)", token: token, body: ByteBuffer(string: "x"))
            #expect(answer.status == 422, "\(query): \(answer.status) \(answer.body)")
            #expect(answer.problemType?.hasSuffix("/invalid_option") == true, "\(query): \(answer.body)")
        }

        // A playlist naming a file of the server's: failed, typed, and no MP3 of the file.
        let playlist = try await API.send(.POST, base + "/v1/jobs", token: token, body: payloads.playlist).job()
        let refused = try await API.follow(base, playlist.id, token: token)
        #expect(refused.status == .failed && refused.failure?.code == "unsupported_container", "\(refused)")
        #expect(refused.failure?.message.contains(payloads.secret.path) == false)
        #expect(try await API.send(.GET, base + "/v1/jobs/\(playlist.id.rawValue)/download", token: token).status == 404)

        // An hour of silence in 14 KB, over the limit.
        let hour = try await API.send(.POST, base + "/v1/jobs?sample_rate=48000&bitrate=320", token: token, body: payloads.hourOfSilence).job()
        let tooLong = try await API.follow(base, hour.id, token: token)
        #expect(tooLong.status == .failed && tooLong.failure?.code == "input_too_long", "\(tooLong)")

        // A conversion child that dies of SIGSEGV mid-conversion (as a decoder bug would make it):
        // the job fails converter_crashed after one attempt, not VMP3_MAX_ATTEMPTS of them.
        let long = try await API.send(.POST, base + "/v1/jobs", token: token, body: payloads.longAudio).job()
        #expect(try await signalConversionChildren(of: converter, SIGSEGV) == 1)
        let crashed = try await API.follow(base, long.id, token: token)
        #expect(crashed.status == .failed && crashed.failure?.code == "converter_crashed", "\(crashed)")
        #expect(crashed.attempts == 1, "\(crashed)")

        // The server is still up and converting.
        let good = try await API.send(.POST, base + "/v1/jobs", token: token, body: ByteBuffer(bytes: try Data(contentsOf: clip))).job()
        #expect(try await API.follow(base, good.id, token: token).status == .succeeded)
    }

    @Test("`vmp3 serve`: trapping options are 422, a playlist fails unsupported_container without reading the file it names, an hour of silence fails input_too_long, a crashed conversion child fails its job once, and the server keeps converting")
    func serve() async throws {
        let served = try await RunningServe.start(environment: ["VMP3_MAX_AUDIO_SECONDS": "600"])
        let payloads = try await Payloads.make(in: served.directory)
        let clip = try await TestClip.make(at: served.directory.appendingPathComponent("clip.mp4"), seconds: 1)
        try await Self.attack(served.url, payloads: payloads, clip: clip, converter: served.process.pid)
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("`vmp3 serve`, a conversion deaf to everything (its child stopped): DELETE frees its slot at once, the time limit fails it time_limit, SIGTERM exits within the grace period")
    func deafConversion() async throws {
        let served = try await RunningServe.start(environment: ["VMP3_MAX_CONVERSION_SECONDS": "5"])
        let payloads = try await Payloads.make(in: served.directory)
        let clip = try await TestClip.make(at: served.directory.appendingPathComponent("clip.mp4"), seconds: 1)
        let base = served.url
        let token = try await API.token(base, "deaf-\(UUID().uuidString.prefix(6).lowercased())@example.com")
        let clock = ContinuousClock()

        // Stopped, the child neither reads nor answers nor calls back: only the parent can end it.
        let cancelled = try await API.send(.POST, base + "/v1/jobs", token: token, body: payloads.longAudio).job()
        #expect(try await signalConversionChildren(of: served.process.pid, SIGSTOP) == 1)
        let deleted = clock.now
        #expect(try await API.send(.DELETE, base + "/v1/jobs/\(cancelled.id.rawValue)", token: token).status < 300)
        try await eventually("the stopped child to be killed", timeout: .seconds(30)) { conversionChildren(of: served.process.pid).isEmpty }
        let freed = clock.now - deleted
        // One conversion at a time (`--concurrency 1`): the next job converts only in the freed slot.
        let next = try await API.send(.POST, base + "/v1/jobs", token: token, body: ByteBuffer(bytes: try Data(contentsOf: clip))).job()
        #expect(try await API.follow(base, next.id, token: token).status == .succeeded)
        #expect(freed < .seconds(5), "about a second on an idle machine: \(freed)")

        // The time limit, with the child deaf to its own clock.
        let timed = try await API.send(.POST, base + "/v1/jobs", token: token, body: payloads.longAudio).job()
        #expect(try await signalConversionChildren(of: served.process.pid, SIGSTOP) == 1)
        let late = try await API.follow(base, timed.id, token: token)
        #expect(late.status == .failed && late.failure?.code == "time_limit", "\(late)")

        // Shutdown: the grace period of `vmp3 serve` is 3 s, then the conversion is stopped.
        _ = try await API.send(.POST, base + "/v1/jobs", token: token, body: payloads.longAudio).job()
        #expect(try await signalConversionChildren(of: served.process.pid, SIGSTOP) == 1)
        let stopping = clock.now
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
        #expect(clock.now - stopping < .seconds(20), "3 s of grace and the shutdown: \(clock.now - stopping)")
    }

    @Test("the four services: the same uploads fail the same way, a crashed conversion child too, and the converter process survives them all")
    func services() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_MAX_AUDIO_SECONDS"] = "600"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let payloads = try await Payloads.make(in: deployment.data)
        let converter = try #require(deployment.services["vmp3-converter"]).process.pid
        try await Self.attack(base, payloads: payloads, clip: try await deployment.makeClip(), converter: converter)
        #expect(try await API.send(.GET, try #require(deployment.services["vmp3-converter"]).url + "/healthz").status == 200)
        try await deployment.stopAll()
    }
}

/// A converter limit set to nonsense stops the process at start with one line naming it.
@Suite struct ConverterLimitSettingsTests {
    @Test("vmp3-converter and `vmp3 serve` with VMP3_MAX_OUTPUT_MB=ten: exit 1 and one line naming the variable, no crash report")
    func badLimit() async throws {
        let data = try makeScratchDirectory()
        let runs = [
            try await ExternalTool.run("/usr/bin/env", ["VMP3_MAX_OUTPUT_MB=ten", "VMP3_HTTP_ADDRESS=127.0.0.1:0", builtExecutable("vmp3-converter")]),
            try await ExternalTool.run("/usr/bin/env", ["VMP3_MAX_OUTPUT_MB=ten", builtExecutable("vmp3"), "serve", "--port", "0", "--data-dir", data.path]),
        ]
        for run in runs {
            #expect(run.status != 0)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(run.stderr)")
            #expect(run.stderr.contains("VMP3_MAX_OUTPUT_MB must be a whole number"), "\(run.stderr)")
            #expect(!run.stderr.contains("Fatal error"))
        }
    }
}
