import Hummingbird

/// Sets ``VMP3RequestContext/clientAddress`` from the connection's address and, when that is a
/// trusted proxy, `X-Forwarded-For` (``TrustedProxies``), and ``VMP3RequestContext/clientKey``,
/// what rate limits are keyed on, from it (``ClientPrefixes``).
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = VMP3RequestContext
    public let trustedProxies: TrustedProxies
    public let prefixes: ClientPrefixes

    public init(trustedProxies: TrustedProxies, prefixes: ClientPrefixes = ClientPrefixes()) {
        self.trustedProxies = trustedProxies
        self.prefixes = prefixes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = trustedProxies.clientAddress(peer: context.remoteAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
        context.clientKey = prefixes.key(for: context.clientAddress)
        return try await next(request, context)
    }
}
