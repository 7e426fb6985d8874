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

    /// `VMP3_WEBHOOK_SECRET` (at least 16 bytes) for webhooks, `VMP3_SMTP`
    /// (`smtp[s]://…?from=…`, see ``SMTPConfiguration``) for e-mail, and `VMP3_PUBLIC_URL` (the
    /// gateway's address) for the download links in e-mails. An unset variable leaves its
    /// channel off.
    ///
    /// - Throws: ``ConfigurationError`` for a value that is set but unusable.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(webhook: nil, email: nil)
        if value("VMP3_WEBHOOK_SECRET") != nil {
            webhook = try WebhookConfiguration(environment: environment)
        }
        if let smtp = value("VMP3_SMTP") {
            guard let url = URL(string: smtp) else { throw ConfigurationError("VMP3_SMTP is not a URL") }
            var publicBaseURL: URL?
            if let text = value("VMP3_PUBLIC_URL") {
                guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
                    throw ConfigurationError("VMP3_PUBLIC_URL must be an http(s) URL, not \(text)")
                }
                publicBaseURL = url
            }
            email = EmailNotifier.Configuration(
                smtp: try SMTPConfiguration(url: url), publicBaseURL: publicBaseURL,
                recipients: try EmailRecipientPolicy(environment: environment)
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
