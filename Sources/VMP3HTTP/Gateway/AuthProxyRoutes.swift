import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// The gateway's copy of the auth routes: `POST /v1/auth/register`, `POST /v1/auth/login` and
/// `GET /v1/auth/jwks` forwarded to the auth service, so that clients need one address only.
/// Bodies are small JSON documents; status, content type, `Retry-After` and body come back as the
/// auth service sent them, and the client's address (``VMP3RequestContext/clientAddress``) goes
/// along as `X-Forwarded-For` (its login and registration limits are per client).
public struct AuthProxyRoutes: Sendable {
    let upstream: URL
    let client: HTTPClient

    public init(upstream: URL, client: HTTPClient = AuthProxyRoutes.sharedClient) {
        self.upstream = upstream
        self.client = client
    }

    /// The default client: like `HTTPClient.shared`, but with 256 connections to the auth
    /// service rather than 8, so that a login is not queued in the gateway behind a flood of
    /// registrations (the auth service runs logins first; it must see them to do so).
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public func add(to router: Router<VMP3RequestContext>) {
        router.post("v1/auth/register") { request, context in try await forward(request, context, path: "v1/auth/register") }
        router.post("v1/auth/login") { request, context in try await forward(request, context, path: "v1/auth/login") }
        router.get("v1/auth/jwks") { request, context in try await forward(request, context, path: "v1/auth/jwks") }
    }

    private func forward(_ request: Request, _ context: VMP3RequestContext, path: String) async throws -> Response {
        var outgoing = HTTPClientRequest(url: upstream.appendingPathComponent(path).absoluteString)
        outgoing.method = request.method == .post ? .POST : .GET
        if let type = request.headers[.contentType] { outgoing.headers.add(name: "Content-Type", value: type) }
        // The client as this gateway's trusted proxies make it out, alone: the auth service
        // trusts the gateway, so what it is told must already be resolved.
        outgoing.headers.add(name: "X-Forwarded-For", value: context.clientAddress)
        if request.method == .post {
            outgoing.body = .bytes(try await request.body.collect(upTo: context.maxUploadSize))
        }
        let response: HTTPClientResponse
        do {
            // A registration or login is one scrypt hash (about 0.1 s of a core), but it may
            // queue behind others in the auth service's hashing pool, and on a busy machine a
            // hash takes many times its time: 10 s answered 502 for a registration the auth
            // service then completed. The client's own patience is the bound that matters.
            response = try await client.execute(outgoing, timeout: .seconds(30))
        } catch {
            throw ProblemDetails(.badGateway, code: "auth_unavailable", title: "Authentication unavailable", detail: "the auth service did not answer")
        }
        var headers = HTTPFields()
        if let value = response.headers.first(name: "Content-Type") { headers[.contentType] = value }
        if let value = response.headers.first(name: "Retry-After") { headers[.retryAfter] = value }
        if let value = response.headers.first(name: "WWW-Authenticate") { headers[.wwwAuthenticate] = value }
        if let value = response.headers.first(name: "Cache-Control") { headers[.cacheControl] = value }
        let body = try await response.body.collect(upTo: 1 << 20)
        return Response(status: HTTPResponse.Status(code: Int(response.status.code)), headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
