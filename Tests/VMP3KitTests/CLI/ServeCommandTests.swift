import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport

/// `vmp3 serve` as a person trying VMP3 meets it: start it, run the commands it prints, stop it.
@Suite struct ServeCommandTests {
    @Test("the commands `vmp3 serve` prints register, log in, upload a video, follow it and download its MP3; it ends with the web page's address; SIGTERM stops it cleanly")
    func printedCommandsWork() async throws {
        let server = try await RunningServe.start()
        let directory = server.directory
        try FileManager.default.copyItem(at: try await TestMedia.h264AACFastStartMP4.url, to: directory.appendingPathComponent("video.mp4"))
        let indented = server.process.outputSoFar().split(separator: "\n").filter { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
        // The last thing printed is the web page's address, for people with a browser.
        #expect(indented.last == server.url + "/", "\(server.process.outputSoFar())")
        let page = try await ExternalTool.run("curl", ["-sf", server.url + "/"])
        #expect(page.status == 0 && page.text.contains("<title>VMP3"), "\(page.text.prefix(200))")
        let commands = indented.filter { !$0.hasPrefix("http") }
        #expect(commands.count == 5, "\(server.process.outputSoFar())")
        let script = "set -e\ncd '\(directory.path)'\n" + commands.joined(separator: "\n") + "\n"
        let run = try await ExternalTool.run("/bin/bash", ["-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.text.contains(#""status":"succeeded""#), "\(run.text)")

        let mp3 = directory.appendingPathComponent("video.mp3")
        #expect(try await ProbedFile(mp3).formatName == "mp3")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/users.sqlite").path))
        // Everything in the data directory — password hashes, keys, uploads, MP3s, databases —
        // is the owner's alone, though the test starts it with the usual umask (022).
        let data = directory.appendingPathComponent("data").path
        var exposed: [String] = []
        for relative in [""] + (FileManager.default.enumerator(atPath: data)?.allObjects as? [String] ?? []) {
            var status = stat()
            guard lstat(data + "/" + relative, &status) == 0 else { continue }
            let isDirectory = status.st_mode & S_IFMT == S_IFDIR
            if status.st_mode & 0o777 != (isDirectory ? 0o700 : 0o600) { exposed.append("\(relative): \(String(status.st_mode & 0o777, radix: 8))") }
        }
        #expect(exposed.isEmpty, "\(exposed)")

        let result = try await server.stop()
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("schemathesis, run against /openapi.json of a running `vmp3 serve`, finds no server error and no response outside the schema")
    func schemathesis() async throws {
        let server = try await RunningServe.start()
        let run = try await Schemathesis.run(against: server.url)
        #expect(run.status == 0, "\(run.text.suffix(4000)) \(run.stderr.suffix(2000))")
        #expect(run.text.contains("passed"))
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }
}
