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
}
