import Hummingbird

/// Routes a process serves without a bearer token, which add themselves to its router: the auth
/// service's (VMP3AuthHTTP's `AuthRoutes`) or the gateway's proxy to it (``AuthProxyRoutes``).
public protocol PublicRoutes: Sendable {
    func add(to router: Router<VMP3RequestContext>)
}

extension AuthProxyRoutes: PublicRoutes {}
