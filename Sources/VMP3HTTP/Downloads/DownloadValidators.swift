import Foundation
import HTTPTypes
import VMP3Core

/// A finished job's MP3 as a cacheable representation: its strong `ETag`, its `Last-Modified`,
/// and how the conditional headers of a request compare with them (RFC 9110 §13).
///
/// A job's MP3 never changes once the job has succeeded (it is written under the job's own key
/// before the job is marked so), so the job's id and the MP3's size make a strong validator.
struct DownloadValidators: Equatable {
    /// The quoted strong entity tag, e.g. `"9c0…-1448010"`.
    let etag: String
    /// When the job succeeded, to the second.
    let lastModified: Date

    init(job: Job, output: JobOutput) {
        etag = "\"\(job.id.rawValue)-\(output.byteCount)\""
        lastModified = Date(timeIntervalSince1970: job.updatedAt.timeIntervalSince1970.rounded(.down))
    }

    var lastModifiedHeader: String { HTTPDate.format(lastModified) }

    /// Whether a `GET` or `HEAD` with these headers is answered `304 Not Modified`:
    /// `If-None-Match` lists this tag (weak comparison) or is `*`; or, only without
    /// `If-None-Match`, `If-Modified-Since` is a date at or after ``lastModified``.
    func notModified(_ headers: HTTPFields) -> Bool {
        if let noneMatch = headers[values: .ifNoneMatch].joined(separator: ",").nonEmpty {
            let tags = Self.entityTags(noneMatch)
            return tags.contains("*") || tags.contains { Self.opaque($0) == Self.opaque(etag) }
        }
        if let since = headers[.ifModifiedSince].flatMap(HTTPDate.parse) {
            return lastModified <= since
        }
        return false
    }

    /// Whether an `If-Range` header lets the range be served: a strong tag equal to ours, or a
    /// date equal to ``lastModified``. Anything else (a weak tag, another tag, another date,
    /// no valid value) means the client's copy is stale: it gets the whole file.
    func allowsRange(ifRange: String) -> Bool {
        let value = ifRange.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("\"") { return value == etag }
        if value.hasPrefix("W/") { return false }
        return HTTPDate.parse(value) == lastModified
    }

    /// The tags of a comma-separated list (`"a", W/"b", *`).
    static func entityTags(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A tag without its weakness indicator: weak comparison compares these.
    static func opaque(_ tag: String) -> String {
        tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
