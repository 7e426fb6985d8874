import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Finished conversions, by what made them: the source's content, the options and the
/// converter's output format. A job whose upload and options match an earlier one's gets that
/// job's MP3 copied instead of being converted again (``JobService`` looks, ``ConversionWorker``
/// records).
///
/// The contract (checked for every implementation by `ConversionCacheConformance`):
/// - ``entry(for:)`` returns what ``record(_:for:)`` stored under the same key until the entry
///   expires, then `nil`; a second record replaces the first.
/// - ``remove(_:)`` of a missing key succeeds.
/// - An entry only names an MP3 (a job's output key): the object belongs to its job, and deleting
///   the job deletes it. A reader that finds the object gone treats the entry as a miss.
public protocol ConversionCache: Sendable {
    /// The entry stored under `key`, if there is one that has not expired.
    func entry(for key: ConversionCacheKey) async throws -> ConversionCacheEntry?

    /// Stores `entry` under `key` for the cache's lifetime, replacing any entry there.
    func record(_ entry: ConversionCacheEntry, for key: ConversionCacheKey) async throws

    /// Removes the entry under `key`, if there is one.
    func remove(_ key: ConversionCacheKey) async throws
}

/// What a cached conversion is found by: a digest of the source's SHA-256, the options in a
/// canonical form, the version of the converter's output and, unless the cache is shared
/// between users, the owner.
public struct ConversionCacheKey: Sendable, Hashable, CustomStringConvertible {
    /// Raise when the same input and options would make a different MP3 (a change of the
    /// pipeline, of LAME's settings, of the tags written): older entries then stop matching.
    public static let converterVersion = "vmp3-mp3-3"

    /// The SHA-256 (hex) of the key's parts: what backends store under.
    public let digest: String

    public init(sourceSHA256: String, options: ConversionOptions, owner: UserID?, converterVersion: String = Self.converterVersion) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a plain struct of numbers, strings and enums cannot fail.
        let canonicalOptions = (try? encoder.encode(options)) ?? Data()
        var hash = SHA256()
        for part in [Data(converterVersion.utf8), Data(sourceSHA256.lowercased().utf8), canonicalOptions, Data((owner?.rawValue ?? "*").utf8)] {
            // Each part with its length, so that no two different sets of parts run together alike.
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: part)
        }
        digest = hash.finalize().hexEncoded
    }

    public var description: String { digest }
}

/// A cached conversion: the MP3 a job made, as that job recorded it.
public struct ConversionCacheEntry: Sendable, Hashable, Codable {
    /// The MP3 (its key is the job's output key) and what it holds.
    public var output: JobOutput
    /// The job that made it.
    public var jobID: JobID

    public init(output: JobOutput, jobID: JobID) {
        self.output = output
        self.jobID = jobID
    }
}

/// Whether and how jobs use a ``ConversionCache``: the gateway (``JobService``) and the converters
/// (``ConversionWorker``) of a deployment must agree, or lookups find nothing.
public struct ConversionCaching: Sendable {
    /// Whose conversions a job may reuse.
    public enum Scope: String, Sendable, Hashable, CaseIterable {
        /// Only its owner's: a user learns nothing of what others uploaded.
        case user
        /// Anyone's: saves more, but a cached answer tells a user that someone converted the
        /// same file with the same options before.
        case shared
    }

    /// How long a conversion stays in a cache unless configured otherwise: a week
    /// (``Setting/conversionCacheHours``' default, which a test holds to this).
    public static let defaultLifetime = Duration.seconds(7 * 86_400)

    public var cache: any ConversionCache
    public var scope: Scope

    public init(cache: any ConversionCache, scope: Scope = .user) {
        self.cache = cache
        self.scope = scope
    }

    /// The key of `job`'s conversion, if its source's hash is known.
    public func key(for job: Job) -> ConversionCacheKey? {
        job.sourceSHA256.map { ConversionCacheKey(sourceSHA256: $0, options: job.options, owner: scope == .user ? job.owner : nil) }
    }
}
