import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import VMP3Core

/// An `ObjectStore` on S3 or an S3-compatible server, over async-http-client with AWS
/// Signature V4 (``SigV4Signer``).
///
/// - Objects below ``S3Configuration/multipartThreshold`` go up in one streamed PUT; larger ones
///   as a multipart upload: parts of ``S3Configuration/partSize`` read one at a time, at most
///   ``S3Configuration/uploadConcurrency`` in flight, and the upload is aborted if anything fails,
///   so no half-written object is left. Memory stays at a few parts whatever the object's size.
/// - GETs stream the body. Presigned GET URLs carry an expiry.
/// - Requests that fail with a 5xx answer or a connection error are retried with backoff; S3's XML
///   errors become `StorageError` codes (`NoSuchKey` → notFound, `AccessDenied` → accessDenied, …).
public struct S3ObjectStore: ObjectStore {
    public let configuration: S3Configuration
    private let signer: SigV4Signer
    private let client: HTTPClient
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: the bucket, its endpoint and region, timeouts and retries.
    ///   - credentials: the access key requests are signed with.
    ///   - client: default ``defaultHTTPClient``. Another client should not retry connection
    ///     attempts itself (`retryConnectionEstablishment`): requests are retried here.
    ///   - logger: for retries and failures.
    public init(configuration: S3Configuration, credentials: AWSCredentials, client: HTTPClient = S3ObjectStore.defaultHTTPClient, logger: Logger = Logger(label: "vmp3.s3")) {
        self.configuration = configuration
        signer = SigV4Signer(credentials: credentials, region: configuration.region)
        self.client = client
        self.logger = logger
    }

    /// The client S3 stores share unless given one. A connection attempt that fails fails its
    /// request at once, and `send` retries it with its own backoff: async-http-client's default
    /// is to retry connecting until the request's deadline, which made a refused connection take
    /// ``S3Configuration/requestTimeout`` × ``S3Configuration/maxAttempts`` (4 minutes) to report.
    public static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    // MARK: - ObjectStore

    @discardableResult
    public func put(_ key: ObjectKey, fromFile file: URL, contentType: String) async throws -> ObjectInfo {
        let size: Int64
        do {
            size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
        } catch {
            throw StorageError(code: .localFile, message: "cannot read \(file.path): \(error.localizedDescription)")
        }
        if size < Int64(configuration.multipartThreshold) {
            // Small: read once (bounded by the threshold) so that a retry can send it again.
            let data: Data
            do { data = try Data(contentsOf: file) } catch {
                throw StorageError(code: .localFile, message: "cannot read \(file.path): \(error.localizedDescription)")
            }
            try await putSingle(key, bytes: [UInt8](data), contentType: contentType)
            return ObjectInfo(key: key, size: Int64(data.count), contentType: contentType)
        }
        let reader = try FileChunkSource(file, chunkSize: configuration.partSize)
        return try await putMultipart(key, firstPart: nil, rest: reader, contentType: contentType)
    }

    @discardableResult
    public func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo
        where Body.Element == [UInt8]
    {
        // Collect up to the threshold: a small object is one PUT, a large one a multipart upload
        // that starts with what was collected.
        var iterator = body.makeAsyncIterator()
        var head: [UInt8] = []
        do {
            while head.count < configuration.multipartThreshold, let chunk = try await iterator.next() { head += chunk }
        } catch {
            throw StorageError(code: .failed, message: "reading the body of \(key) failed: \(error)")
        }
        if head.count < configuration.multipartThreshold {
            try await putSingle(key, bytes: head, contentType: contentType)
            return ObjectInfo(key: key, size: Int64(head.count), contentType: contentType)
        }
        let source = IteratorChunkSource(iterator: iterator, partSize: configuration.partSize)
        return try await putMultipart(key, firstPart: head, rest: source, contentType: contentType)
    }

    public func get(_ key: ObjectKey, toFile file: URL) async throws -> ObjectInfo {
        let download = try await get(key)
        let staging = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
        guard FileManager.default.createFile(atPath: staging.path, contents: nil) else {
            throw StorageError(code: .localFile, message: "cannot create \(staging.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: staging)
            defer { try? handle.close() }
            for try await chunk in download.body { try handle.write(contentsOf: chunk) }
            try handle.synchronize()
            if rename(staging.path, file.path) != 0 { throw StorageError(code: .localFile, message: "cannot move into \(file.path)") }
        } catch {
            try? FileManager.default.removeItem(at: staging)
            if let error = error as? StorageError { throw error }
            throw StorageError(code: .unavailable, message: "downloading \(key) failed: \(error)")
        }
        return download.info
    }

    public func get(_ key: ObjectKey) async throws -> ObjectDownload {
        let response = try await send("GET", key: key, expect: [200])
        let info = ObjectInfo(
            key: key,
            size: response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0,
            contentType: response.headers.first(name: "content-type") ?? "application/octet-stream"
        )
        // Pulled on demand, so async-http-client reads from the network only as fast as the
        // consumer takes chunks: memory does not grow with the object.
        let reader = ResponseBodyReader(response.body.makeAsyncIterator(), key: key)
        return ObjectDownload(info: info, body: AsyncThrowingStream { try await reader.next() })
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws -> ObjectDownload {
        // An empty or negative range is refused here (the size is not known before the GET);
        // one that starts past the end is S3's 416 InvalidRange, which becomes `.invalidRange`.
        _ = try Self.clip(range, toSize: .max, of: key)
        let response = try await send("GET", key: key, headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound - 1)"], expect: [206])
        // `Content-Range: bytes FIRST-LAST/TOTAL`: what came, and the whole object's size.
        guard let contentRange = response.headers.first(name: "content-range"),
              let (first, last, total) = Self.parseContentRange(contentRange) else {
            throw StorageError(code: .failed, message: "S3 answered a ranged GET of \(key) without a Content-Range")
        }
        let info = ObjectInfo(key: key, size: total, contentType: response.headers.first(name: "content-type") ?? "application/octet-stream")
        let reader = ResponseBodyReader(response.body.makeAsyncIterator(), key: key)
        return ObjectDownload(info: info, range: first..<(last + 1), body: AsyncThrowingStream { try await reader.next() })
    }

    /// `bytes FIRST-LAST/TOTAL` as numbers.
    static func parseContentRange(_ value: String) -> (Int64, Int64, Int64)? {
        guard value.hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst(6).split(separator: "/")
        guard parts.count == 2, let total = Int64(parts[1]) else { return nil }
        let bounds = parts[0].split(separator: "-")
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first <= last, last < total else { return nil }
        return (first, last, total)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo {
        let response = try await send("HEAD", key: key, expect: [200])
        return ObjectInfo(
            key: key,
            size: response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0,
            contentType: response.headers.first(name: "content-type") ?? "application/octet-stream"
        )
    }

    public func delete(_ key: ObjectKey) async throws {
        _ = try await send("DELETE", key: key, expect: [200, 204, 404])
    }

    public func downloadURL(for key: ObjectKey, expiresIn: Duration, contentDisposition: String?) async throws -> URL? {
        let query = contentDisposition.map { "response-content-disposition=\(SigV4Signer.encode($0))" }
        return signer.presignedURL(url: configuration.url(for: ObjectKeyPath(key.rawValue), query: query), expires: expiresIn)
    }

    /// Creates the bucket if it does not exist (for tests and first start on a local server).
    public func createBucketIfNeeded() async throws {
        var body: [UInt8] = []
        if configuration.region != "us-east-1" {
            body = Array("<CreateBucketConfiguration><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        _ = try await send("PUT", key: nil, body: body, expect: [200, 409])
    }

    // MARK: - Uploads

    private func putSingle(_ key: ObjectKey, bytes: [UInt8], contentType: String) async throws {
        _ = try await send("PUT", key: key, body: bytes, headers: ["content-type": contentType], expect: [200])
    }

    private func putMultipart(_ key: ObjectKey, firstPart: [UInt8]?, rest: some PartSource, contentType: String) async throws -> ObjectInfo {
        let created = try await send("POST", key: key, query: "uploads=", headers: ["content-type": contentType], expect: [200])
        let xml = String(buffer: try await created.body.collect(upTo: 1 << 20))
        guard let uploadID = S3XML.value(of: "UploadId", in: xml) else {
            throw StorageError(code: .failed, message: "S3 started no multipart upload for \(key): \(xml.prefix(200))")
        }
        let uploadQuery = "uploadId=\(SigV4Signer.encode(uploadID))"
        do {
            let (etags, size) = try await uploadParts(key, uploadQuery: uploadQuery, firstPart: firstPart, rest: rest)
            let completion = "<CompleteMultipartUpload>" + etags.enumerated().map {
                "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let response = try await send("POST", key: key, query: uploadQuery, body: Array(completion.utf8), expect: [200])
            // S3 can answer 200 and still report an error in the body.
            let answer = String(buffer: try await response.body.collect(upTo: 1 << 20))
            if let code = S3XML.value(of: "Code", in: answer) {
                throw S3XML.error(code: code, message: S3XML.value(of: "Message", in: answer) ?? "", status: 200, key: key)
            }
            return ObjectInfo(key: key, size: size, contentType: contentType)
        } catch {
            logger.warning("aborting a multipart upload", metadata: ["key": "\(key)", "error": "\(error)"])
            _ = try? await send("DELETE", key: key, query: uploadQuery, expect: [204, 200, 404])
            throw error
        }
    }

    /// Uploads the parts with bounded concurrency; returns their ETags in order and the total size.
    private func uploadParts(_ key: ObjectKey, uploadQuery: String, firstPart: [UInt8]?, rest: some PartSource) async throws -> ([String], Int64) {
        var source = rest
        var pending = firstPart.map { [$0] } ?? []
        var etags: [Int: String] = [:]
        var size: Int64 = 0
        var number = 0
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var inFlight = 0
            while true {
                // The collected head may exceed a part: cut it into parts of partSize.
                var part: [UInt8] = []
                if !pending.isEmpty {
                    part = pending.removeFirst()
                    if part.count > configuration.partSize {
                        pending.insert(Array(part[configuration.partSize...]), at: 0)
                        part = Array(part[..<configuration.partSize])
                    }
                }
                // Fill the part from the source: files and streams may hand over less at a time.
                while part.count < configuration.partSize, let more = try await source.nextPart(upTo: configuration.partSize - part.count) {
                    part += more
                }
                if part.isEmpty { break }
                number += 1
                size += Int64(part.count)
                if inFlight == configuration.uploadConcurrency, let (done, etag) = try await group.next() {
                    etags[done] = etag
                    inFlight -= 1
                }
                let partNumber = number
                // One copy per part in flight: the array goes as soon as the buffer exists.
                let bytes = ByteBuffer(bytes: part)
                part = []
                group.addTask {
                    let response = try await send("PUT", key: key, query: "partNumber=\(partNumber)&\(uploadQuery)", body: bytes, expect: [200])
                    guard let etag = response.headers.first(name: "etag") else {
                        throw StorageError(code: .failed, message: "S3 returned no ETag for part \(partNumber) of \(key)")
                    }
                    // Read the (empty) answer to its end so that the connection goes back to the pool.
                    _ = try? await response.body.collect(upTo: 1 << 16)
                    return (partNumber, etag)
                }
                inFlight += 1
            }
            for try await (done, etag) in group { etags[done] = etag }
        }
        return ((1...max(1, number)).compactMap { etags[$0] }, size)
    }

    // MARK: - Requests

    /// Signs and sends one request, retrying 5xx answers and connection errors with backoff.
    /// Answers outside `expect` become ``StorageError``s.
    private func send(
        _ method: String, key: ObjectKey?, query: String? = nil, body: [UInt8], headers: [String: String] = [:], expect: Set<UInt>
    ) async throws -> HTTPClientResponse {
        try await send(method, key: key, query: query, body: ByteBuffer(bytes: body), headers: headers, expect: expect)
    }

    private func send(
        _ method: String, key: ObjectKey?, query: String? = nil, body: ByteBuffer = ByteBuffer(), headers: [String: String] = [:], expect: Set<UInt>
    ) async throws -> HTTPClientResponse {
        let url = configuration.url(for: key.map { ObjectKeyPath($0.rawValue) }, query: query)
        var lastError: StorageError?
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                try await Task.sleep(for: .milliseconds(100 * (1 << (attempt - 2))))
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = HTTPMethod(rawValue: method)
            let payloadHash = body.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hexEncoded
            var toSign = headers
            toSign["host"] = SigV4Signer.hostHeader(url)
            let signed = signer.signedHeaders(method: method, url: url, headers: toSign, payloadHash: payloadHash)
            for (name, value) in headers.merging(signed, uniquingKeysWith: { $1 }) { request.headers.add(name: name, value: value) }
            if body.readableBytes > 0 || method == "PUT" || method == "POST" {
                request.body = .bytes(body)
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: TimeAmount(configuration.requestTimeout))
            } catch {
                lastError = StorageError(code: .unavailable, message: "\(method) \(url.path) failed: \(error)")
                continue
            }
            let status = response.status.code
            if expect.contains(status) { return response }
            let text = method == "HEAD" ? "" : String(buffer: (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer())
            let error = S3XML.error(
                code: S3XML.value(of: "Code", in: text) ?? (status == 404 ? "NoSuchKey" : "HTTP\(status)"),
                message: S3XML.value(of: "Message", in: text) ?? "", status: status, key: key
            )
            guard status >= 500 else { throw error }
            lastError = error
        }
        throw lastError ?? StorageError(code: .unavailable, message: "\(method) \(url.path) failed")
    }
}

/// S3's XML error documents, read just far enough.
enum S3XML {
    static func value(of element: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(element)>"), let end = xml.range(of: "</\(element)>", range: start.upperBound..<xml.endIndex) else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    static func error(code: String, message: String, status: UInt, key: ObjectKey?) -> StorageError {
        let what = key.map { "\($0)" } ?? "the bucket"
        let text = "S3 answered \(status) \(code) for \(what)" + (message.isEmpty ? "" : ": \(message)")
        switch code {
        case "NoSuchKey", "NoSuchUpload", "NoSuchBucket": return StorageError(code: .notFound, message: text)
        case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken": return StorageError(code: .accessDenied, message: text)
        case "InvalidRange": return StorageError(code: .invalidRange, message: text)
        case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout": return StorageError(code: .unavailable, message: text)
        default: return StorageError(code: status >= 500 ? .unavailable : .failed, message: text)
        }
    }
}

/// Where the parts of a multipart upload come from.
protocol PartSource {
    /// Up to `limit` more bytes, or `nil` at the end.
    mutating func nextPart(upTo limit: Int) async throws -> [UInt8]?
}

/// Parts read from a file.
struct FileChunkSource: PartSource {
    private let handle: FileHandle
    /// Set at the end of the file: the handle is closed, and later calls must not read it.
    private var finished = false

    init(_ url: URL, chunkSize: Int) throws {
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw StorageError(code: .localFile, message: "cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    mutating func nextPart(upTo limit: Int) async throws -> [UInt8]? {
        guard !finished else { return nil }
        let data: Data?
        do { data = try handle.read(upToCount: limit) } catch {
            throw StorageError(code: .localFile, message: "reading the file to upload failed: \(error.localizedDescription)")
        }
        guard let data, !data.isEmpty else {
            finished = true
            try? handle.close()
            return nil
        }
        return [UInt8](data)
    }
}

/// Parts read from the rest of an async sequence of chunks.
struct IteratorChunkSource<Iterator: AsyncIteratorProtocol>: PartSource where Iterator.Element == [UInt8] {
    var iterator: Iterator
    var carry: [UInt8] = []
    let partSize: Int

    mutating func nextPart(upTo limit: Int) async throws -> [UInt8]? {
        while carry.count < limit {
            let next: [UInt8]?
            do { next = try await iterator.next() } catch {
                throw StorageError(code: .failed, message: "reading the body failed: \(error)")
            }
            guard let next else { break }
            carry += next
        }
        guard !carry.isEmpty else { return nil }
        let part = Array(carry.prefix(limit))
        carry.removeFirst(part.count)
        return part
    }
}

/// Reads a response body one chunk per request, for `AsyncThrowingStream(unfolding:)`.
// @unchecked: the iterator is not Sendable, but `AsyncThrowingStream(unfolding:)` calls `next()`
// for one consumer at a time, never concurrently, so it is never used from two tasks at once.
final class ResponseBodyReader: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private let key: ObjectKey

    init(_ iterator: HTTPClientResponse.Body.AsyncIterator, key: ObjectKey) {
        self.iterator = iterator
        self.key = key
    }

    func next() async throws -> [UInt8]? {
        do {
            return try await iterator.next().map { Array(buffer: $0) }
        } catch {
            throw StorageError(code: .unavailable, message: "reading \(key) failed: \(error)")
        }
    }
}
