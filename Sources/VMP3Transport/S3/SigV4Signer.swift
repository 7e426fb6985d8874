import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), for headers and for presigned URLs.
///
/// Pure: given the request, credentials and time, it computes the signature, so it can be
/// checked against AWS's published examples and against botocore.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    /// The body hash for a body that is not signed (S3 accepts it; the connection protects it).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty body.
    public static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256` (if `payloadHash`
    /// is given), `x-amz-security-token` (with a session token) and `Authorization`.
    ///
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - url: the request's URL, query included.
    ///   - headers: headers to sign besides those; must include `host`.
    ///   - payloadHash: the body's SHA-256 in hex, or `UNSIGNED-PAYLOAD`; `nil` to send none.
    ///   - date: the signing time.
    public func signedHeaders(
        method: String, url: URL, headers: [String: String], payloadHash: String?, date: Date = Date()
    ) -> [String: String] {
        let (timestamp, day) = Self.timestamps(date)
        var all = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
        all["x-amz-date"] = timestamp
        if let payloadHash { all["x-amz-content-sha256"] = payloadHash }
        if let token = credentials.sessionToken { all["x-amz-security-token"] = token }
        let names = all.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(Self.trim(all[$0]!))\n" }.joined()
        let signed = names.joined(separator: ";")
        let canonical = [
            method, Self.canonicalURI(url), Self.canonicalQuery(url), canonicalHeaders, signed, payloadHash ?? Self.emptyPayload,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = sign(canonical, timestamp: timestamp, day: day, scope: scope)
        var result = all.filter { ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token"].contains($0.key) }
        result["authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"
        return result
    }

    /// A URL anyone can use for `method` until `expires` has passed (query-string signing,
    /// signed header `host`, unsigned payload).
    public func presignedURL(method: String = "GET", url: URL, expires: Duration, date: Date = Date()) -> URL {
        let (timestamp, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        var query = components.percentEncodedQueryItems ?? []
        query += [
            URLQueryItem(name: "X-Amz-Algorithm", value: "AWS4-HMAC-SHA256"),
            URLQueryItem(name: "X-Amz-Credential", value: Self.encode("\(credentials.accessKeyID)/\(scope)")),
            URLQueryItem(name: "X-Amz-Date", value: timestamp),
            URLQueryItem(name: "X-Amz-Expires", value: String(Int(expires.components.seconds))),
            URLQueryItem(name: "X-Amz-SignedHeaders", value: "host"),
        ]
        if let token = credentials.sessionToken {
            query.append(URLQueryItem(name: "X-Amz-Security-Token", value: Self.encode(token)))
        }
        components.percentEncodedQueryItems = query
        let unsigned = components.url!
        let canonical = [
            method, Self.canonicalURI(unsigned), Self.canonicalQuery(unsigned), "host:\(Self.hostHeader(unsigned))\n", "host", Self.unsignedPayload,
        ].joined(separator: "\n")
        let signature = sign(canonical, timestamp: timestamp, day: day, scope: scope)
        components.percentEncodedQueryItems = query + [URLQueryItem(name: "X-Amz-Signature", value: signature)]
        return components.url!
    }

    /// The `Host` header value for `url`: the host, with the port unless it is the scheme's default.
    public static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port, !(url.scheme == "http" && port == 80), !(url.scheme == "https" && port == 443) else { return host }
        return "\(host):\(port)"
    }

    // MARK: - The algorithm

    private func sign(_ canonicalRequest: String, timestamp: String, day: String, scope: String) -> String {
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, SHA256.hash(data: Data(canonicalRequest.utf8)).hexEncoded].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key).hexEncoded
    }

    static func timestamps(_ date: Date) -> (timestamp: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// The path, each segment URI-encoded once (S3 does not double-encode).
    static func canonicalURI(_ url: URL) -> String {
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { encode($0.removingPercentEncoding ?? String($0)) }
            .joined(separator: "/")
    }

    /// Query parameters sorted by name then value, each URI-encoded.
    static func canonicalQuery(_ url: URL) -> String {
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQueryItems ?? []
        return items
            .map { (encode($0.name.removingPercentEncoding ?? $0.name), encode(($0.value ?? "").removingPercentEncoding ?? "")) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 encoding: everything but `A–Z a–z 0–9 - . _ ~` (and `/` if `keepingSlashes`).
    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepingSlashes:
                result.append("/")
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    static func trim(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
