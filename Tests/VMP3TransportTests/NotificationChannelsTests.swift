import Crypto
import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
import VMP3Transport

/// Which notifiers a process runs, from its configuration.
@Suite struct NotificationChannelsTests {
    @Test("from the environment: nothing set, nothing sent; a secret and an SMTP URL turn webhook and e-mail on")
    func fromEnvironment() throws {
        let none = try NotificationChannels(settings: Settings([:]))
        #expect(none.webhook == nil && none.email == nil)
        #expect(none.summary.hasPrefix("nothing"))

        let both = try NotificationChannels(settings: Settings([
            "VMP3_WEBHOOK_SECRET": "a secret of twenty bytes", "VMP3_SMTP": "smtp://127.0.0.1:2525?from=vmp3@example.com",
            "VMP3_PUBLIC_URL": "https://vmp3.example.com",
        ]))
        #expect(both.summary == "webhook, e-mail")
        #expect(both.email?.publicBaseURL?.absoluteString == "https://vmp3.example.com")
    }

    @Test("unusable values are configuration errors, not silently dropped channels", arguments: [
        ["VMP3_WEBHOOK_SECRET": "too short"],
        ["VMP3_SMTP": "http://127.0.0.1:25"],
        ["VMP3_SMTP": "smtp://127.0.0.1:25"],
        ["VMP3_SMTP": "smtp://127.0.0.1:25?from=vmp3@example.com", "VMP3_PUBLIC_URL": "ftp://example.com"],
    ])
    func refused(_ environment: [String: String]) {
        #expect(throws: ConfigurationError.self) { try NotificationChannels(settings: Settings(environment)) }
    }

    @Test("a webhook secret file is made once (0600) and read back the same; one too short is refused")
    func secretFile() throws {
        let directory = try makeScratchDirectory()
        let path = directory.appendingPathComponent("data/webhook-secret").path
        let made = try WebhookConfiguration(secretFile: path)
        let again = try WebhookConfiguration(secretFile: path)
        #expect(made.secret == again.secret)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines).count == 64)

        let short = directory.appendingPathComponent("short").path
        try Data("tiny\n".utf8).write(to: URL(fileURLWithPath: short))
        #expect(throws: ConfigurationError.self) { try WebhookConfiguration(secretFile: short) }
    }
}
