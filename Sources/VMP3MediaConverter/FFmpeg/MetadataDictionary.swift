import VMP3Core
import CFFmpeg

/// Copies an `AVDictionary` into Swift. Keys are lower-cased: FFmpeg matches them case-insensitively.
func metadataDictionary(_ dictionary: OpaquePointer?) -> [String: String] {
    guard let dictionary else { return [:] }
    var result: [String: String] = [:]
    var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
    while let next = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX) {
        entry = next
        guard let key = next.pointee.key, let value = next.pointee.value else { continue }
        result[String(cString: key).lowercased()] = String(cString: value)
    }
    return result
}
