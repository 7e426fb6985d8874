import Foundation
import Testing
import VMP3Core
import VMP3TestSupport

/// Each executable, started with one malformed setting, stops at once with one line naming it:
/// for every setting of every program whose value has a form to break.
@Suite struct MalformedSettingsTests {
    struct Case: Sendable, CustomStringConvertible {
        var program: Setting.Program
        var setting: Setting
        var value: String
        /// A flag of `vmp3 serve` gives the value instead of the variable.
        var flag: String?

        var description: String { "\(program.rawValue) \(flag ?? setting.name)=\(value)" }
    }

    /// Settings of form `text` checked by the type that reads them, which every program builds at start.
    static let checkedText: Set<String> = [
        Setting.trustedProxies.name, Setting.emailAllowedRecipients.name, Setting.webhookAllowedNetworks.name, Setting.passwordHashCost.name,
    ]

    static let cases: [Case] = Setting.all.flatMap { setting -> [Case] in
        let value: String
        switch setting.form {
        case .wholeNumber, .number, .url, .hostAndPort, .logLevel: value = "banana"
        case .secret(let bytes) where bytes > 1: value = "short"
        case .text where checkedText.contains(setting.name): value = "banana"
        default: return []
        }
        return setting.programs.sorted().map { Case(program: $0, setting: setting, value: value) }
    } + [
        Case(program: .serve, setting: .maxUploadMB, value: "0", flag: "--max-upload-mb"),
        Case(program: .serve, setting: .concurrency, value: "many", flag: "--concurrency"),
        Case(program: .serve, setting: .smtp, value: "http://mail.example.com", flag: "--smtp"),
        Case(program: .serve, setting: .retentionDays, value: "-1", flag: "--retention-days"),
    ]

    /// Waits for `running` to end, killing it after `limit`.
    static func finish(_ running: ExternalTool.Running, within limit: Duration) async throws -> ExternalTool.Output {
        let watchdog = Task {
            try await Task.sleep(for: limit)
            running.kill(SIGKILL)
        }
        defer { watchdog.cancel() }
        return try await running.finish()
    }

    @Test("one malformed setting: exit non-zero at once, one line on standard error naming it", arguments: cases)
    func refusesToStart(_ test: Case) async throws {
        let data = try makeScratchDirectory()
        var environment = ["VMP3_DATA_DIR": data.path, "VMP3_HTTP_ADDRESS": "127.0.0.1:0"]
        if test.flag == nil { environment[test.setting.name] = test.value }
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let command: [String] = switch test.program {
        case .serve: [builtExecutable("vmp3"), "serve", "--port", "0", "--data-dir", data.path] + (test.flag.map { ["\($0)=\(test.value)"] } ?? [])
        default: [builtExecutable(test.program.rawValue)]
        }
        // A program that did not notice would run on: it is stopped, and fails.
        let run = try await Self.finish(try await ExternalTool.start("/usr/bin/env", assignments + command), within: .seconds(30))
        #expect(run.status != 0 && run.status != 128 + SIGKILL, "\(test): status \(run.status)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(test): \(run.stderr)")
        #expect(run.stderr.contains(test.setting.name) && !run.stderr.contains("Fatal error"), "\(test): \(run.stderr)")
        if let flag = test.flag { #expect(run.stderr.contains(flag), "\(test): \(run.stderr)") }
        if case .secret = test.setting.form { #expect(!run.stderr.contains(test.value), "a secret is never printed") }
    }
}

/// A service whose broker is not there ends with one line saying so, not a crash report: the
/// notifier's webhook client, which async-http-client traps on when released unshut, included.
@Suite struct MissingServerTests {
    @Test("the notifier and the converter with no RabbitMQ: exit 1 with a line naming the cause, no crash", arguments: ["vmp3-notifier", "vmp3-converter"])
    func noBroker(_ service: String) async throws {
        let data = try makeScratchDirectory()
        let run = try await MalformedSettingsTests.finish(try await ExternalTool.start("/usr/bin/env", [
            "VMP3_QUEUE=amqp://guest:guest@127.0.0.1:1/", "VMP3_HTTP_ADDRESS=127.0.0.1:0", "VMP3_DATA_DIR=\(data.path)",
            "VMP3_LOG_LEVEL=error", builtExecutable(service),
        ]), within: .seconds(60))
        #expect(run.status == 1, "\(run.stderr)")
        // The one line of ServiceMain (logs at error level may come before or after it).
        #expect(run.stderr.split(separator: "\n").contains { $0.hasPrefix("\(service): ") && $0.contains("RabbitMQ at 127.0.0.1:1 is unreachable") }, "\(run.stderr)")
        #expect(!run.stderr.contains("Fatal error") && !run.stderr.contains("Backtrace"), "\(run.stderr)")
    }
}
