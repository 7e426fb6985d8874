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
    static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        try await start(executable, arguments).finish()
    }

    /// A started process whose output is collected when it ends.
    final class Running: Sendable {
        let process: Process
        let stdoutURL: URL
        let stderrURL: URL
        /// Resumed by the process's termination handler: waiting never blocks a thread of
        /// Swift's cooperative pool (which has as few threads as the machine has cores).
        private let exit: Task<Int32, Never>

        init(process: Process, stdoutURL: URL, stderrURL: URL, exit: Task<Int32, Never>) {
            self.process = process
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
            self.exit = exit
        }

        /// Waits for the process to end and collects its output.
        func finish() async throws -> Output {
            let status = await exit.value
            defer {
                try? FileManager.default.removeItem(at: stdoutURL)
                try? FileManager.default.removeItem(at: stderrURL)
            }
            return Output(
                status: status,
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
        let (statuses, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        try process.run()
        let exit = Task { await statuses.first { _ in true } ?? -1 }
        return Running(process: process, stdoutURL: stdoutURL, stderrURL: stderrURL, exit: exit)
    }

    /// Runs ffmpeg quietly and fails with its message if it fails.
    static func ffmpeg(_ arguments: [String]) async throws {
        let output = try await run("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
        guard output.status == 0 else {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")) failed: \(output.stderr)")
        }
    }
}
