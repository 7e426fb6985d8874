import Foundation
import VMP3Core

/// The JSON body of a webhook: which event, about which job, with a delivery id that stays the
/// same across retries and redeliveries (receivers drop duplicates by it).
public struct WebhookEvent: Sendable, Hashable, Codable {
    /// The delivery id, also sent as the `VMP3-Delivery` header.
    public var id: String
    /// `job.succeeded`, `job.failed`, … (`JobEvent.name`).
    public var type: String
    public var job: JobDocument

    public init(_ event: JobEvent) {
        id = event.deliveryID
        type = event.name
        job = JobDocument(event.job)
    }
}
