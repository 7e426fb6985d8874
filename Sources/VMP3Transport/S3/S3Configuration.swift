import Foundation

/// Where and how to reach an S3 bucket: `s3://BUCKET?endpoint=http://127.0.0.1:9000&region=us-east-1&style=path`.
public struct S3Configuration: Sendable, Hashable {
    /// Path style (`ENDPOINT/BUCKET/KEY`) or virtual-hosted style (`BUCKET.ENDPOINT-HOST/KEY`).
    public enum Addressing: String, Sendable, Hashable {
        case path, virtualHosted = "virtual"
    }

    public var bucket: String
    /// The service endpoint; default `https://s3.REGION.amazonaws.com`.
    public var endpoint: URL
    public var region: String
    public var addressing: Addressing
    /// Objects from this size on are uploaded in parts. Default 8 MiB.
    public var multipartThreshold: Int
    /// Size of each part (at least 5 MiB, S3's minimum). Default 8 MiB.
    public var partSize: Int
    /// Parts uploaded at once. Default 2. Memory in use is about `partSize × (uploadConcurrency + 2)`.
    public var uploadConcurrency: Int
    /// Tries of a request that fails with a 5xx or a connection error. Default 4.
    public var maxAttempts: Int
    /// Deadline for a request's answer to begin (a part upload's included). Default 60 s.
    public var requestTimeout: Duration
    /// Whether uploads carry a CRC-32 of their bytes (`x-amz-checksum-crc32`, and
    /// `x-amz-checksum-algorithm: CRC32` for a multipart upload), which S3 checks before it stores
    /// them, as the AWS SDKs send by default. Default `true`; `checksum=none` in the URL turns it
    /// off for an S3-compatible server that refuses these headers.
    public var sendsChecksums: Bool

    /// Whether an upload's signature covers its SHA-256 (`x-amz-content-sha256`). Over HTTPS with
    /// ``sendsChecksums``, uploads go as `UNSIGNED-PAYLOAD`, as the AWS SDKs send them: TLS
    /// protects the bytes on the way and S3 checks their CRC-32, so hashing every byte a second
    /// time buys nothing. Over plain HTTP the signature covers the body, so that nothing on the
    /// way can change it.
    public var signsPayloads: Bool {
        endpoint.scheme?.lowercased() != "https" || !sendsChecksums
    }

    public init(
        bucket: String, endpoint: URL? = nil, region: String = "us-east-1", addressing: Addressing = .virtualHosted,
        multipartThreshold: Int = 8 << 20, partSize: Int = 8 << 20, uploadConcurrency: Int = 2, maxAttempts: Int = 4,
        requestTimeout: Duration = .seconds(60), sendsChecksums: Bool = true
    ) {
        self.bucket = bucket
        self.endpoint = endpoint ?? URL(string: "https://s3.\(region).amazonaws.com")!
        self.region = region
        self.addressing = addressing
        self.multipartThreshold = max(multipartThreshold, 5 << 20)
        self.partSize = max(partSize, 5 << 20)
        self.uploadConcurrency = max(1, uploadConcurrency)
        self.maxAttempts = max(1, maxAttempts)
        self.requestTimeout = requestTimeout
        self.sendsChecksums = sendsChecksums
    }

    /// Reads `s3://BUCKET?endpoint=…&region=…&style=path|virtual&checksum=crc32|none`. A custom
    /// endpoint defaults to path style (what S3-compatible servers expect), AWS to virtual-hosted;
    /// the checksum defaults to CRC-32.
    public init(url: URL) throws {
        guard url.scheme == "s3", let bucket = url.host, !bucket.isEmpty else {
            throw AWSError("not an s3:// URL: \(url.redactingPassword)")
        }
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        func value(_ name: String) -> String? { items.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
        let endpoint = try value("endpoint").map { text -> URL in
            guard let endpoint = URL(string: text), endpoint.scheme == "http" || endpoint.scheme == "https" else {
                throw AWSError("the endpoint \(text) is not an http(s) URL")
            }
            return endpoint
        }
        let style = try value("style").map { text -> Addressing in
            guard let style = Addressing(rawValue: text) else { throw AWSError("style must be path or virtual, not \(text)") }
            return style
        }
        let checksums = try value("checksum").map { text -> Bool in
            switch text.lowercased() {
            case "crc32": return true
            case "none": return false
            default: throw AWSError("checksum must be crc32 or none, not \(text)")
            }
        }
        self.init(bucket: bucket, endpoint: endpoint, region: value("region") ?? "us-east-1",
                  addressing: style ?? (endpoint == nil ? .virtualHosted : .path), sendsChecksums: checksums ?? true)
    }

    /// The URL of `key` (or of the bucket, for `nil`), with `query` (already encoded).
    func url(for key: ObjectKeyPath?, query: String? = nil) -> URL {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        let keyPath = key.map { "/" + $0.encodedPath } ?? "/"
        switch addressing {
        case .path:
            components.percentEncodedPath = "/\(bucket)" + (key == nil ? "" : keyPath)
        case .virtualHosted:
            components.host = "\(bucket).\(endpoint.host ?? "")"
            components.percentEncodedPath = keyPath
        }
        components.percentEncodedQuery = query
        return components.url!
    }
}

/// An object key as it appears in a URL path: each segment percent-encoded, slashes kept.
struct ObjectKeyPath: Sendable {
    let encodedPath: String

    init(_ key: String) {
        encodedPath = key.split(separator: "/", omittingEmptySubsequences: false).map { SigV4Signer.encode(String($0)) }.joined(separator: "/")
    }
}

/// Why a request to AWS could not be made.
struct AWSError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
