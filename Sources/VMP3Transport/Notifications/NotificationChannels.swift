import AsyncHTTPClient
import Foundation
import Logging
import VMP3Core

/// The channels a process notifies on, and how: a signed webhook when there is a secret to sign
/// with, e-mail when there is an SMTP server. What `vmp3-notifier` and `vmp3 serve` both run.
public struct NotificationChannels: Sendable {
    /// Webhooks are sent (to jobs that name a `webhook_url`) only with this.
    public var webhook: WebhookConfiguration?
    /// E-mail is sent (to owners of jobs that ask for it) only with this.
    public var email: EmailNotifier.Configuration?

    public init(webhook: WebhookConfiguration? = nil, email: EmailNotifier.Configuration? = nil) {
        self.webhook = webhook
        self.email = email
    }

    /// `Setting.webhookSecret` (at least 16 bytes) for webhooks, `Setting.smtp`
    /// (`smtp[s]://…?from=…`, see ``SMTPConfiguration``) for e-mail, and `Setting.publicURL`
    /// (the gateway's address) for the download links in e-mails. An unset one leaves its
    /// channel off.
    ///
    /// - Throws: `ConfigurationError` for a value that is set but unusable.
    public init(settings: Settings) throws {
        self.init(webhook: nil, email: nil)
        // Parsed whether or not their channel is on, so that a malformed list stops the notifier
        // at start rather than when the channel is turned on.
        let recipients = try EmailRecipientPolicy(settings: settings)
        _ = try WebhookEgressPolicy(settings: settings)
        if settings.text(.webhookSecret) != nil {
            webhook = try WebhookConfiguration(settings: settings)
        }
        if let url = try settings.url(.smtp) {
            let smtp: SMTPConfiguration
            do {
                smtp = try SMTPConfiguration(url: url)
            } catch {
                throw ConfigurationError("\(settings.source(of: .smtp)): \(error)")
            }
            email = EmailNotifier.Configuration(
                smtp: smtp, publicBaseURL: try settings.url(.publicURL), recipients: recipients
            )
        }
    }

    /// The notifiers of the configured channels, recording what they send in `ledger`; webhooks
    /// signed with each owner's secret at its generation in `store`.
    public func makeNotifiers(client: HTTPClient, ledger: any NotificationLedger, store: any JobStore, logger: Logger) -> [any Notifier] {
        var notifiers: [any Notifier] = []
        if let webhook {
            notifiers.append(WebhookNotifier(configuration: webhook, client: client, ledger: ledger, generations: store, logger: logger))
        }
        if let email {
            notifiers.append(EmailNotifier(configuration: email, ledger: ledger, logger: logger))
        }
        return notifiers
    }

    /// For the start-up log: `webhook, e-mail`, or what to set when there is neither.
    public var summary: String {
        let names = (webhook == nil ? [] : ["webhook"]) + (email == nil ? [] : ["e-mail"])
        return names.isEmpty ? "nothing (set VMP3_WEBHOOK_SECRET and/or VMP3_SMTP)" : names.joined(separator: ", ")
    }
}
