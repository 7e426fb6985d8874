import Foundation
import Logging
import VMP3Core

/// A `Notifier` for `NotificationDestination.email(_:)`: a plain-text message saying the
/// job finished (with its download link) or failed (with the reason), sent by an ``SMTPMailer``.
///
/// Transient failures (no connection, a 4xx reply, a timeout) are retried with backoff up to
/// ``Configuration/maxAttempts``; the outcome goes to the `NotificationLedger` if there is one.
/// The `Message-ID` is made from the event's delivery id, so a message sent twice (after a
/// redelivery) is recognisably the same message.
public struct EmailNotifier: Notifier {
    public struct Configuration: Sendable {
        public var smtp: SMTPConfiguration
        /// The gateway's public address: download links are `BASE/v1/jobs/ID/download`.
        public var publicBaseURL: URL?
        public var maxAttempts: Int
        public var initialBackoff: Duration
        /// Who may be mailed: a message to anyone else is refused (`forbidden_destination`),
        /// unsent. Everyone by default here; the services read `VMP3_EMAIL_ALLOWED_RECIPIENTS`
        /// (``NotificationChannels``), which allows nobody unless set.
        public var recipients: EmailRecipientPolicy

        public init(
            smtp: SMTPConfiguration, publicBaseURL: URL? = nil, maxAttempts: Int = 3, initialBackoff: Duration = .seconds(1),
            recipients: EmailRecipientPolicy = EmailRecipientPolicy(allowsEveryone: true)
        ) {
            self.smtp = smtp
            self.publicBaseURL = publicBaseURL
            self.recipients = recipients
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
        }
    }

    public let configuration: Configuration
    private let mailer: SMTPMailer
    private let ledger: (any NotificationLedger)?
    private let logger: Logger

    public init(configuration: Configuration, ledger: (any NotificationLedger)? = nil, logger: Logger = Logger(label: "vmp3.email")) {
        self.configuration = configuration
        mailer = SMTPMailer(configuration: configuration.smtp)
        self.ledger = ledger
        self.logger = logger
    }

    public func supports(_ destination: NotificationDestination) -> Bool {
        if case .email = destination { return true }
        return false
    }

    public func deliver(_ event: JobEvent, to destination: NotificationDestination) async throws {
        guard case .email(let address) = destination else {
            throw NotificationError(code: .unsupported, message: "the e-mail notifier cannot deliver to \(destination)")
        }
        var logger = logger
        logger[metadataKey: "job_id"] = "\(event.job.id)"
        logger[metadataKey: "delivery_id"] = "\(event.deliveryID)"
        guard configuration.recipients.allows(address) else {
            // Checked again here, not only at upload: a job recorded before the policy changed,
            // or by another gateway, must not mail an address the operator has not allowed.
            let error = NotificationError(code: .forbiddenDestination, message: "e-mail to this address is not allowed (VMP3_EMAIL_ALLOWED_RECIPIENTS)", attempts: 0)
            logger.warning("e-mail refused: recipient not allowed")
            await ledger?.recordOutcome(of: event, channel: destination.channel, attempts: 0, error: error, logger: logger)
            throw error
        }
        let message = self.message(for: event, to: address)
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await mailer.send(message)
                logger.info("e-mail sent", metadata: ["attempt": "\(attempt)"])
                await ledger?.recordOutcome(of: event, channel: destination.channel, attempts: attempt, error: nil, logger: logger)
                return
            } catch var error as NotificationError {
                error.attempts = attempt
                let transient = error.code == .unavailable || error.code == .timedOut
                if transient && attempt < configuration.maxAttempts {
                    logger.warning("e-mail attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                    try await Task.sleep(for: configuration.initialBackoff * (1 << (attempt - 1)))
                    continue
                }
                logger.error("e-mail given up", metadata: ["attempts": "\(attempt)", "error": "\(error)"])
                await ledger?.recordOutcome(of: event, channel: destination.channel, attempts: attempt, error: error, logger: logger)
                throw error
            }
        }
    }

    /// The message for `event`: what happened to the job, and where its MP3 is.
    public func message(for event: JobEvent, to address: String) -> EmailMessage {
        let job = event.job
        let name = job.options.tags.title ?? job.sourceName ?? "job \(job.id)"
        let subject: String
        var lines: [String]
        switch job.status {
        case .succeeded:
            subject = "Your MP3 is ready: \(name)"
            lines = ["Your conversion of \(name) has finished."]
            if let output = job.output {
                lines.append(String(format: "The MP3 lasts %.1f seconds and is %@.", output.duration,
                                    ByteCountFormatter.string(fromByteCount: output.byteCount, countStyle: .file)))
            }
            if let base = configuration.publicBaseURL {
                lines += ["", "Download it (signed in as the account that uploaded it):",
                          base.appendingPathComponent("v1/jobs/\(job.id.rawValue)/download").absoluteString]
            }
        case .failed:
            subject = "Your conversion failed: \(name)"
            lines = ["Your conversion of \(name) failed."]
            if let failure = job.failure { lines.append("Reason: \(failure.message) (\(failure.code))") }
        case .cancelled:
            subject = "Your conversion was cancelled: \(name)"
            lines = ["Your conversion of \(name) was cancelled."]
        case .queued, .running:
            subject = "Your conversion is \(job.status.rawValue): \(name)"
            lines = ["Your conversion of \(name) is \(job.status.rawValue)."]
        }
        lines += ["", "Job: \(job.id.rawValue)", "", "-- ", "VMP3"]
        let domain = configuration.smtp.from.split(separator: "@").last.map(String.init) ?? "vmp3"
        return EmailMessage(
            from: configuration.smtp.from, to: address, subject: subject, body: lines.joined(separator: "\n"),
            messageID: "\(event.deliveryID)@\(domain)"
        )
    }
}
