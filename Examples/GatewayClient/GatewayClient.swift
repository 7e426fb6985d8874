import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOFileSystem
import NIOHTTP1
import VMP3Core

/// A client of the VMP3 gateway's HTTP API (Sources/VMP3HTTP/Health/openapi.json), on AsyncHTTPClient. Uploads and
/// downloads stream between the file and the socket: memory stays flat whatever the file's size.
struct GatewayClient: Sendable {
    let baseURL: String
    let http: HTTPClient
    /// The bearer token, once logged in.
    var token: String?

    init(baseURL: String, http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
    }

    /// Registers `email`; an address that is registered already is not an error here.
    func register(email: String, password: String) async throws {
        let response = try await send(json("/v1/auth/register", ["email": email, "password": password]), expect: [201, 409])
        _ = try await response.body.collect(upTo: 1 << 16)
    }

    /// Logs in and keeps the token for the calls that follow.
    mutating func logIn(email: String, password: String) async throws {
        struct Token: Decodable { var access_token: String }
        let response = try await send(json("/v1/auth/login", ["email": email, "password": password]), expect: [200])
        token = try JSONDecoder().decode(Token.self, from: try await response.body.collect(upTo: 1 << 16)).access_token
    }

    /// Uploads `file` (streamed from disk) as a new job, with `options` as query parameters
    /// (`bitrate`, `title`, `webhook_url`, …).
    func upload(_ file: String, options: [String: String] = [:]) async throws -> JobDocument {
        var components = URLComponents()
        components.queryItems = options.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        let query = components.percentEncodedQuery.map { "?" + $0 } ?? ""
        return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
            let size = try await handle.info().size
            var request = authorized("/v1/jobs" + query, method: .POST)
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            request.body = .stream(handle.readChunks(in: 0..<size, chunkLength: .kibibytes(256)), length: .known(size))
            let response = try await send(request, expect: [202])
            return try JobDocument.makeDecoder().decode(JobDocument.self, from: try await response.body.collect(upTo: 1 << 20))
        }
    }

    /// The job's server-sent events, from now until the job ends (the stream then closes).
    func events(of job: JobID) async throws -> AsyncThrowingStream<ServerSentEvent, any Error> {
        let response = try await send(authorized("/v1/jobs/\(job.rawValue)/events", method: .GET), expect: [200], timeout: .hours(24))
        return AsyncThrowingStream { continuation in
            let reading = Task {
                do {
                    var parser = ServerSentEventParser()
                    for try await chunk in response.body {
                        for event in parser.feed(chunk) { continuation.yield(event) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in reading.cancel() }
        }
    }

    /// What ``download(_:to:attempts:)`` did: the MP3's size, and where each cut-off transfer
    /// was resumed from.
    struct Download: Sendable {
        var size: Int64
        var resumedAt: [Int64]
    }

    /// Downloads the job's MP3 to `file` (replacing it once complete), streamed.
    ///
    /// The bytes go to `FILE.partial`. A transfer that breaks off part-way is resumed where it
    /// stopped with a range request (`Range: bytes=N-`, and `If-Range` with the first answer's
    /// `ETag`, so that a changed file is sent whole instead of spliced), up to `attempts` times
    /// in all.
    func download(_ job: JobID, to file: String, attempts: Int = 5) async throws -> Download {
        let partial = file + ".partial"
        var received: Int64 = 0
        var total: Int64?
        var etag: String?
        var resumedAt: [Int64] = []
        try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(partial), options: .newFile(replaceExisting: true)) { handle in
            for attempt in 1...attempts {
                var request = authorized("/v1/jobs/\(job.rawValue)/download", method: .GET)
                if received > 0, let etag {
                    request.headers.add(name: "Range", value: "bytes=\(received)-")
                    request.headers.add(name: "If-Range", value: etag)
                    resumedAt.append(received)
                }
                var writer: BufferedWriter<WriteFileHandle>?
                do {
                    let response = try await send(request, expect: [200, 206], timeout: .hours(1))
                    if response.status == .partialContent {
                        // `bytes FIRST-LAST/TOTAL`: it must go on where the file stops.
                        let range = response.headers.first(name: "content-range") ?? ""
                        guard range.hasPrefix("bytes \(received)-"), let size = range.split(separator: "/").last.flatMap({ Int64($0) }) else {
                            throw GatewayError(status: 206, code: "unexpected_range", detail: "asked for bytes from \(received), got \(range)")
                        }
                        total = size
                    } else {
                        // The whole file (a first request, or a changed file): start again.
                        received = 0
                        total = response.headers.first(name: "content-length").flatMap { Int64($0) }
                        etag = response.headers.first(name: "etag")
                    }
                    writer = handle.bufferedWriter(startingAtAbsoluteOffset: received)
                    for try await chunk in response.body {
                        try await writer!.write(contentsOf: chunk)
                        received += Int64(chunk.readableBytes)
                    }
                    try await writer!.flush()
                    if let total, received < total { continue }
                    try await handle.resize(to: .bytes(received))
                    return
                } catch let error as GatewayError {
                    throw error
                } catch {
                    // Cut off: keep what arrived, and go on from there.
                    try await writer?.flush()
                    if attempt == attempts || etag == nil { throw error }
                }
            }
            throw GatewayError(status: 0, code: "download_incomplete", detail: "\(received) of \(total ?? -1) bytes after \(attempts) attempts")
        }
        try await FileSystem.shared.replaceItem(at: FilePath(file), withItemAt: FilePath(partial))
        return Download(size: received, resumedAt: resumedAt)
    }

    // MARK: - Requests

    private func json(_ path: String, _ body: [String: String]) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        return request
    }

    private func authorized(_ path: String, method: HTTPMethod) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    /// Sends `request`; a status outside `expect` is thrown as the problem the gateway described.
    private func send(_ request: HTTPClientRequest, expect: Set<UInt>, timeout: TimeAmount = .minutes(10)) async throws -> HTTPClientResponse {
        let response = try await http.execute(request, timeout: timeout)
        guard expect.contains(response.status.code) else {
            let body = try await response.body.collect(upTo: 1 << 16)
            throw (try? JSONDecoder().decode(GatewayError.self, from: body))
                ?? GatewayError(status: Int(response.status.code), code: "unexpected_status", detail: String(buffer: body))
        }
        return response
    }
}
