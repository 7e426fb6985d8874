import Hummingbird
import NIOCore

/// `GET /openapi.json`: the gateway's OpenAPI 3.1 document (``document``, generated from
/// `Docs/openapi.json`).
public enum OpenAPIRoute {
    public static func add(to router: Router<VMP3RequestContext>) {
        router.get("openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
        }
    }
}
