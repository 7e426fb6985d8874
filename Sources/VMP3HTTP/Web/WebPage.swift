import Crypto
import Foundation
import Hummingbird
import NIOCore

/// The web page for people: `GET /` and its script, style sheet and icon under `/web/`, shipped
/// in the binary (package resources embedded in code: no files to install, no build step, no
/// CDN). It talks to the same API as every other client, through a session cookie
/// (``SessionRoutes``).
///
/// The page is served with a Content-Security-Policy that allows scripts, styles and media from
/// this origin only and no inline script, so that even text the server returns (a title, a file
/// name) that a bug inserted as HTML could not run; the script itself only ever sets text.
public enum WebPage {
    /// The policy of the page and its assets.
    public static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "media-src 'self'",
        "connect-src 'self'", "form-action 'none'", "base-uri 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// One file of the page.
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        /// A strong validator: the SHA-256 of the bytes, so a browser revalidates for free.
        let etag: String

        init(_ bytes: [UInt8], contentType: String) {
            self.bytes = bytes
            self.contentType = contentType
            etag = "\"" + SHA256.hash(data: bytes).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
        }
    }

    static let assets: [String: Asset] = [
        "/": Asset(PackageResources.index_html, contentType: "text/html; charset=utf-8"),
        "/web/app.js": Asset(PackageResources.app_js, contentType: "text/javascript; charset=utf-8"),
        "/web/app.css": Asset(PackageResources.app_css, contentType: "text/css; charset=utf-8"),
        "/web/icon.svg": Asset(PackageResources.icon_svg, contentType: "image/svg+xml"),
    ]

    /// Adds `GET` and `HEAD` of the page's files to `router`.
    public static func add(to router: Router<VMP3RequestContext>) {
        for (path, asset) in assets {
            router.get(RouterPath(path)) { request, _ in response(asset, request) }
            router.head(RouterPath(path)) { request, _ in response(asset, request) }
        }
    }

    static func response(_ asset: Asset, _ request: Request) -> Response {
        let headers: HTTPFields = [
            .contentType: asset.contentType, .eTag: asset.etag, .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy,
        ]
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        var full = headers
        full[.contentLength] = "\(asset.bytes.count)"
        let body = request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes))
        return Response(status: .ok, headers: full, body: body)
    }
}
