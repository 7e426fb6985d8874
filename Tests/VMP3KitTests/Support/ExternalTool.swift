import Foundation

/// Runs a program (ffmpeg, ffprobe, the vmp3 CLI) and collects what it printed.
struct ExternalTool {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable` with `arguments` to completion. Output goes through files, so a large
    /// output cannot fill a pipe and block the child.
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = try start(executable, arguments)
        process.process.waitUntilExit()
        return try process.finish()
    }

    /// A started process whose output is collected when it ends.
    final class Running {
        let process: Process
        let stdoutURL: URL
        let stderrURL: URL

        init(process: Process, stdoutURL: URL, stderrURL: URL) {
            self.process = process
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
        }

        func finish() throws -> Output {
            process.waitUntilExit()
            defer {
                try? FileManager.default.removeItem(at: stdoutURL)
                try? FileManager.default.removeItem(at: stderrURL)
            }
            return Output(
                status: process.terminationStatus,
                stdout: try Data(contentsOf: stdoutURL),
                stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self)
            )
        }
    }

    static func start(_ executable: String, _ arguments: [String]) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        let id = UUID().uuidString
        let stdoutURL = testRoot.appendingPathComponent("\(id).out")
        let stderrURL = testRoot.appendingPathComponent("\(id).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stdoutURL: stdoutURL, stderrURL: stderrURL)
    }

    /// Runs ffmpeg quietly and fails with its message if it fails.
    static func ffmpeg(_ arguments: [String]) throws {
        let output = try run("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
        guard output.status == 0 else {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")) failed: \(output.stderr)")
        }
    }
}
