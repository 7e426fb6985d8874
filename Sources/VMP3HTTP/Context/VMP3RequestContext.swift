import Hummingbird
import VMP3Core

/// The request context of VMP3's routers: Hummingbird's core storage plus the caller, once
/// ``BearerTokenMiddleware`` has verified the token.
public struct VMP3RequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The verified claims of the bearer token, on authenticated routes.
    public var caller: AccessTokenClaims?
    /// The address of the connection's peer.
    public let remoteAddress: String
    /// The client's address, for rate limits: the peer's, or the one trusted proxies forwarded
    /// (set by ``ClientAddressMiddleware``).
    public var clientAddress: String
    /// What per-client limits count under: `clientAddress` cut to its network prefix
    /// (``ClientPrefixes``), so that one IPv6 subscriber is one client.
    public var clientKey: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        clientAddress = remoteAddress
        clientKey = remoteAddress
    }

    /// Bodies are streamed by the routes that take them, each with its own limit; this only
    /// bounds what `collect` may gather for small JSON bodies.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The caller's user id. - Throws: 401 if the route is not behind ``BearerTokenMiddleware``.
    public func requireCaller() throws -> UserID {
        guard let caller else { throw ProblemDetails.unauthorized("a bearer token is required") }
        return caller.userID
    }
}
