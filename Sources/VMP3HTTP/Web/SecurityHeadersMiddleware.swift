import HTTPTypes
import Hummingbird

/// Headers every response carries, so that nothing this server returns can be framed, sniffed
/// into another type, or leak the page's address: `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and, unless the route set a stricter
/// one (the web page's, ``WebPage/contentSecurityPolicy``), `Content-Security-Policy:
/// frame-ancestors 'none'`. Errors thrown by routes pass through ``ProblemMiddleware`` first,
/// so they carry the headers too.
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = VMP3RequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        Self.apply(to: &response.headers)
        return response
    }

    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!

    static func apply(to headers: inout HTTPFields) {
        if headers[.xContentTypeOptions] == nil { headers[.xContentTypeOptions] = "nosniff" }
        if headers[Self.referrerPolicy] == nil { headers[Self.referrerPolicy] = "no-referrer" }
        if headers[Self.frameOptions] == nil { headers[Self.frameOptions] = "DENY" }
        if headers[.contentSecurityPolicy] == nil { headers[.contentSecurityPolicy] = "frame-ancestors 'none'" }
    }
}
