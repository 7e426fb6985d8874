import VMP3Core

/// An ID3v2.4 tag with UTF-8 text frames, a cover picture and chapters, written at the start of
/// an MP3.
///
/// VMP3 writes the tag itself rather than through LAME's `id3tag_*` calls, which take Latin-1
/// strings (titles in any script must survive) and know no chapters.
struct ID3v2Tag: Equatable {
    /// A picture for the `APIC` frame.
    struct Picture: Equatable {
        var mimeType: String
        var bytes: [UInt8]
    }

    var tags: AudioTags
    var cover: Picture? = nil
    /// Chapters for `CHAP` frames, listed in order by one top-level `CTOC` (ID3v2 Chapter Frame
    /// Addendum 1.0); at most ``Chapter/maximumCount``.
    var chapters: [Chapter] = []

    /// The tag's bytes: a 10-byte header and one frame per non-empty field.
    /// Empty when there is nothing to write.
    func encoded() -> [UInt8] {
        var frames: [UInt8] = []
        for (id, value) in [("TIT2", tags.title), ("TPE1", tags.artist), ("TALB", tags.album), ("TDRC", tags.date)] {
            guard let value, !value.isEmpty else { continue }
            frames += Self.frame(id: id, body: [0x03] + Array(value.utf8))
        }
        if let comment = tags.comment, !comment.isEmpty {
            // Encoding UTF-8, language "und", empty description (NUL-terminated), then the text.
            frames += Self.frame(id: "COMM", body: [0x03] + Array("und".utf8) + [0x00] + Array(comment.utf8))
        }
        if let cover {
            // Encoding UTF-8 (of the description), MIME type (Latin-1, NUL-terminated), picture
            // type 3 (front cover), empty description, the image.
            frames += Self.frame(id: "APIC", body: [0x03] + Array(cover.mimeType.utf8) + [0x00, 0x03, 0x00] + cover.bytes)
        }
        let chapters = Array(chapters.prefix(Chapter.maximumCount))
        if !chapters.isEmpty {
            let ids = chapters.indices.map { Array("chp\($0)".utf8) + [0x00] }
            // Element id, flags (top level, ordered), entry count, the children's ids.
            frames += Self.frame(id: "CTOC", body: Array("toc".utf8) + [0x00, 0x03, UInt8(chapters.count)] + ids.flatMap { $0 })
            for (index, chapter) in chapters.enumerated() {
                var body = ids[index] + Self.milliseconds(chapter.start) + Self.milliseconds(chapter.end)
                body += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // no byte offsets: times only
                if let title = chapter.title, !title.isEmpty {
                    body += Self.frame(id: "TIT2", body: [0x03] + Array(title.utf8))
                }
                frames += Self.frame(id: "CHAP", body: body)
            }
        }
        // Fields are bounded (AudioTags.maximumLength, CoverArt.maximumBytes, 255 chapters), so
        // the sizes fit ID3's 28 bits.
        guard !frames.isEmpty, frames.count < 1 << 28 else { return [] }
        return Array("ID3".utf8) + [0x04, 0x00, 0x00] + Self.syncSafe(frames.count) + frames
    }

    private static func frame(id: String, body: [UInt8]) -> [UInt8] {
        guard body.count < 1 << 28 else { return [] }
        return Array(id.utf8) + syncSafe(body.count) + [0x00, 0x00] + body
    }

    /// A time as the big-endian 32-bit milliseconds of `CHAP`, clamped to what fits.
    private static func milliseconds(_ seconds: Double) -> [UInt8] {
        let value = seconds.isFinite ? UInt32(clamping: Int64((max(0, min(seconds, 4_000_000)) * 1000).rounded())) : 0
        return [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A 28-bit size as four bytes of seven bits each (ID3v2.4 sizes never contain a 0xFF byte);
    /// callers keep `value` below 2^28.
    static func syncSafe(_ value: Int) -> [UInt8] {
        return [UInt8((value >> 21) & 0x7F), UInt8((value >> 14) & 0x7F), UInt8((value >> 7) & 0x7F), UInt8(value & 0x7F)]
    }
}
