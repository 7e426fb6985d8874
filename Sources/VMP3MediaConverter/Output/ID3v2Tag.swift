import VMP3Core

/// An ID3v2.4 tag with UTF-8 text frames, written at the start of an MP3.
///
/// VMP3 writes the tag itself rather than through LAME's `id3tag_*` calls, which take Latin-1
/// strings: titles in any script must survive.
struct ID3v2Tag: Equatable {
    var tags: AudioTags

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
        // Fields are bounded (AudioTags.maximumLength), so the sizes fit ID3's 28 bits.
        guard !frames.isEmpty, frames.count < 1 << 28 else { return [] }
        return Array("ID3".utf8) + [0x04, 0x00, 0x00] + Self.syncSafe(frames.count) + frames
    }

    private static func frame(id: String, body: [UInt8]) -> [UInt8] {
        guard body.count < 1 << 28 else { return [] }
        return Array(id.utf8) + syncSafe(body.count) + [0x00, 0x00] + body
    }

    /// A 28-bit size as four bytes of seven bits each (ID3v2.4 sizes never contain a 0xFF byte);
    /// callers keep `value` below 2^28.
    static func syncSafe(_ value: Int) -> [UInt8] {
        return [UInt8((value >> 21) & 0x7F), UInt8((value >> 14) & 0x7F), UInt8((value >> 7) & 0x7F), UInt8(value & 0x7F)]
    }
}
