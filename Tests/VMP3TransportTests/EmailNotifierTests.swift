import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The e-mail sender against real SMTP receivers on loopback (aiosmtpd writing maildirs): one
/// plain, one that refuses mail until STARTTLS.
@Suite struct EmailNotifierTests {
    static func smtp(_ variable: String, _ query: String) throws -> SMTPConfiguration {
        try SMTPConfiguration(url: URL(string: "\(try TestServices.value(variable))?from=vmp3@example.com&\(query)")!)
    }

    static func notifier(_ smtp: SMTPConfiguration, ledger: InMemoryNotificationLedger) -> EmailNotifier {
        EmailNotifier(
            configuration: .init(smtp: smtp, publicBaseURL: URL(string: "https://vmp3.example.com/"), maxAttempts: 2, initialBackoff: .milliseconds(100)),
            ledger: ledger
        )
    }

    static func event(_ status: JobStatus, title: String? = nil) -> JobEvent {
        var options = ConversionOptions()
        options.tags.title = title
        var job = Job(owner: "user-1", source: Job.sourceKey(for: JobID()), sourceName: "holiday.mp4", options: options)
        job.status = status
        if status == .failed { job.failure = JobFailure(code: "no_audio_stream", message: "the file has no audio stream") }
        return JobEvent(kind: .status, job: job)
    }

    @Test("a finished job's e-mail arrives over plain SMTP with its download link")
    func plainSucceeded() async throws {
        let ledger = InMemoryNotificationLedger()
        let event = Self.event(.succeeded, title: "Café à la plage")
        try await Self.notifier(try Self.smtp("VMP3_TEST_SMTP_URL", "tls=none"), ledger: ledger).deliver(event, to: .email("listener@example.org"))

        let mail = try #require(try ReceivedMail.find(withID: "\(event.deliveryID)@example.com", in: try TestServices.value("VMP3_TEST_MAILDIR")))
        #expect(mail.headers["to"] == "listener@example.org" && mail.headers["from"] == "vmp3@example.com")
        #expect(mail.headers["x-mailfrom"] == "vmp3@example.com" && mail.headers["x-rcptto"] == "listener@example.org")
        let subject = try #require(mail.headers["subject"])
        #expect(subject.hasPrefix("=?utf-8?B?"))
        let decoded = String(decoding: Data(base64Encoded: String(subject.dropFirst(10).dropLast(2))) ?? Data(), as: UTF8.self)
        #expect(decoded == "Your MP3 is ready: Café à la plage")
        #expect(mail.body.contains("https://vmp3.example.com/v1/jobs/\(event.job.id.rawValue)/download"))
        #expect(mail.body.contains("Café à la plage has finished"))
        #expect(await ledger.records(for: event.job.id).map(\.outcome) == [.delivered])
    }

    @Test("a failed job's e-mail says why, over STARTTLS to a server that requires it")
    func startTLSFailed() async throws {
        let ledger = InMemoryNotificationLedger()
        let event = Self.event(.failed)
        let smtp = try Self.smtp("VMP3_TEST_SMTP_TLS_URL", "tls=required&ca_file=\(try TestServices.value("VMP3_TEST_SMTP_TLS_CA"))")
        try await Self.notifier(smtp, ledger: ledger).deliver(event, to: .email("listener@example.org"))

        let mail = try #require(try ReceivedMail.find(withID: "\(event.deliveryID)@example.com", in: try TestServices.value("VMP3_TEST_TLS_MAILDIR")))
        #expect(mail.headers["subject"] == "Your conversion failed: holiday.mp4")
        #expect(mail.body.contains("Reason: the file has no audio stream (no_audio_stream)"))
        #expect(!mail.body.contains("/download"))
    }

    @Test("no TLS where the server requires it, or STARTTLS where the server has none: refused, nothing sent")
    func tlsMismatch() async throws {
        let cases = [
            // The TLS receiver answers 530 to MAIL before STARTTLS.
            try Self.smtp("VMP3_TEST_SMTP_TLS_URL", "tls=none"),
            // The plain receiver does not offer STARTTLS.
            try Self.smtp("VMP3_TEST_SMTP_URL", "tls=required"),
            // STARTTLS with a certificate nobody vouches for.
            try Self.smtp("VMP3_TEST_SMTP_TLS_URL", "tls=required"),
        ]
        for smtp in cases {
            let ledger = InMemoryNotificationLedger()
            let event = Self.event(.succeeded)
            await #expect {
                try await Self.notifier(smtp, ledger: ledger).deliver(event, to: .email("listener@example.org"))
            } throws: { ($0 as? NotificationError)?.code == .rejected }
            for variable in ["VMP3_TEST_MAILDIR", "VMP3_TEST_TLS_MAILDIR"] {
                #expect(try ReceivedMail.find(withID: "\(event.deliveryID)@example.com", in: try TestServices.value(variable)) == nil)
            }
            #expect(await ledger.records(for: event.job.id).first?.outcome == .gaveUp)
        }
    }

    @Test("an SMTP server that is down: retried, then given up and recorded")
    func serverDown() async throws {
        let ledger = InMemoryNotificationLedger()
        let event = Self.event(.succeeded)
        let smtp = try SMTPConfiguration(url: URL(string: "smtp://127.0.0.1:1?from=vmp3@example.com&tls=none&timeout=300")!)
        let start = ContinuousClock.now
        await #expect {
            try await Self.notifier(smtp, ledger: ledger).deliver(event, to: .email("listener@example.org"))
        } throws: { ($0 as? NotificationError)?.code == .unavailable && ($0 as? NotificationError)?.attempts == 2 }
        // Refused at once, not after the 300 s deadline (× 2 attempts): the bound leaves room for
        // a starved sanitized run.
        #expect(ContinuousClock.now - start < .seconds(240), "reported when refused, not at the deadline")
        let record = try #require(await ledger.records(for: event.job.id).first)
        #expect(record.outcome == .gaveUp && record.attempts == 2 && record.errorCode == "unavailable")
    }

    @Test("an address VMP3_EMAIL_ALLOWED_RECIPIENTS does not name gets nothing: refused before connecting, recorded; an allowed one is mailed")
    func recipientsNotAllowed() async throws {
        let ledger = InMemoryNotificationLedger()
        var channels = try NotificationChannels(settings: Settings([
            "VMP3_SMTP": "\(try TestServices.value("VMP3_TEST_SMTP_URL"))?from=vmp3@example.com&tls=none",
            "VMP3_EMAIL_ALLOWED_RECIPIENTS": "@allowed.example.org, boss@example.net",
        ]))
        channels.email?.initialBackoff = .milliseconds(100)
        let notifier = EmailNotifier(configuration: try #require(channels.email), ledger: ledger)
        let refused = Self.event(.succeeded, title: "Click here")
        await #expect(throws: NotificationError.self) { try await notifier.deliver(refused, to: .email("victim@example.org")) }
        let records = await ledger.records(for: refused.job.id)
        #expect(records.map(\.outcome) == [.gaveUp] && records.first?.errorCode == "forbidden_destination", "\(records)")
        #expect(try ReceivedMail.find(withID: "\(refused.deliveryID)@example.com", in: try TestServices.value("VMP3_TEST_MAILDIR")) == nil)

        for address in ["ann@allowed.example.org", "ann@eu.allowed.example.org", "Boss@Example.net"] {
            let event = Self.event(.succeeded)
            try await notifier.deliver(event, to: .email(address))
            #expect(try ReceivedMail.find(withID: "\(event.deliveryID)@example.com", in: try TestServices.value("VMP3_TEST_MAILDIR")) != nil, "\(address)")
        }
        // With the variable unset, the services mail nobody.
        let unset = try NotificationChannels(settings: Settings(["VMP3_SMTP": "smtp://127.0.0.1:25?from=vmp3@example.com"]))
        #expect(unset.email?.recipients.allowsAny == false)
        #expect(throws: ConfigurationError.self) {
            try NotificationChannels(settings: Settings(["VMP3_SMTP": "smtp://127.0.0.1:25?from=vmp3@example.com", "VMP3_EMAIL_ALLOWED_RECIPIENTS": "not-an-address"]))
        }
    }

    @Test("addresses that could inject headers or commands are refused before connecting")
    func invalidAddresses() async throws {
        let notifier = Self.notifier(try Self.smtp("VMP3_TEST_SMTP_URL", "tls=none"), ledger: InMemoryNotificationLedger())
        for address in ["no-at-sign", "a@b.c\r\nBcc: victim@example.com", "a b@c.d", "<a@b.c>", "a@localhost"] {
            await #expect {
                try await notifier.deliver(Self.event(.succeeded), to: .email(address))
            } throws: { ($0 as? NotificationError)?.code == .invalidDestination }
        }
    }

    @Test("SMTP URLs: STARTTLS required unless said otherwise, smtps is TLS from the start, from= is required")
    func configurationURLs() throws {
        let plain = try SMTPConfiguration(url: URL(string: "smtp://mailer:p%40ss@mail.example.com?from=vmp3@example.com")!)
        #expect(plain.security == .required && plain.port == 587 && plain.username == "mailer" && plain.password == "p@ss")
        #expect(plain.serverURL == "smtp://mail.example.com:587/example.com")
        let tls = try SMTPConfiguration(url: URL(string: "smtps://mail.example.com?from=vmp3@example.com&timeout=5")!)
        #expect(tls.security == .implicit && tls.port == 465 && tls.timeout == .seconds(5) && tls.serverURL.hasPrefix("smtps://"))
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(url: URL(string: "smtp://mail.example.com")!) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(url: URL(string: "smtp://mail.example.com?from=nobody")!) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(url: URL(string: "smtp://mail.example.com?from=a@b.c&tls=maybe")!) }
        #expect(throws: ConfigurationError.self) { try SMTPConfiguration(url: URL(string: "http://mail.example.com?from=a@b.c")!) }
        // A timeout that once trapped the process (Int64 of 1e300 ms) is a configuration error.
        for timeout in ["1e300", "inf", "nan", "0", "-1"] {
            #expect(throws: ConfigurationError.self) { try SMTPConfiguration(url: URL(string: "smtp://mail.example.com?from=a@b.c&timeout=\(timeout)")!) }
        }
    }

    @Test("a message renders with CRLF lines, no header injection through the subject, and base64 for non-ASCII bodies")
    func rendering() {
        let message = EmailMessage(from: "a@b.cd", to: "c@d.ef", subject: "x\r\nBcc: victim@example.com", body: "line 1\n.line 2", messageID: "id@b.cd")
        let text = String(decoding: message.rendered(), as: UTF8.self)
        #expect(text.contains("Subject: x  Bcc: victim@example.com\r\n"))
        #expect(!text.contains("\r\nBcc:"))
        #expect(text.hasSuffix("\r\n\r\nline 1\r\n.line 2\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let unicode = String(decoding: EmailMessage(from: "a@b.cd", to: "c@d.ef", subject: "s", body: "é", messageID: "i@b.cd").rendered(), as: UTF8.self)
        #expect(unicode.contains("Content-Transfer-Encoding: base64\r\n\r\nw6k=\r\n"))
    }
}
