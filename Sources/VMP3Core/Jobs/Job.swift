#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A conversion job: what was asked, by whom, and how it went.
public struct Job: Sendable, Hashable, Codable, Identifiable {
    public var id: JobID
    public var owner: UserID
    public var status: JobStatus
    public var createdAt: Date
    public var updatedAt: Date

    /// Where the uploaded source is kept, its original file name and size.
    public var source: ObjectKey
    public var sourceName: String?
    public var sourceSize: Int64?
    /// The SHA-256 (hex) of the upload, computed as it was stored: what the conversion cache
    /// finds earlier conversions of the same file by. `nil` when it is not known.
    public var sourceSHA256: String?
    /// `true` when the MP3 is a copy of an earlier conversion of the same file with the same
    /// options (``ConversionCache``), made without converting; `nil` when it was converted.
    public var fromCache: Bool?

    public var options: ConversionOptions
    /// Where to POST the job's outcome, if the client asked.
    public var webhookURL: URL?
    /// Where to e-mail the job's outcome, if the client asked.
    public var notifyEmail: String?

    /// 0 to 1 while running; 1 once succeeded.
    public var progress: Double?
    /// Set when the job succeeded.
    public var output: JobOutput?
    /// Set when the job failed.
    public var failure: JobFailure?
    /// How many times a worker has started the job.
    public var attempts: Int
    /// The worker that holds the job while it runs, and until when.
    public var lease: JobLease?
    /// `true` once the job's message is in the queue (its publish returned): from then on the
    /// queue holds it until a worker settles it, so a job that waits long in a backlog is not
    /// published again. `nil` between the record and the message, which is the gap a process
    /// that dies there leaves: the maintenance sweep publishes those jobs again
    /// (``JobStore/unpublishedJobs(updatedBefore:limit:)``). A worker's release clears it
    /// (whether the message survived is not known then), and the next publish sets it again.
    public var messagePublished: Bool?
    /// Incremented by every change the store accepts; compare-and-set compares it.
    public var version: Int

    public init(
        id: JobID = JobID(),
        owner: UserID,
        source: ObjectKey,
        sourceName: String? = nil,
        sourceSize: Int64? = nil,
        options: ConversionOptions = ConversionOptions(),
        webhookURL: URL? = nil,
        notifyEmail: String? = nil,
        createdAt: Date = Date()
    ) {
        self.id = id
        self.owner = owner
        self.status = .queued
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.source = source
        self.sourceName = sourceName
        self.sourceSize = sourceSize
        self.options = options
        self.webhookURL = webhookURL
        self.notifyEmail = notifyEmail
        self.progress = nil
        self.output = nil
        self.failure = nil
        self.attempts = 0
        self.lease = nil
        self.version = 0
    }

    /// Queued with no message published (``messagePublished``): what
    /// ``JobStore/unpublishedJobs(updatedBefore:limit:)`` lists, in every store.
    public var awaitsMessage: Bool {
        status == .queued && messagePublished != true
    }

    /// The key the job's MP3 is stored under: one per job, so that a job run twice (after a
    /// redelivery) still has exactly one output.
    public var outputKey: ObjectKey {
        // A JobID is a UUID, so the key is always valid.
        try! ObjectKey("outputs/\(id.rawValue).mp3")
    }

    /// The key a source upload for job `id` is stored under.
    public static func sourceKey(for id: JobID) -> ObjectKey {
        try! ObjectKey("sources/\(id.rawValue)")
    }
}

/// The MP3 a job produced.
public struct JobOutput: Sendable, Hashable, Codable {
    public var key: ObjectKey
    public var byteCount: Int64
    /// Seconds of audio.
    public var duration: Double
    public var sampleRate: Int
    public var channels: ConversionOptions.Channels
    public var encoding: ConversionOptions.Encoding
    public var tags: AudioTags
    /// The MP3's chapters (`nil` in records written before chapters were kept).
    public var chapters: [Chapter]?
    /// The MIME type of the MP3's cover picture, if it has one.
    public var coverType: String?
    /// What loudness normalisation measured and applied, if it was asked for.
    public var loudness: LoudnessMeasurement?

    public init(key: ObjectKey, result: ConversionResult) {
        self.key = key
        byteCount = result.byteCount
        duration = result.duration
        sampleRate = result.sampleRate
        channels = result.channels
        encoding = result.encoding
        tags = result.tags
        chapters = result.chapters.isEmpty ? nil : result.chapters
        coverType = result.coverType
        loudness = result.loudness
    }
}

/// Why a job failed: a stable code (a ``ConversionError/Code`` raw value, or `gave_up` after
/// the retries ran out) and a message for people.
public struct JobFailure: Sendable, Hashable, Codable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A worker's claim on a running job. Another worker may take the job over only once it expires.
public struct JobLease: Sendable, Hashable, Codable {
    public var holder: String
    public var expiresAt: Date

    public init(holder: String, expiresAt: Date) {
        self.holder = holder
        self.expiresAt = expiresAt
    }
}
