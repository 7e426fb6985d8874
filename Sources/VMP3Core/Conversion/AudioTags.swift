#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The ID3v2 tags of an MP3.
///
/// As an override in ``ConversionOptions/tags``, a `nil` field keeps what the source says, and an
/// empty string removes the field.
public struct AudioTags: Sendable, Hashable, Codable {
    public var title: String?
    public var artist: String?
    public var album: String?
    /// Release date or year, as ISO 8601 text (`2024`, `2024-05-01`).
    public var date: String?
    public var comment: String?

    /// The longest value of a field, in bytes of UTF-8. Longer options are refused; longer source
    /// tags are cut (at a character boundary) so that a file's metadata cannot bloat the MP3.
    public static let maximumLength = 1024

    public init(title: String? = nil, artist: String? = nil, album: String? = nil, date: String? = nil, comment: String? = nil) {
        self.title = title
        self.artist = artist
        self.album = album
        self.date = date
        self.comment = comment
    }

    /// Each field with its option name, as the CLI spells it.
    var fields: [(name: String, value: String?)] {
        [("title", title), ("artist", artist), ("album", album), ("date", date), ("comment", comment)]
    }

    /// Whether no field holds text.
    public var isEmpty: Bool {
        [title, artist, album, date, comment].allSatisfy { ($0 ?? "").isEmpty }
    }

    /// These tags with every non-`nil` field of `overrides` put in their place; empty strings
    /// in the result are removed.
    public func applying(_ overrides: AudioTags) -> AudioTags {
        func pick(_ override: String?, _ base: String?) -> String? {
            let value = override ?? base
            return value?.isEmpty == true ? nil : value
        }
        return AudioTags(
            title: pick(overrides.title, title),
            artist: pick(overrides.artist, artist),
            album: pick(overrides.album, album),
            date: pick(overrides.date, date),
            comment: pick(overrides.comment, comment)
        )
    }

    /// Tags read from FFmpeg metadata: the container's first, then the audio stream's.
    ///
    /// Containers name the fields differently (`artist` in MP4 and Matroska, `author` in ASF,
    /// `year` in some AVI files): the first name present wins.
    package init(metadata container: [String: String], stream: [String: String]) {
        func first(_ keys: String...) -> String? {
            for source in [container, stream] {
                for key in keys {
                    if let value = source[key]?.trimmingWhitespaceAndNewlines(), !value.isEmpty {
                        return Self.truncated(value)
                    }
                }
            }
            return nil
        }
        self.init(
            title: first("title"),
            artist: first("artist", "album_artist", "author", "composer"),
            album: first("album"),
            date: first("date", "year"),
            comment: first("comment", "description")
        )
    }

    /// `value` cut to at most ``maximumLength`` bytes of UTF-8, at a character boundary.
    package static func truncated(_ value: String) -> String {
        guard value.utf8.count > maximumLength else { return value }
        var result = ""
        var bytes = 0
        for character in value {
            bytes += character.utf8.count
            if bytes > maximumLength { break }
            result.append(character)
        }
        return result
    }
}
