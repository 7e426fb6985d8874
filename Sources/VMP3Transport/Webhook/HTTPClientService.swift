import AsyncHTTPClient
import ServiceLifecycle

/// Owns an `HTTPClient` in a process's `ServiceGroup`: runs until graceful shutdown (or until the
/// group is cancelled because a service failed), then shuts the client down, as async-http-client
/// requires before the client is released.
///
/// List it before the services that use the client, so that it stops after them.
public struct HTTPClientService: Service {
    public let client: HTTPClient

    public init(_ client: HTTPClient) {
        self.client = client
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
