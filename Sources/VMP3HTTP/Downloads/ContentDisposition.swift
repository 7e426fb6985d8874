import Foundation
import VMP3Core

/// `Content-Disposition` both ways: the file name an upload names (RFC 6266, with RFC 8187's
/// `filename*` for non-ASCII names), and the header a download is answered with.
enum ContentDisposition {
    /// The file name in an upload's `Content-Disposition`: `filename*=UTF-8''…` before
    /// `filename="…"` (RFC 6266 §4.3), made safe by ``SourceFileName``; `nil` without one.
    static func fileName(from header: String) -> SourceFileName? {
        var plain: String?
        var extended: String?
        for parameter in parameters(header) {
            switch parameter.name {
            case "filename*": extended = decodeExtended(parameter.value)
            case "filename": plain = parameter.value
            default: continue
            }
        }
        return (extended ?? plain).flatMap(SourceFileName.init)
    }

    /// `attachment` with `name` as an ASCII fallback (anything else as `_`) and, when it is not
    /// plain ASCII, the exact UTF-8 name in `filename*`.
    static func attachment(named name: String) -> String {
        let ascii = String(name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F && !"\"\\".unicodeScalars.contains(scalar) ? Character(scalar) : "_"
        })
        var header = "attachment; filename=\"\(ascii)\""
        if ascii != name {
            header += "; filename*=UTF-8''\(percentEncoded(name))"
        }
        return header
    }

    /// The name a job's MP3 is downloaded as: the upload's name with `.mp3` (`talk.mp4` →
    /// `talk.mp3`), else its title, else the job's id.
    static func downloadName(for job: Job) -> String {
        if let name = job.sourceName.flatMap(SourceFileName.init) { return name.mp3Name }
        if let title = job.output?.tags.title.flatMap(SourceFileName.init) { return SourceFileName("\(title.rawValue).mp3")?.rawValue ?? "\(job.id.rawValue).mp3" }
        return "\(job.id.rawValue).mp3"
    }

    // MARK: - Parsing

    struct Parameter {
        var name: String
        var value: String
    }

    /// The `name=value` parameters after the disposition type; quoted values unquoted.
    static func parameters(_ header: String) -> [Parameter] {
        var result: [Parameter] = []
        var rest = Substring(header)
        // Skip the type (`attachment`, `form-data`, …).
        guard let semicolon = rest.firstIndex(of: ";") else { return [] }
        rest = rest[rest.index(after: semicolon)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(character); escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { break } else { value.append(character) }
                }
                rest = rest.drop { $0 != ";" }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            result.append(Parameter(name: name, value: value))
        }
        return result
    }

    /// RFC 8187's `UTF-8'LANG'percent-encoded` (ISO-8859-1 too), decoded; `nil` if malformed.
    static func decodeExtended(_ value: String) -> String? {
        let parts = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var bytes: [UInt8] = []
        var iterator = parts[2].utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        switch parts[0].lowercased() {
        case "utf-8": return String(validating: bytes, as: UTF8.self)
        case "iso-8859-1": return String(bytes.map { Character(Unicode.Scalar($0)) })
        default: return nil
        }
    }

    /// RFC 8187's attr-char set kept, everything else as `%XX` of its UTF-8.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                result.append(Character(Unicode.Scalar(byte)))
            case _ where "!#$&+-.^_`|~".utf8.contains(byte):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }
}
