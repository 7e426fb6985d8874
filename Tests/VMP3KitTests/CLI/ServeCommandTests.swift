import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport

/// `vmp3 serve` as a person trying VMP3 meets it: start it, run the commands it prints, stop it.
@Suite struct ServeCommandTests {
    @Test("the commands `vmp3 serve` prints register, log in, upload a video, follow it and download its MP3; SIGTERM stops it cleanly")
    func printedCommandsWork() async throws {
        let directory = try makeScratchDirectory()
        try FileManager.default.copyItem(at: try await TestMedia.h264AACFastStartMP4.url, to: directory.appendingPathComponent("video.mp4"))
        let server = try ExternalTool.start(builtExecutable("vmp3"), [
            "serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--concurrency", "1",
        ])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while !server.outputSoFar().contains("download") && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let commands = server.outputSoFar().split(separator: "\n").filter { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(commands.count == 5, "\(server.outputSoFar())")
        let script = "set -e\ncd '\(directory.path)'\n" + commands.joined(separator: "\n") + "\n"
        let run = try await ExternalTool.run("/bin/bash", ["-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.text.contains(#""status":"succeeded""#), "\(run.text)")

        let mp3 = directory.appendingPathComponent("video.mp3")
        #expect(try await ProbedFile(mp3).formatName == "mp3")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/users.sqlite").path))

        server.kill(SIGTERM)
        let result = try await server.finish()
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("schemathesis, run against /openapi.json of a running `vmp3 serve`, finds no server error and no response outside the schema")
    func schemathesis() async throws {
        let directory = try makeScratchDirectory()
        let server = try ExternalTool.start(builtExecutable("vmp3"), ["serve", "--port", "0", "--data-dir", directory.path, "--concurrency", "1"])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var base: String?
        while base == nil && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            base = server.outputSoFar().firstMatch(of: /serving on (http:\/\/[0-9.:]+)/).map { String($0.1) }
        }
        let url = try #require(base, "\(server.outputSoFar())")
        let login = #"-H 'Content-Type: application/json' -d '{"email":"fuzz@example.com","password":"a long passphrase"}'"#
        let script = """
        set -e
        curl -sf \(url)/v1/auth/register \(login) > /dev/null
        TOKEN=$(curl -sf \(url)/v1/auth/login \(login) | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
        schemathesis run \(url)/openapi.json -H "Authorization: Bearer $TOKEN" --max-examples 50 --seed 1 \\
          --checks not_a_server_error,response_schema_conformance,content_type_conformance
        """
        let run = try await ExternalTool.run("/bin/bash", ["-c", script])
        #expect(run.status == 0, "\(run.text.suffix(4000)) \(run.stderr.suffix(2000))")
        #expect(run.text.contains("passed"))
        server.kill(SIGTERM)
        #expect(try await server.finish().status == 0)
    }
}
