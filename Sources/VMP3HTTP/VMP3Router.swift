import Hummingbird
import VMP3Core

/// Builds the router of a VMP3 HTTP process from the parts it serves: routes without a token
/// (``PublicRoutes``: the auth service's, or `vmp3 serve`'s), the job routes behind bearer tokens (the gateway), and always
/// `/healthz`, `/readyz`, `/metrics` and `/openapi.json`. A router with job routes also serves the
/// web page at `/` (``WebPage``) and its session (``SessionRoutes``). Every error leaves as
/// `application/problem+json`, every response with ``SecurityHeadersMiddleware``'s headers;
/// the client's address is the one `trustedProxies` vouch for (``TrustedProxies``), counted by
/// its network prefix (`clientPrefixes`).
public enum VMP3Router {
    public static func make(
        auth: (any PublicRoutes)? = nil,
        jobs: JobRoutes? = nil,
        webhookSecrets: WebhookSecretRoutes? = nil,
        verifier: (any TokenVerifier)? = nil,
        health: HealthRoutes = HealthRoutes(),
        trustedProxies: TrustedProxies = .loopback,
        clientPrefixes: ClientPrefixes = ClientPrefixes()
    ) -> Router<VMP3RequestContext> {
        let router = Router(context: VMP3RequestContext.self)
        router.middlewares.add(MetricsMiddleware())
        router.middlewares.add(SecurityHeadersMiddleware())
        router.middlewares.add(ProblemMiddleware())
        router.middlewares.add(ClientAddressMiddleware(trustedProxies: trustedProxies, prefixes: clientPrefixes))
        health.add(to: router)
        OpenAPIRoute.add(to: router)
        VMP3Metrics.add(to: router)
        auth?.add(to: router)
        if jobs != nil { WebPage.add(to: router) }
        if let verifier {
            if jobs != nil { SessionRoutes(verifier: verifier).add(to: router) }
            let authenticated = router.group().add(middleware: BearerTokenMiddleware(verifier: verifier))
            jobs?.add(to: authenticated)
            webhookSecrets?.add(to: authenticated)
        }
        return router
    }
}
