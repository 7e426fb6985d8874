import Hummingbird
import NIOCore

/// `GET /openapi.json`: the gateway's OpenAPI 3.1 document (``document``), the file
/// `Sources/VMP3HTTP/Health/openapi.json` compiled into the module as the web page's assets are.
public enum OpenAPIRoute {
    /// The gateway's OpenAPI 3.1 document, as JSON.
    public static let document = String(decoding: PackageResources.openapi_json, as: UTF8.self)

    public static func add(to router: Router<VMP3RequestContext>) {
        let body = ByteBuffer(bytes: PackageResources.openapi_json)
        router.get("openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
        }
    }
}
