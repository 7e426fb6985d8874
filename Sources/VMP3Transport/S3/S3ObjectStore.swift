import AsyncHTTPClient
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOHTTP1
import VMP3Core

/// An `ObjectStore` on S3 or an S3-compatible server, over async-http-client with AWS
/// Signature V4 (``SigV4Signer``).
///
/// - Objects below ``S3Configuration/multipartThreshold`` go up in one PUT; larger ones as a
///   multipart upload: parts of ``S3Configuration/partSize``, each read straight into a buffer of
///   its own while the parts before it are on the wire, at most
///   ``S3Configuration/uploadConcurrency`` in flight, and the upload is aborted if anything fails,
///   so no half-written object is left. Memory stays at a few parts whatever the object's size.
/// - Every upload carries its CRC-32 (``S3Configuration/sendsChecksums``), which S3 verifies
///   before storing it; over HTTPS the signature then leaves the body out
///   (``S3Configuration/signsPayloads``), as the AWS SDKs do.
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
        var source = try FilePartSource(file)
        return try await upload(key, from: &source, contentType: contentType)
    }

    @discardableResult
    public func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo
        where Body.Element == [UInt8]
    {
        var source = ChunkPartSource(iterator: body.makeAsyncIterator())
        return try await upload(key, from: &source, contentType: contentType)
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
            // The rename makes the file appear whole or not at all; flushing it to the disk is
            // not this store's promise (the worker's copy is scratch): a caller that needs it
            // synchronises the file itself.
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
        var body = ByteBuffer()
        if configuration.region != "us-east-1" {
            body = ByteBuffer(string: "<CreateBucketConfiguration><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>")
        }
        _ = try await send("PUT", key: nil, body: RequestPayload(document: body), expect: [200, 409])
    }

    // MARK: - Uploads

    /// Reads up to the multipart threshold: a smaller object is one PUT, a larger one a multipart
    /// upload that starts with what was read.
    private func upload(_ key: ObjectKey, from source: inout some PartSource, contentType: String) async throws -> ObjectInfo {
        var head = ByteBufferAllocator().buffer(capacity: min(configuration.multipartThreshold, configuration.partSize))
        try await source.fill(&head, upTo: configuration.multipartThreshold)
        guard head.readableBytes >= configuration.multipartThreshold else {
            let size = Int64(head.readableBytes)
            _ = try await send("PUT", key: key, body: RequestPayload(upload: head, configuration), headers: ["content-type": contentType], expect: [200])
            return ObjectInfo(key: key, size: size, contentType: contentType)
        }
        return try await putMultipart(key, head: head, rest: &source, contentType: contentType)
    }

    private func putMultipart(_ key: ObjectKey, head: ByteBuffer, rest: inout some PartSource, contentType: String) async throws -> ObjectInfo {
        var headers = ["content-type": contentType]
        if configuration.sendsChecksums { headers["x-amz-checksum-algorithm"] = "CRC32" }
        let created = try await send("POST", key: key, query: "uploads=", headers: headers, expect: [200])
        let xml = String(buffer: try await created.body.collect(upTo: 1 << 20))
        guard let uploadID = S3XML.value(of: "UploadId", in: xml) else {
            throw StorageError(code: .failed, message: "S3 started no multipart upload for \(key): \(xml.prefix(200))")
        }
        let uploadQuery = "uploadId=\(SigV4Signer.encode(uploadID))"
        do {
            let (parts, size) = try await uploadParts(key, uploadQuery: uploadQuery, head: head, rest: &rest)
            let completion = "<CompleteMultipartUpload>" + parts.map { part in
                "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(part.etag)</ETag>"
                    + (part.crc32.map { "<ChecksumCRC32>\($0)</ChecksumCRC32>" } ?? "") + "</Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let response = try await send("POST", key: key, query: uploadQuery, body: RequestPayload(document: ByteBuffer(string: completion)), expect: [200])
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

    /// A part S3 has stored: its number, its ETag and the checksum it was sent with.
    private struct UploadedPart: Sendable {
        var number: Int
        var etag: String
        var crc32: String?
    }

    /// Uploads the parts with bounded concurrency. Each part is read into a buffer of its own and
    /// hashed while the ones before it are on the wire, so that it goes out as soon as a place
    /// is free. A sent part's buffer takes the next part: an upload allocates
    /// ``S3Configuration/uploadConcurrency`` + 1 buffers once (fresh ones for every part cost page
    /// faults, and the allocator kept the freed ones). Returns the parts in order and the total size.
    private func uploadParts(_ key: ObjectKey, uploadQuery: String, head: ByteBuffer, rest source: inout some PartSource) async throws -> ([UploadedPart], Int64) {
        let partSize = configuration.partSize
        // What was read and not sent yet: the head first, which may hold more than one part.
        var pending = head
        var parts: [UploadedPart] = []
        var size: Int64 = 0
        var number = 0
        // Buffers whose parts are stored, to be filled again.
        var spare: [ByteBuffer] = []
        try await withThrowingTaskGroup(of: (UploadedPart, ByteBuffer).self) { group in
            var inFlight = 0
            while true {
                if pending.readableBytes < partSize {
                    try await source.fill(&pending, upTo: partSize)
                }
                guard pending.readableBytes > 0 else { break }
                // A slice shares the buffer's memory: no copy.
                let payload = RequestPayload(upload: pending.readSlice(length: min(partSize, pending.readableBytes))!, configuration)
                if pending.readableBytes == 0 {
                    pending = spare.popLast() ?? ByteBufferAllocator().buffer(capacity: partSize)
                }
                number += 1
                size += Int64(payload.bytes.readableBytes)
                if inFlight == configuration.uploadConcurrency, let (done, buffer) = try await group.next() {
                    parts.append(done)
                    spare.append(buffer)
                    inFlight -= 1
                }
                let partNumber = number
                group.addTask {
                    let response = try await send("PUT", key: key, query: "partNumber=\(partNumber)&\(uploadQuery)", body: payload, expect: [200])
                    guard let etag = response.headers.first(name: "etag") else {
                        throw StorageError(code: .failed, message: "S3 returned no ETag for part \(partNumber) of \(key)")
                    }
                    // Read the (empty) answer to its end so that the connection goes back to the pool.
                    _ = try? await response.body.collect(upTo: 1 << 16)
                    var buffer = payload.bytes
                    buffer.clear()
                    return (UploadedPart(number: partNumber, etag: etag, crc32: payload.crc32), buffer)
                }
                inFlight += 1
            }
            for try await (done, _) in group { parts.append(done) }
        }
        return (parts.sorted { $0.number < $1.number }, size)
    }

    // MARK: - Requests

    /// Signs and sends one request, retrying 5xx answers and connection errors with backoff.
    /// Answers outside `expect` become ``StorageError``s.
    private func send(
        _ method: String, key: ObjectKey?, query: String? = nil, body: RequestPayload = .empty, headers: [String: String] = [:], expect: Set<UInt>
    ) async throws -> HTTPClientResponse {
        let url = configuration.url(for: key.map { ObjectKeyPath($0.rawValue) }, query: query)
        var headers = headers
        if let crc32 = body.crc32 {
            headers["x-amz-checksum-crc32"] = crc32
            // What the AWS SDKs send beside it; S3-compatible servers read the algorithm from it.
            headers["x-amz-sdk-checksum-algorithm"] = "CRC32"
        }
        var lastError: StorageError?
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                try await Task.sleep(for: .milliseconds(100 * (1 << (attempt - 2))))
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = HTTPMethod(rawValue: method)
            var toSign = headers
            toSign["host"] = SigV4Signer.hostHeader(url)
            let signed = signer.signedHeaders(method: method, url: url, headers: toSign, payloadHash: body.sha256)
            for (name, value) in headers.merging(signed, uniquingKeysWith: { $1 }) { request.headers.add(name: name, value: value) }
            if body.bytes.readableBytes > 0 || method == "PUT" || method == "POST" {
                request.body = .bytes(body.bytes)
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

/// A request body with the digests its request carries, computed once however often the
/// request is retried.
struct RequestPayload: Sendable {
    static let empty = RequestPayload(ByteBuffer(), checksum: false, signed: true)

    let bytes: ByteBuffer
    /// What Signature V4 signs as the body (`x-amz-content-sha256`): its SHA-256 in hex, or
    /// `UNSIGNED-PAYLOAD`.
    let sha256: String
    /// The body's CRC-32 for `x-amz-checksum-crc32`, if checksums are sent.
    let crc32: String?

    /// - Parameters:
    ///   - checksum: whether to send the body's CRC-32.
    ///   - signed: whether the signature covers the body's SHA-256 (``S3Configuration/signsPayloads``).
    init(_ bytes: ByteBuffer, checksum: Bool, signed: Bool) {
        self.bytes = bytes
        if bytes.readableBytes == 0 {
            sha256 = SigV4Signer.emptyPayload
        } else if signed {
            sha256 = bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hexEncoded
        } else {
            sha256 = SigV4Signer.unsignedPayload
        }
        crc32 = checksum ? CRC32(of: bytes).base64 : nil
    }

    /// An upload's body, with the checksum and signing `configuration` asks for.
    init(upload bytes: ByteBuffer, _ configuration: S3Configuration) {
        self.init(bytes, checksum: configuration.sendsChecksums, signed: configuration.signsPayloads)
    }

    /// A body of S3's own API (XML), signed and without a checksum.
    init(document bytes: ByteBuffer) {
        self.init(bytes, checksum: false, signed: true)
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

/// Where the bytes of an upload come from.
protocol PartSource {
    /// Appends bytes to `buffer` until it holds `count` readable bytes or the source has no
    /// more (it then holds fewer).
    mutating func fill(_ buffer: inout ByteBuffer, upTo count: Int) async throws
}

/// A file's bytes, read straight into the part buffers.
struct FilePartSource: PartSource {
    private let handle: FileHandle
    private let path: String

    init(_ url: URL) throws {
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw StorageError(code: .localFile, message: "cannot read \(url.path): \(error.localizedDescription)")
        }
        path = url.path
    }

    mutating func fill(_ buffer: inout ByteBuffer, upTo count: Int) async throws {
        let descriptor = handle.fileDescriptor
        while buffer.readableBytes < count {
            let wanted = count - buffer.readableBytes
            var failure: Int32?
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                while true {
                    let result = systemRead(descriptor, space.baseAddress, wanted)
                    if result >= 0 { return result }
                    if errno != EINTR {
                        failure = errno
                        return 0
                    }
                }
            }
            if let failure {
                throw StorageError(code: .localFile, message: "reading \(path) failed: \(String(cString: strerror(failure)))")
            }
            if read == 0 { return }
        }
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
#elseif canImport(Darwin)
private let systemRead = Darwin.read
#endif

/// The bytes of an async sequence of chunks; a chunk that overruns a part is carried into the next.
struct ChunkPartSource<Iterator: AsyncIteratorProtocol>: PartSource where Iterator.Element == [UInt8] {
    var iterator: Iterator
    private var carry: ArraySlice<UInt8> = []

    init(iterator: Iterator) {
        self.iterator = iterator
    }

    mutating func fill(_ buffer: inout ByteBuffer, upTo count: Int) async throws {
        while buffer.readableBytes < count {
            if carry.isEmpty {
                let next: [UInt8]?
                do { next = try await iterator.next() } catch {
                    throw StorageError(code: .failed, message: "reading the body failed: \(error)")
                }
                guard let next else { return }
                carry = next[...]
            }
            let taken = carry.prefix(count - buffer.readableBytes)
            buffer.writeBytes(taken)
            carry = carry.dropFirst(taken.count)
        }
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
