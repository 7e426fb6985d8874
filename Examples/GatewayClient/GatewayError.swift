/// What the gateway answered instead of success, from its `application/problem+json` body.
struct GatewayError: Error, CustomStringConvertible {
    /// The HTTP status.
    var status: Int
    /// The problem's stable code, the end of its `type` (`invalid_credentials`, `upload_too_large`, …).
    var code: String
    var detail: String?

    var description: String { "\(status) \(code)\(detail.map { ": \($0)" } ?? "")" }
}

extension GatewayError: Decodable {
    private enum CodingKeys: String, CodingKey { case type, status, detail }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(Int.self, forKey: .status)
        code = String(try container.decode(String.self, forKey: .type).split(separator: "/").last ?? "")
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
    }
}
