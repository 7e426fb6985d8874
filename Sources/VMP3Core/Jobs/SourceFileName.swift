#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The file name an upload came with, made safe to keep and to hand back: the last path
/// component only, no control or bidirectional-override characters, no leading or trailing
/// dots and spaces, at most ``maxBytes`` bytes of UTF-8 (cut at a character, keeping the
/// extension where it fits).
///
/// The name is only ever a label: storage keys are the job's id, so no name can reach a path.
public struct SourceFileName: Sendable, Hashable, CustomStringConvertible {
    /// The longest name kept, in UTF-8 bytes (what file systems allow in one component).
    public static let maxBytes = 255

    public let rawValue: String

    /// `nil` when nothing of `name` is left once made safe.
    public init?(_ name: String) {
        // Both separators: a name from Windows comes as `C:\Users\ann\talk.mp4`.
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let kept = String(String.UnicodeScalarView(last.unicodeScalars.filter { !Self.isUnsafe($0) }))
        let trimmed = kept.trimming { $0 == " " || $0 == "." || $0.isHorizontalWhitespace || $0.isLineBreak }
        let bounded = Self.bounded(trimmed)
        guard !bounded.isEmpty else { return nil }
        rawValue = bounded
    }

    public var description: String { rawValue }

    /// The name without its extension (`talk.mp4` → `talk`; `.mp4`-only names keep themselves).
    public var stem: String {
        guard let dot = rawValue.lastIndex(of: "."), dot != rawValue.startIndex else { return rawValue }
        return String(rawValue[..<dot])
    }

    /// The name the MP3 made from this upload is downloaded as: `talk.mp4` → `talk.mp3`.
    public var mp3Name: String { Self.bounded(stem + ".mp3", keepingSuffix: 4) }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true  // C0 and C1 controls, DEL
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi marks and overrides ("gpj.exe" tricks)
        case 0xFEFF, 0xFFFD: return true
        default: return false
        }
    }

    /// `name` cut to ``maxBytes`` at a character boundary, keeping its last `keepingSuffix`
    /// characters (default: the extension, when it is short — in bytes too: one character may
    /// carry any number of combining marks).
    static func bounded(_ name: String, keepingSuffix: Int? = nil) -> String {
        guard name.utf8.count > maxBytes else { return name }
        let suffixLength = keepingSuffix ?? name.lastIndex(of: ".").map { name.distance(from: $0, to: name.endIndex) }.flatMap { $0 <= 16 ? $0 : nil } ?? 0
        var suffix = String(name.suffix(suffixLength))
        if suffix.utf8.count > 64 { suffix = "" }
        var head = ""
        for character in name.dropLast(suffixLength) {
            if head.utf8.count + character.utf8.count + suffix.utf8.count > maxBytes { break }
            head.append(character)
        }
        return head + suffix
    }
}
