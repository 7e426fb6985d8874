#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a job's outcome is sent.
public enum NotificationDestination: Sendable, Hashable, Codable {
    /// An HTTP POST of the event as JSON, signed with the webhook secret.
    case webhook(URL)
    /// A plain-text e-mail.
    case email(String)
    /// Clients of this process that wait on the job (for example, server-sent events).
    case watchers
}

/// Delivers job events to a destination: the sixth seam, beside the five protocols.
///
/// Implementations: ``InProcessNotifier`` here (watchers in this process); webhook and e-mail
/// senders in VMP3Transport.
public protocol Notifier: Sendable {
    /// Whether this notifier handles `destination`.
    func supports(_ destination: NotificationDestination) -> Bool

    /// Delivers `event`. Returns once it has been handed over (for a webhook: the receiver
    /// answered 2xx); throws if it could not be, after the notifier's own retries.
    func deliver(_ event: JobEvent, to destination: NotificationDestination) async throws
}

/// The destinations a job asked for.
extension Job {
    public var notificationDestinations: [NotificationDestination] {
        var destinations: [NotificationDestination] = [.watchers]
        if let webhookURL { destinations.append(.webhook(webhookURL)) }
        if let notifyEmail { destinations.append(.email(notifyEmail)) }
        return destinations
    }
}
