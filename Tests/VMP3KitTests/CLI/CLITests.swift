import Foundation
import VMP3TestSupport
import Testing

/// `vmp3 convert` and `vmp3 probe` as a person runs them: the built executable, its output and
/// its exit status.
@Suite struct CLITests {
    static let vmp3 = builtExecutable("vmp3")

    func run(_ arguments: String...) async throws -> ExternalTool.Output {
        try await ExternalTool.run(Self.vmp3, arguments)
    }

    @Test("convert writes the MP3 next to the input and prints a one-line summary")
    func convert() async throws {
        let directory = try makeScratchDirectory()
        let input = directory.appendingPathComponent("clip.mp4")
        try FileManager.default.copyItem(at: try await TestMedia.tagged.url, to: input)
        let output = try await run("convert", input.path, "--bitrate", "160", "--channels", "1", "--sample-rate", "32000", "--title", "From CLI")
        #expect(output.status == 0, "\(output.stderr)")
        let mp3 = directory.appendingPathComponent("clip.mp3")
        let lines = output.text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix(mp3.path + ": 0:03.") == true)
        #expect(output.text.contains("160 kbps, 32000 Hz mono"))
        #expect(output.text.contains("× real time"))
        let probed = try await ProbedFile(mp3)
        let stream = try probed.audioStream()
        #expect(stream.sampleRate == 32_000 && stream.channels == 1 && stream.bitRate == 160_000)
        #expect(probed.tags["title"] == "From CLI")
        #expect(probed.tags["artist"] == TestMedia.taggedTags["artist"])
    }

    @Test("trim and -o are honoured")
    func trimAndOutput() async throws {
        let output = try makeScratchDirectory().appendingPathComponent("trimmed.mp3")
        let result = try await run("convert", try await TestMedia.twoTones.url.path, "-o", output.path, "--start", "2.5", "--duration", "1", "--quiet")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.text.isEmpty && result.stderr.isEmpty, "--quiet prints nothing on success")
        let audio = try await DecodedAudio(output)
        #expect(abs(audio.duration - 1) < 0.03)
        #expect(abs(audio.toneFrequency(from: 0.1, to: 0.9) - 880) < 2)
    }

    @Test("errors print a clear message and exit with a status that says why", arguments: [
        (["convert", "/nonexistent/clip.mp4"], Int32(66), "no such file"),
        (["convert", "MEDIA", "--bitrate", "999"], Int32(64), "allowed 32–320 kbps"),
        (["convert", "MEDIA", "--quality", "12"], Int32(64), "allowed 0–9"),
        (["convert", "MEDIA", "--bitrate", "128", "--quality", "2"], Int32(64), "exclude each other"),
        (["convert", "MEDIA", "--channels", "6"], Int32(64), "must be 1 (mono) or 2 (stereo)"),
        (["convert", "MEDIA", "--sample-rate", "1000"], Int32(64), "invalid sample-rate 1000"),
        (["convert", "VIDEO_ONLY"], Int32(65), "has no audio stream"),
        (["convert", "MEDIA", "-o", "/sys/out.mp3"], Int32(73), "cannot write"),
        (["probe", "/nonexistent/clip.mp4"], Int32(66), "no such file"),
        (["convert", "MEDIA", "--duration", "0.00001"], Int32(64), "invalid duration 1e-05"),
        (["convert", "MEDIA", "--duration", "1e16"], Int32(64), "invalid duration 1e+16"),
        (["convert", "MEDIA", "--start", "nan"], Int32(64), "invalid start nan"),
        (["convert", "MEDIA", "--max-size=-1"], Int32(64), "--max-size must be 0 (no limit) or more"),
        (["convert", "MEDIA", "--max-length", "1"], Int32(65), "longer than the limit of 1.00 s"),
        (["convert", "LONG", "--max-size", "1", "--bitrate", "320"], Int32(65), "larger than its limit"),
        (["convert", "PLAYLIST"], Int32(65), "does not convert (hls)"),
        (["probe", "PLAYLIST"], Int32(65), "does not convert (hls)"),
        (["convert", "LONG", "--time-limit", "1"], Int32(75), "took longer than its limit of 1 s"),
    ])
    func errors(_ arguments: [String], _ status: Int32, _ message: String) async throws {
        let scratch = try makeScratchDirectory()
        let media = try await TestMedia.h264AACMP4.url
        let videoOnly = try await TestMedia.videoOnly.url
        let long = try await TestMedia.longAudio.url
        // An HLS playlist naming a real media file: refused, never followed.
        let playlist = try makeScratchDirectory().appendingPathComponent("playlist.mp4")
        try Data("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\nfile://\(media.path)\n#EXT-X-ENDLIST\n".utf8).write(to: playlist)
        let resolved = arguments.map { argument in
            switch argument {
            case "MEDIA": media.path
            case "VIDEO_ONLY": videoOnly.path
            case "LONG": long.path
            case "PLAYLIST": playlist.path
            default: argument
            }
        } + (arguments.contains("-o") || arguments[0] == "probe" ? [] : ["-o", scratch.appendingPathComponent("out.mp3").path])
        let output = try await ExternalTool.run(Self.vmp3, resolved)
        #expect(output.status == status, "\(output.stderr)")
        #expect(output.stderr.contains(message), "\(output.stderr)")
        #expect(directoryContents(scratch).isEmpty)
    }

    @Test("an existing output is kept unless --force")
    func refusesToOverwrite() async throws {
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
        try Data("keep me".utf8).write(to: output)
        let media = try await TestMedia.h264AACMP4.url
        let refused = try await run("convert", media.path, "-o", output.path)
        #expect(refused.status == 73)
        #expect(refused.stderr.contains("--force"))
        #expect(try Data(contentsOf: output) == Data("keep me".utf8))

        let forced = try await run("convert", media.path, "-o", output.path, "--force")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try await ProbedFile(output).formatName == "mp3")
    }

    @Test("SIGINT during a conversion cancels it, removes the partial file and exits 130")
    func interrupt() async throws {
        let directory = try makeScratchDirectory()
        let output = directory.appendingPathComponent("long.mp3")
        let process = try await ExternalTool.start(Self.vmp3, ["convert", try await TestMedia.longAudio.url.path, "-o", output.path])
        // Interrupt once the partial file is there, so that the signal arrives mid-conversion.
        let interrupted = await process.kill(SIGINT, after: .milliseconds(200), once: {
            directoryContents(directory).contains { $0.hasSuffix(".partial") }
        }, timeout: .seconds(60))
        #expect(interrupted, "the conversion never wrote its partial file")
        let result = try await process.finish()
        #expect(result.status == 130, "\(result.stderr)")
        #expect(result.stderr.contains("cancelled"))
        #expect(directoryContents(directory).isEmpty)
    }

    @Test("probe prints the streams as JSON")
    func probe() async throws {
        let output = try await run("probe", try await TestMedia.surround51.url.path)
        #expect(output.status == 0, "\(output.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        let streams = try #require(json["streams"] as? [[String: Any]])
        #expect(streams.count == 1)
        #expect(streams[0]["kind"] as? String == "audio")
        #expect(streams[0]["channels"] as? Int == 6)
        #expect(streams[0]["sampleRate"] as? Int == 48_000)
        #expect((json["duration"] as? Double).map { abs($0 - 3) < 0.1 } == true)
    }

    @Test("create-bucket refuses a storage that is not S3, and S3 without credentials, as usage errors")
    func createBucketRefusals() async throws {
        let file = try await ExternalTool.run("/usr/bin/env", ["VMP3_STORAGE=file:///tmp/vmp3", Self.vmp3, "create-bucket"])
        #expect(file.status == 64, "\(file.stderrTail)")
        #expect(file.stderr.contains("VMP3_STORAGE must be an s3:// URL (it is file:///tmp/vmp3)"))
        let anonymous = try await ExternalTool.run("/usr/bin/env", ["-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY",
            "VMP3_STORAGE=s3://media?endpoint=http://127.0.0.1:1", Self.vmp3, "create-bucket"])
        #expect(anonymous.status == 64, "\(anonymous.stderrTail)")
        #expect(anonymous.stderr.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"))
    }

    @Test("serve and create-bucket run vmp3-server: its help through vmp3; without it beside vmp3 or on PATH, one line naming it and status 69")
    func serverCommandsHandOver() async throws {
        let help = try await run("serve", "--help")
        #expect(help.status == 0, "\(help.stderrTail)")
        #expect(help.text.contains("USAGE: vmp3 serve") && help.text.contains("--data-dir"), "\(help.text)")
        let listed = try await run("--help")
        #expect(listed.text.contains("serve") && listed.text.contains("create-bucket"))
        // vmp3 alone in a folder (a hard link: /proc/self/exe names the link's folder), with a PATH
        // that has no vmp3-server either.
        let alone = try makeScratchDirectory().appendingPathComponent("vmp3")
        do {
            try FileManager.default.linkItem(atPath: Self.vmp3, toPath: alone.path)
        } catch {
            try FileManager.default.copyItem(atPath: Self.vmp3, toPath: alone.path)
        }
        for command in ["serve", "create-bucket"] {
            let missing = try await Self.runBusyCopy("/usr/bin/env", ["PATH=/usr/bin:/bin", alone.path, command])
            #expect(missing.status == 69, "\(missing.stderrTail)")
            let lines = missing.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("vmp3 \(command)") && lines[0].contains("vmp3-server"), "\(missing.stderr)")
        }
    }

    /// Runs `arguments`, again while the executable they name is "busy": a copy just written
    /// stays open for writing in any process another test forks before the copy is closed, until
    /// that process execs (ETXTBSY, which `env` reports with status 126).
    static func runBusyCopy(_ tool: String, _ arguments: [String]) async throws -> ExternalTool.Output {
        var output = try await ExternalTool.run(tool, arguments)
        for _ in 0..<50 where output.status == 126 && output.stderr.contains("Text file busy") {
            try await Task.sleep(for: .milliseconds(100))
            output = try await ExternalTool.run(tool, arguments)
        }
        return output
    }

    /// Its output a pipe whose reader has gone (`vmp3 settings | head -1`, a log collector that
    /// died), under a parent that ignores SIGPIPE as systemd does for its services: every write
    /// fails with EPIPE, which Foundation's non-throwing `FileHandle.write` turned into a crash.
    @Test("a program whose reader has gone away exits with its own status, not a crash", arguments: [
        (["vmp3", "settings", "--markdown"], "stdout", Int32(0)),
        (["vmp3", "convert", "/nonexistent.mp4"], "stderr", Int32(66)),
        (["vmp3-gateway"], "stderr", Int32(1)),
    ])
    func closedOutput(command: [String], stream: String, status: Int32) async throws {
        let script = """
            import os, signal, subprocess, sys
            read, write = os.pipe()
            os.close(read)
            stream = {"stdout": {"stdout": write}, "stderr": {"stderr": write}}[sys.argv[1]]
            result = subprocess.run(sys.argv[2:], **stream, env=dict(os.environ, VMP3_HTTP_ADDRESS="not an address"),
                                    preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
            print(result.returncode)
            """
        let output = try await ExternalTool.run("python3", ["-c", script, stream, builtExecutable(command[0])] + command.dropFirst())
        #expect(output.status == 0, "\(output.stderrTail)")
        #expect(output.text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(status)", "a negative status is the signal that ended it")
    }
}


/// The programs in Examples/ run as their comments say.
@Suite struct ExampleTests {
    @Test("ConvertFile converts a video")
    func convertFile() async throws {
        let directory = try makeScratchDirectory()
        let output = directory.appendingPathComponent("example.mp3")
        let result = try await ExternalTool.run(builtExecutable("ConvertFile"), [try await TestMedia.tagged.url.path, output.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.text.contains("wrote \(output.path)"))
        let probed = try await ProbedFile(output)
        #expect(try probed.audioStream().bitRate == 192_000)
        #expect(probed.tags["comment"] == "converted by VMP3Kit")
    }

    @Test("EmbeddedPipeline runs a job to succeeded and prints it as JSON")
    func embeddedPipeline() async throws {
        let directory = try makeScratchDirectory()
        let video = directory.appendingPathComponent("clip.mp4")
        try FileManager.default.copyItem(at: try await TestMedia.h264AACMP4.url, to: video)
        let result = try await ExternalTool.run(builtExecutable("EmbeddedPipeline"), [video.path])
        #expect(result.status == 0, "\(result.stderr)")
        let job = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        #expect(job["status"] as? String == "succeeded")
        #expect((job["output"] as? [String: Any])?["key"] as? String == "outputs/\(job["id"] as? String ?? "").mp3")
        #expect(try await ProbedFile(directory.appendingPathComponent("clip.mp3")).formatName == "mp3")

        let failed = try await ExternalTool.run(builtExecutable("EmbeddedPipeline"), [directory.appendingPathComponent("missing.mp4").path])
        #expect(failed.status != 0)
    }

    @Test("CustomObjectStore passes the SDK's ObjectStore conformance suite")
    func customObjectStore() async throws {
        let result = try await ExternalTool.run(builtExecutable("CustomObjectStore"), [])
        #expect(result.status == 0, "\(result.text)\(result.stderr)")
        let summary = try #require(result.text.firstMatch(of: /(\d+) of (\d+) checks passed/), "\(result.text)")
        #expect(summary.1 == summary.2 && Int(summary.2) ?? 0 >= 10, "\(result.text)")
        #expect(!result.text.contains("FAIL"))
    }
}
