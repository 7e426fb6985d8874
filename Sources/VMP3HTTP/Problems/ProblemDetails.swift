import Foundation
import Hummingbird
import NIOCore

/// An HTTP error as `application/problem+json` (RFC 9457): a stable `type` per cause, a `title`,
/// the `status` and a `detail` for people.
///
/// Routes throw these; ``ProblemMiddleware`` turns any other error into one.
public struct ProblemDetails: HTTPResponseError, Codable, Sendable, Equatable {
    /// `https://vmp3.dev/problems/CODE`: the stable part is `CODE`.
    public var type: String
    public var title: String
    public var status: HTTPResponse.Status
    public var detail: String?
    /// Seconds to wait before trying again (429, 503), sent as `Retry-After`.
    public var retryAfter: Int?
    /// More header fields to answer with (e.g. `Content-Range` of a 416); not in the body.
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, retryAfter: Int? = nil) {
        type = "https://vmp3.dev/problems/\(code)"
        self.title = title
        self.status = status
        self.detail = detail
        self.retryAfter = retryAfter
    }

    /// The code at the end of ``type``.
    public var code: String { String(type.split(separator: "/").last ?? "") }

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        title = try container.decode(String.self, forKey: .title)
        status = HTTPResponse.Status(code: try container.decode(Int.self, forKey: .status))
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        retryAfter = nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status.code, forKey: .status)
        try container.encodeIfPresent(detail, forKey: .detail)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = try encoder.encode(self)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension ProblemDetails {
    public static func notFound(_ detail: String = "no such resource") -> ProblemDetails {
        ProblemDetails(.notFound, code: "not_found", title: "Not found", detail: detail)
    }

    public static func unauthorized(_ detail: String) -> ProblemDetails {
        ProblemDetails(.unauthorized, code: "unauthorized", title: "Authentication required", detail: detail)
    }

    public static func badRequest(_ code: String, _ detail: String) -> ProblemDetails {
        ProblemDetails(.badRequest, code: code, title: "Bad request", detail: detail)
    }

    /// 429 `too_many_event_streams`: the caller's, or the server's, event streams are at their limit.
    public static func tooManyEventStreams(retryAfter: Int, _ detail: String) -> ProblemDetails {
        ProblemDetails(.tooManyRequests, code: "too_many_event_streams", title: "Too many event streams", detail: detail, retryAfter: max(1, retryAfter))
    }

    public static func tooManyRequests(retryAfter: Int, _ detail: String) -> ProblemDetails {
        ProblemDetails(.tooManyRequests, code: "rate_limited", title: "Too many requests", detail: detail, retryAfter: max(1, retryAfter))
    }
}
