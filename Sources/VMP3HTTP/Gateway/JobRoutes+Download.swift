import Foundation
import Hummingbird
import NIOCore
import VMP3Core

extension JobRoutes {
    /// `GET` and `HEAD /v1/jobs/{id}/download`: the MP3 as a media server serves a file.
    ///
    /// - `Accept-Ranges: bytes`; one byte range is `206` with `Content-Range` (read from the store
    ///   with a ranged read: nothing before it is fetched), several are the whole file, an
    ///   unsatisfiable one `416` with `Content-Range: bytes */SIZE`.
    /// - `ETag` and `Last-Modified`; `If-None-Match` / `If-Modified-Since` answer `304`, and an
    ///   `If-Range` that no longer matches turns a range request into the whole file.
    /// - `?redirect=1` on a store that presigns (S3) answers `307` to a URL valid for
    ///   ``Configuration/downloadURLLifetime`` that carries the file name; elsewhere it streams.
    /// - `HEAD` answers the same headers without the body, and opens nothing.
    func download(_ request: Request, _ context: VMP3RequestContext) async throws -> Response {
        let (job, output) = try await service.finishedJob(try Self.jobID(context), owner: try context.requireCaller())
        let validators = DownloadValidators(job: job, output: output)
        let disposition = ContentDisposition.attachment(named: ContentDisposition.downloadName(for: job))
        var headers: HTTPFields = [
            .acceptRanges: "bytes", .eTag: validators.etag, .lastModified: validators.lastModifiedHeader,
            // The MP3 is the caller's: shared caches must not keep it; the browser revalidates.
            .cacheControl: "private, no-cache",
        ]
        if request.method == .get, ["1", "true"].contains(request.uri.queryParameters.get("redirect") ?? ""),
           let url = try await service.downloadURL(for: output, expiresIn: configuration.downloadURLLifetime, contentDisposition: disposition) {
            context.logger.debug("download redirected to a presigned URL", metadata: ["job": "\(job.id)"])
            return Response(status: .temporaryRedirect, headers: [.location: url.absoluteString, .cacheControl: "no-store"])
        }
        if validators.notModified(request.headers) {
            return Response(status: .notModified, headers: headers)
        }
        let size = output.byteCount
        var asked = ByteRangeRequest(request.headers[.range], size: size)
        if asked != .whole, let ifRange = request.headers[.ifRange], !validators.allowsRange(ifRange: ifRange) {
            asked = .whole
        }
        headers[.contentType] = "audio/mpeg"
        headers[.contentDisposition] = disposition
        let status: HTTPResponse.Status
        let range: Range<Int64>?
        switch asked {
        case .unsatisfiable:
            var problem = ProblemDetails(
                .rangeNotSatisfiable, code: "range_not_satisfiable", title: "Range not satisfiable",
                detail: "the MP3 has \(size) bytes; the range asks for none of them"
            )
            problem.headers = [.contentRange: "bytes */\(size)", .acceptRanges: "bytes"]
            throw problem
        case .whole:
            status = .ok
            range = nil
        case .range(let bytes):
            status = .partialContent
            range = bytes
            headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(size)"
        }
        headers[.contentLength] = "\(range.map { $0.upperBound - $0.lowerBound } ?? size)"
        if request.method == .head {
            return Response(status: status, headers: headers, body: ResponseBody())
        }
        let download = try await service.open(output, range: range)
        if download.info.size != size {
            // Never expected: the job records the size the worker stored.
            context.logger.error("the stored MP3's size differs from the job's", metadata: ["job": "\(job.id)", "stored": "\(download.info.size)", "recorded": "\(size)"])
        }
        return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: download.body.map { ByteBuffer(bytes: $0) }))
    }
}
