#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Makes backends from configuration URLs. Each module that brings backends supplies one:
/// ``EmbeddedBackendFactory`` here (`file:`, `memory:`), VMP3Transport's for `s3:`, `amqp:`
/// and `redis:`. A factory returns `nil` for a scheme it does not know, so that they chain.
public protocol BackendFactory: Sendable {
    func makeObjectStore(_ url: URL) async throws -> (any ObjectStore)?
    func makeJobStore(_ url: URL) async throws -> (any JobStore)?
    /// A queue called `name` (for example `vmp3.jobs`) of `Message`s.
    func makeMessageQueue<Message: Codable & Sendable>(_ url: URL, name: String, of: Message.Type) async throws -> (any MessageQueue<Message>)?
    /// A conversion cache beside the job store `url` names, its entries kept for `lifetime`.
    /// The default makes none.
    func makeConversionCache(_ url: URL, lifetime: Duration) async throws -> (any ConversionCache)?
}

extension BackendFactory {
    public func makeConversionCache(_ url: URL, lifetime: Duration) async throws -> (any ConversionCache)? {
        nil
    }
}
