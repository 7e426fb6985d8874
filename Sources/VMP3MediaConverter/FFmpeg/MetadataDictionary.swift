import VMP3Core
import CFFmpeg
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bounds on what is copied out of a demuxer's metadata: an upload may hold a tag of hundreds of
/// megabytes, or millions of tags, and nothing downstream keeps more than
/// ``AudioTags/maximumLength`` bytes of one. The copy is cut while it is made, so the cost in
/// memory never follows the file's.
enum MetadataBounds {
    /// Entries copied from one dictionary; the rest are not read.
    static let maxEntries = 64
    /// Keys longer than this are skipped: no tag VMP3 knows is near it.
    static let maxKeyBytes = 64
    /// Bytes of a value copied; the cut falls on a UTF-8 character boundary.
    static let maxValueBytes = AudioTags.maximumLength
}

/// Copies an `AVDictionary` into Swift within ``MetadataBounds``. Keys are lower-cased: FFmpeg
/// matches them case-insensitively.
func metadataDictionary(_ dictionary: OpaquePointer?) -> [String: String] {
    guard let dictionary else { return [:] }
    var result: [String: String] = [:]
    var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
    var seen = 0
    while seen < MetadataBounds.maxEntries, let next = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX) {
        entry = next
        seen += 1
        guard let key = next.pointee.key, let value = next.pointee.value,
              strnlen(key, MetadataBounds.maxKeyBytes + 1) <= MetadataBounds.maxKeyBytes else { continue }
        result[String(cString: key).lowercased()] = boundedString(value)
    }
    return result
}

/// The value of `key` in an `AVDictionary` (matched case-insensitively), within ``MetadataBounds``.
func metadataValue(_ dictionary: OpaquePointer?, _ key: String) -> String? {
    guard let dictionary, let entry = av_dict_get(dictionary, key, nil, 0), let value = entry.pointee.value else { return nil }
    return boundedString(value)
}

/// At most ``MetadataBounds/maxValueBytes`` of the C string `value`, cut before a UTF-8
/// continuation byte; invalid UTF-8 becomes U+FFFD.
private func boundedString(_ value: UnsafePointer<CChar>) -> String {
    var length = strnlen(value, MetadataBounds.maxValueBytes + 1)
    return value.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        if length > MetadataBounds.maxValueBytes {
            length = MetadataBounds.maxValueBytes
            while length > 0 && bytes[length] & 0xC0 == 0x80 { length -= 1 }
        }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
}
