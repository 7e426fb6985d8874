import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import VMP3Core

/// The gateway's job routes, behind ``BearerTokenMiddleware``: upload, list, read, follow
/// (server-sent events), download and cancel or delete. A job belongs to its creator: anyone
/// else gets 404, as for a job that does not exist.
public struct JobRoutes: Sendable {
    public struct Configuration: Sendable {
        /// Uploads above this many bytes are refused with 413, and nothing is stored.
        public var maxUploadBytes: Int64
        /// Uploads per user per minute.
        public var uploadsPerMinute: Int
        /// Jobs a user may have queued or running at once, uploads in flight included.
        public var maxActiveJobs: Int
        /// Uploads of one user streaming at once (to one gateway); one more is 429. Default: 4.
        public var maxUploadsInFlight: Int = 4
        /// Bytes a user's jobs may hold in storage (uploads waiting, MP3s kept); an upload that
        /// would go over is refused with 413 `quota_exceeded`. `nil` for no quota.
        public var storageQuotaBytes: Int64?
        /// Which webhook URLs are accepted: one whose host is, or resolves to, an internal
        /// address is refused with 422 (the notifier checks again when it connects).
        public var webhookEgress: WebhookEgressPolicy
        /// How often an event stream with nothing to say sends a comment, so that proxies and
        /// clients see the connection alive. Default: 15 s.
        public var eventStreamHeartbeat: Duration = .seconds(15)
        /// How long one event stream lasts before the server ends it; the client reconnects after
        /// the `retry:` delay and gets the job's state first, so nothing is missed. Default: 10 minutes.
        public var eventStreamLifetime: Duration = .seconds(600)
        /// Event streams one user may have open at once; one more is 429. Default: 10.
        public var maxEventStreamsPerUser: Int = 10
        /// Event streams this server keeps open at once, all users together. Default: 2,000.
        public var maxEventStreams: Int = 2000
        /// How long the presigned URL of `GET /v1/jobs/ID/download?redirect=1` is valid, on a
        /// store that makes them (S3). Default: 5 minutes.
        public var downloadURLLifetime: Duration = .seconds(300)
        /// Whose account address `notify_email=true` may mail; anyone else's is 422
        /// `email_not_allowed`. Default: nobody's (`Setting.emailAllowedRecipients`).
        public var emailRecipients = EmailRecipientPolicy()

        public init(
            maxUploadBytes: Int64 = 2 << 30, uploadsPerMinute: Int = 60, maxActiveJobs: Int = 20, storageQuotaBytes: Int64? = 10 << 30,
            webhookEgress: WebhookEgressPolicy = WebhookEgressPolicy()
        ) {
            self.maxUploadBytes = maxUploadBytes
            self.uploadsPerMinute = uploadsPerMinute
            self.maxActiveJobs = maxActiveJobs
            self.storageQuotaBytes = storageQuotaBytes
            self.webhookEgress = webhookEgress
        }

        /// The defaults with what the settings give in their place: the upload limits
        /// (`Setting.maxUploadMB`, `Setting.uploadsPerMinute`, `Setting.maxActiveJobs`,
        /// `Setting.storageQuotaMB`, `0` for no quota), the event-stream caps, whose webhook
        /// URLs (`WebhookEgressPolicy`) and e-mail addresses (`EmailRecipientPolicy`) are accepted.
        ///
        /// - Throws: `ConfigurationError` naming the setting whose value is malformed.
        public init(settings: Settings) throws(ConfigurationError) {
            self.init(webhookEgress: try WebhookEgressPolicy(settings: settings))
            func given(_ setting: Setting) throws(ConfigurationError) -> Int? {
                settings.isGiven(setting) ? try settings.wholeNumber(setting) : nil
            }
            if let megabytes = try given(.maxUploadMB) { maxUploadBytes = Int64(megabytes) << 20 }
            if let count = try given(.uploadsPerMinute) { uploadsPerMinute = count }
            if let count = try given(.maxActiveJobs) { maxActiveJobs = count }
            if let count = try given(.maxUploadsInFlight) { maxUploadsInFlight = count }
            if let megabytes = try given(.storageQuotaMB) { storageQuotaBytes = megabytes == 0 ? nil : Int64(megabytes) << 20 }
            if let count = try given(.maxEventStreamsPerUser) { maxEventStreamsPerUser = count }
            if let count = try given(.maxEventStreams) { maxEventStreams = count }
            if let seconds = try given(.downloadURLSeconds) { downloadURLLifetime = .seconds(seconds) }
            emailRecipients = try EmailRecipientPolicy(settings: settings)
        }
    }

    struct JobList: ResponseEncodable {
        var jobs: [JobDocument]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case jobs, nextCursor = "next_cursor"
        }
    }

    let service: JobService
    let configuration: Configuration
    let uploads: FixedWindowRateLimiter
    let admissions = UploadAdmissions()
    let eventStreams: EventStreamAdmission

    /// - Parameters:
    ///   - service: the jobs the routes create, read and end.
    ///   - configuration: the limits of uploads and event streams.
    ///   - rateLimits: where the upload limit counts (shared by the gateways of a deployment
    ///     when it is Redis).
    public init(service: JobService, configuration: Configuration = Configuration(), rateLimits: any RateLimitCounter = InMemoryRateLimitCounter()) {
        self.service = service
        self.configuration = configuration
        uploads = FixedWindowRateLimiter("uploads", limit: configuration.uploadsPerMinute, per: .seconds(60), counter: rateLimits)
        eventStreams = EventStreamAdmission(maxPerUser: configuration.maxEventStreamsPerUser, maxTotal: configuration.maxEventStreams)
    }

    public func add(to group: RouterGroup<VMP3RequestContext>) {
        let jobs = group.group("v1/jobs")
        jobs.post { request, context in try await submit(request, context) }
        jobs.get { request, context -> Response in
            let owner = try context.requireCaller()
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 20
            guard (1...100).contains(limit) else { throw ProblemDetails.badRequest("invalid_limit", "limit must be 1 to 100") }
            let page = try await service.jobs(owner: owner, limit: limit, cursor: request.uri.queryParameters.get("cursor"))
            return try Self.json(JobList(jobs: page.jobs.map(JobDocument.init), nextCursor: page.nextCursor))
        }
        jobs.get(":id") { _, context -> Response in
            try Self.json(JobDocument(try await service.job(try Self.jobID(context), owner: try context.requireCaller())))
        }
        jobs.delete(":id") { _, context -> Response in
            if let cancelled = try await service.cancelOrDelete(try Self.jobID(context), owner: try context.requireCaller()) {
                var response = try Self.json(JobDocument(cancelled))
                response.status = .accepted
                return response
            }
            return Response(status: .noContent)
        }
        jobs.get(":id/download") { request, context in try await download(request, context) }
        jobs.head(":id/download") { request, context in try await download(request, context) }
        jobs.get(":id/events") { [eventStreams] _, context -> Response in
            let caller = try context.requireCaller()
            let ticket: EventStreamAdmission.Ticket
            do throws(EventStreamAdmission.Refusal) {
                ticket = try eventStreams.admit(caller.rawValue)
            } catch {
                switch error {
                case .perUser(let limit):
                    throw ProblemDetails.tooManyEventStreams(retryAfter: 5, "you have \(limit) event streams open, the most allowed; close one first")
                case .total:
                    throw ProblemDetails.tooManyEventStreams(retryAfter: 5, "the server has as many event streams open as it serves; try again shortly")
                }
            }
            let events = try await service.watch(try Self.jobID(context), owner: caller)
            let chunks = EventStreamChunks(events: events, heartbeat: configuration.eventStreamHeartbeat, lifetime: configuration.eventStreamLifetime, logger: context.logger)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    // The stream's place is held until this body is done with (or dropped).
                    defer { withExtendedLifetime(ticket) {} }
                    for await chunk in chunks.stream() {
                        try await writer.write(ByteBuffer(string: chunk))
                    }
                    try await writer.finish(nil)
                }
            )
        }
    }

    private func submit(_ request: Request, _ context: VMP3RequestContext) async throws -> Response {
        let timings = JobTimings()
        let admission = ContinuousClock.now
        let owner = try context.requireCaller()
        let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { $1 })
        let parsed = try JobRequestOptions(query)
        let declared = request.headers[.contentLength].flatMap(Int64.init)
        if let declared, declared > configuration.maxUploadBytes {
            throw UploadTooLarge(limit: configuration.maxUploadBytes)
        }
        if let wait = await uploads.record(owner.rawValue) {
            throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many uploads; try again later")
        }
        // After the rate limit: a name lookup is work (and traffic to a resolver) that a client
        // past its limit gets none of.
        if let host = parsed.webhookURL?.host {
            do {
                _ = try await configuration.webhookEgress.address(for: host)
            } catch where error.code == .forbiddenDestination {
                throw JobRequestOptions.invalid("webhook_url", "cannot be used: \(error.message)")
            } catch {
                // Not resolvable now: the notifier resolves it again when it sends.
            }
        }
        // Checked before the upload is streamed, so that a refused one is not stored first,
        // against the stored jobs and the user's other uploads in flight (each holds its place
        // in the active jobs and its declared length — or, sent without one, the most it may
        // be — until its job is stored); the store checks the active jobs again, atomically,
        // when it creates the job.
        var limit = configuration.maxUploadBytes
        let ticket = try await admissions.admit(owner, usage: { try await service.usage(of: owner) }) { usage, inFlight in
            if inFlight.uploads >= configuration.maxUploadsInFlight {
                throw ProblemDetails.tooManyRequests(retryAfter: 5, "too many uploads in progress at once; wait for one to finish")
            }
            if usage.activeJobs + inFlight.uploads >= configuration.maxActiveJobs {
                throw JobStoreError.activeLimitReached(owner, limit: configuration.maxActiveJobs)
            }
            // The most this upload may be: the size limit, or what is left of the user's quota.
            guard let quota = configuration.storageQuotaBytes else { return declared ?? 0 }
            let held = usage.bytesHeld + inFlight.bytes
            let left = quota - held
            if left <= 0 || (declared ?? 0) > left { throw QuotaExceeded(quota: quota, held: held) }
            limit = min(limit, left)
            return declared ?? limit
        }
        defer { ticket.release() }
        var notifyEmail: String?
        if parsed.notifyEmail {
            guard let address = context.caller?.email, configuration.emailRecipients.allows(address) else {
                throw ProblemDetails(
                    .unprocessableContent, code: "email_not_allowed", title: "E-mail not allowed",
                    detail: "this server does not e-mail notifications to this account's address"
                )
            }
            notifyEmail = address
        }
        let submission = JobService.Submission(
            owner: owner, sourceName: Self.fileName(request), options: parsed.options, webhookURL: parsed.webhookURL,
            notifyEmail: notifyEmail,
            idempotencyKey: request.headers[.init("Idempotency-Key")!].flatMap(Self.idempotencyKey),
            maxActiveJobs: configuration.maxActiveJobs
        )
        let body = LimitedBody(body: request.body, limit: limit)
        // The options, the webhook's address, the rate limit, the active jobs and the quota.
        timings.record("admit", ContinuousClock.now - admission)
        let creation: JobCreation
        do {
            creation = try await service.submit(submission, body: body, timings: timings)
        } catch where body.exceeded.isSet {
            // The store reports the body's failure as its own; the cause is the size.
            if limit < configuration.maxUploadBytes, let quota = configuration.storageQuotaBytes {
                throw QuotaExceeded(quota: quota, held: quota - limit)
            }
            throw UploadTooLarge(limit: configuration.maxUploadBytes)
        }
        var response = try Self.json(JobDocument(creation.job))
        response.status = .accepted
        response.headers[.location] = "/v1/jobs/\(creation.job.id.rawValue)"
        return response
    }

    static func jobID(_ context: VMP3RequestContext) throws -> JobID {
        guard let text = context.parameters.get("id"), let id = JobID(rawValue: text) else { throw ProblemDetails.notFound("no such job") }
        return id
    }

    static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JobDocument.makeEncoder().encode(value)))
        )
    }

    /// The upload's file name: the `filename` query parameter, else `Content-Disposition`'s
    /// (`filename*` before `filename`), in NFC and made safe by `SourceFileName` (which bounds
    /// its bytes); `nil` if neither names one.
    static func fileName(_ request: Request) -> String? {
        let given = request.uri.queryParameters.get("filename").map { String($0) }
            ?? request.headers[.contentDisposition].flatMap(ContentDisposition.fileName(from:))?.rawValue
        return given.flatMap { SourceFileName($0.precomposedStringWithCanonicalMapping)?.rawValue }
    }

    /// The longest `Idempotency-Key` kept, in UTF-8 bytes: it travels in the job's document.
    static let maxIdempotencyKeyBytes = 200

    /// An `Idempotency-Key` header's value, in NFC, cut to ``maxIdempotencyKeyBytes`` at a
    /// character boundary; `nil` for an empty one.
    static func idempotencyKey(_ value: String) -> String? {
        var key = ""
        for character in value.precomposedStringWithCanonicalMapping {
            if key.utf8.count + character.utf8.count > maxIdempotencyKeyBytes { break }
            key.append(character)
        }
        return key.isEmpty ? nil : key
    }
}

/// A request body as `[UInt8]` chunks that fails with ``UploadTooLarge`` once it passes `limit`
/// bytes, so that the store's all-or-nothing put keeps nothing of it.
/// ``exceeded`` tells afterwards whether that is why the upload failed (stores wrap the errors
/// of the bodies they read in their own).
struct LimitedBody: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let body: RequestBody
    let limit: Int64
    let exceeded = SharedFlag()

    final class SharedFlag: Sendable {
        private let value = Atomic(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int64
        let exceeded: SharedFlag
        var total: Int64 = 0

        mutating func next() async throws -> [UInt8]? {
            guard let buffer = try await base.next() else { return nil }
            total += Int64(buffer.readableBytes)
            if total > limit {
                exceeded.set()
                throw UploadTooLarge(limit: limit)
            }
            return Array(buffer: buffer)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: body.makeAsyncIterator(), limit: limit, exceeded: exceeded)
    }
}
