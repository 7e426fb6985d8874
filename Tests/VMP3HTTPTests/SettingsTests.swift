import Foundation
import Testing
import VMP3TestScoping
import VMP3Auth
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Kit

/// ``Settings``, the one reader of every program's settings, and ``Setting/all``, the catalogue
/// the documentation is made from.
// The conformance checks and the scans of the sources compute for seconds in a debug build: off the
// cooperative pool, which the tests beside them need (OffCooperativePoolTrait).
@Suite(.offCooperativePool) struct SettingsTests {
    @Test("a flag wins over the variable, the variable over the default; an empty variable is unset")
    func precedence() throws {
        let environment = ["VMP3_MAX_UPLOAD_MB": "100", "VMP3_MAX_ACTIVE_JOBS": ""]
        let settings = Settings(environment, program: .serve)
        #expect(try settings.wholeNumber(.maxUploadMB) == 100)
        #expect(try settings.wholeNumber(.maxActiveJobs) == 20, "the default")
        #expect(!settings.isGiven(.maxActiveJobs))
        let flagged = settings.overriding(.maxUploadMB, with: "7")
        #expect(try flagged.wholeNumber(.maxUploadMB) == 7)
        #expect(try settings.overriding(.maxUploadMB, with: nil).wholeNumber(.maxUploadMB) == 100, "a flag not given changes nothing")
        // Program defaults: the port, the shutdown grace.
        #expect(Settings([:], program: .auth).text(.httpAddress) == "127.0.0.1:8081")
        #expect(Settings([:], program: .notifier).text(.httpAddress) == "127.0.0.1:8084")
        #expect(try Settings([:], program: .serve).wholeNumber(.shutdownGraceSeconds) == 3)
        #expect(try Settings([:], program: .converter).wholeNumber(.shutdownGraceSeconds) == 30)
    }

    @Test("a malformed value is one error naming the setting (and the flag that gave it), what it must be and what it was")
    func messages() throws {
        let settings = Settings(["VMP3_MAX_UPLOAD_MB": "lots", "VMP3_RETENTION_DAYS": "nan", "VMP3_LOG_LEVEL": "loud"], program: .serve)
        let upload = #expect(throws: ConfigurationError.self) { try settings.wholeNumber(.maxUploadMB) }
        #expect(upload?.message == #"VMP3_MAX_UPLOAD_MB must be a whole number from 1 to 1048576, not "lots""#)
        let retention = #expect(throws: ConfigurationError.self) { try settings.number(.retentionDays) }
        #expect(retention?.message == #"VMP3_RETENTION_DAYS must be a number from 0 to 36500, not "nan""#)
        let flagged = #expect(throws: ConfigurationError.self) {
            try settings.overriding(.maxUploadMB, with: "0").validate(for: .serve)
        }
        #expect(flagged?.message.hasPrefix("--max-upload-mb (VMP3_MAX_UPLOAD_MB) must be") == true, "\(flagged?.message ?? "")")
        // vmp3 serve does not read VMP3_LOG_LEVEL (it takes --verbose); the gateway does.
        let level = #expect(throws: ConfigurationError.self) { try settings.validate(for: .gateway) }
        #expect(level?.message.contains("VMP3_LOG_LEVEL must be one of trace") == true, "\(level?.message ?? "")")
    }

    @Test("each form refuses what it should", arguments: [
        ("VMP3_CONCURRENCY", "0"), ("VMP3_CONCURRENCY", "2.5"), ("VMP3_CONCURRENCY", "99999999999999999999"),
        ("VMP3_RETENTION_DAYS", "1e300"), ("VMP3_RETENTION_DAYS", "-1"), ("VMP3_RETENTION_DAYS", "inf"),
        ("VMP3_STORE", "no scheme"), ("VMP3_SMTP", "http://mail.example.com"), ("VMP3_PUBLIC_URL", "ftp://x"),
        ("VMP3_HTTP_ADDRESS", "8080"), ("VMP3_HTTP_ADDRESS", "host:99999"), ("VMP3_HTTP_ADDRESS", ":80"),
        ("VMP3_LOG_LEVEL", "verbose"), ("VMP3_WEBHOOK_SECRET", "short"),
    ])
    func forms(_ name: String, _ value: String) throws {
        let setting = try #require(Setting.all.first { $0.name == name })
        let program = try #require(setting.programs.sorted().first)
        let error = #expect(throws: ConfigurationError.self) { try Settings([name: value], program: program).validate(for: program) }
        #expect(error?.message.hasPrefix(name) == true, "\(error?.message ?? "")")
        if case .secret = setting.form { #expect(error?.message.contains(value) == false, "a secret is never printed") }
    }

    @Test("values of every form that are right pass")
    func goodValues() throws {
        let environment = [
            "VMP3_CONCURRENCY": "4", "VMP3_RETENTION_DAYS": "0.5", "VMP3_STORE": "redis://127.0.0.1:6379/0",
            "VMP3_SMTP": "smtp://127.0.0.1:25?from=a@example.com", "VMP3_HTTP_ADDRESS": "[::1]:8080", "VMP3_LOG_LEVEL": "DEBUG",
            "VMP3_WEBHOOK_SECRET": String(repeating: "s", count: 16),
        ]
        for program in Setting.Program.allCases {
            try Settings(environment, program: program).validate(for: program)
        }
    }

    @Test("the documented defaults are the defaults the SDK's types have")
    func defaults() throws {
        // Every setting set to its documented default must configure what no setting does.
        var documented: [String: String] = [:]
        for setting in Setting.all { documented[setting.name] = setting.defaultValue }
        let given = Settings(documented, program: .converter)
        let unset = Settings([:], program: .converter)

        let limits = (try ConversionLimits(settings: given), try ConversionLimits(settings: unset), ConversionLimits())
        #expect(limits.0.maxAudioDuration == limits.2.maxAudioDuration && limits.1.maxAudioDuration == limits.2.maxAudioDuration)
        #expect(limits.0.maxOutputBytes == limits.2.maxOutputBytes && limits.0.maxConversionTime == limits.2.maxConversionTime)

        let sweeps = (try JobMaintenance.Configuration(settings: given), JobMaintenance.Configuration())
        #expect(sweeps.0.retention == sweeps.1.retention && sweeps.0.requeueAfter == sweeps.1.requeueAfter && sweeps.0.interval == sweeps.1.interval)

        let worker = (try ConversionWorker.Configuration(settings: given), ConversionWorker.Configuration())
        #expect(worker.0.leaseDuration == worker.1.leaseDuration && worker.0.maxAttempts == worker.1.maxAttempts)
        #expect(worker.0.shutdownGracePeriod == worker.1.shutdownGracePeriod && worker.0.concurrency == worker.1.concurrency)

        let http = (try HTTPServerLimits(settings: given), HTTPServerLimits())
        #expect(http.0.requestHeadTimeout == http.1.requestHeadTimeout && http.0.idleTimeout == http.1.idleTimeout)
        #expect(http.0.requestBodyTimeout == http.1.requestBodyTimeout)

        let routes = (try JobRoutes.Configuration(settings: given), JobRoutes.Configuration())
        #expect(routes.0.maxUploadBytes == routes.1.maxUploadBytes && routes.0.uploadsPerMinute == routes.1.uploadsPerMinute)
        #expect(routes.0.maxActiveJobs == routes.1.maxActiveJobs && routes.0.storageQuotaBytes == routes.1.storageQuotaBytes)
        #expect(routes.0.maxEventStreamsPerUser == routes.1.maxEventStreamsPerUser && routes.0.maxEventStreams == routes.1.maxEventStreams)

        #expect(try AuthRoutes.Configuration(settings: given).registrationsPerClient == AuthRoutes.Configuration().registrationsPerClient)
        #expect(try BackendConfiguration(settings: given).cacheLifetime == ConversionCaching.defaultLifetime)
        #expect(try RemoteKeySet.Configuration(settings: given).refreshInterval == RemoteKeySet.Configuration().refreshInterval)
    }

    @Test("names are unique; every setting is documented and read by some program")
    func catalogue() {
        #expect(Set(Setting.all.map(\.name)).count == Setting.all.count)
        for setting in Setting.all {
            #expect(setting.name.hasPrefix("VMP3_") || setting.name.hasPrefix("AWS_"), "\(setting)")
            #expect(!setting.meaning.isEmpty && !setting.programs.isEmpty, "\(setting)")
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("no source file names a VMP3_ variable but the catalogue: every setting is read through Settings")
    func oneReader() throws {
        let catalogue = Set(Setting.all.map(\.name))
        let sources = Self.root.appendingPathComponent("Sources")
        var strays: [String] = []
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        for case let file as URL in files where file.pathExtension == "swift" && file.lastPathComponent != "Setting+Catalog.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: /"(VMP3_[A-Z0-9_]+|AWS_[A-Z_]+)"/) {
                strays.append("\(file.lastPathComponent): \(match.1)\(catalogue.contains(String(match.1)) ? "" : " (not in the catalogue)")")
            }
        }
        #expect(strays.isEmpty, "read these through Settings and a Setting of the catalogue: \(strays)")
    }

    @Test("the settings table of Docs/operations.md is the catalogue's (`vmp3 settings --markdown`)")
    func documentation() throws {
        let operations = try String(contentsOf: Self.root.appendingPathComponent("Docs/operations.md"), encoding: .utf8)
        let begin = "<!-- settings: begin (swift run vmp3 settings --markdown) -->\n"
        let end = "<!-- settings: end -->"
        let start = try #require(operations.range(of: begin), "the markers of the table are missing")
        let stop = try #require(operations.range(of: end, range: start.upperBound..<operations.endIndex))
        let table = String(operations[start.upperBound..<stop.lowerBound])
        #expect(table == Setting.markdownTable, "regenerate the table with `swift run vmp3 settings --markdown`")
    }
}
