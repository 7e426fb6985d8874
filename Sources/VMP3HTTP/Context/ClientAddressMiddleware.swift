import Hummingbird

/// Sets ``VMP3RequestContext/clientAddress`` from the connection's address and, when that is a
/// trusted proxy, `X-Forwarded-For` (``TrustedProxies``): what rate limits are keyed on.
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = VMP3RequestContext
    public let trustedProxies: TrustedProxies

    public init(trustedProxies: TrustedProxies) {
        self.trustedProxies = trustedProxies
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = trustedProxies.clientAddress(peer: context.remoteAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
        return try await next(request, context)
    }
}
