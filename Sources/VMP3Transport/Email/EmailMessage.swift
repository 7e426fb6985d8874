import Foundation

/// A plain-text e-mail, rendered as RFC 5322 with CRLF line ends.
///
/// Header values come from jobs (titles, file names): any CR or LF in them is replaced so that
/// they cannot add headers; non-ASCII subjects are RFC 2047 encoded-words, and a non-ASCII body
/// is sent as base64 UTF-8.
public struct EmailMessage: Sendable, Hashable {
    public var from: String
    public var to: String
    public var subject: String
    public var body: String
    /// Without angle brackets: `id@host`.
    public var messageID: String
    public var date: Date

    public init(from: String, to: String, subject: String, body: String, messageID: String, date: Date = Date()) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.messageID = messageID
        self.date = date
    }

    /// Whether `address` looks like `local@domain` with nothing that could break a header or
    /// an SMTP command (spaces, CR/LF, angle brackets, commas).
    public static func isPlausibleAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              address.utf8.count <= 254
        else { return false }
        return address.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && !"<>,;\"()[]\\".unicodeScalars.contains($0) }
    }

    /// The message's bytes.
    public func rendered() -> [UInt8] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let isASCII = body.unicodeScalars.allSatisfy(\.isASCII)
        var lines = [
            "From: \(Self.singleLine(from))",
            "To: \(Self.singleLine(to))",
            "Subject: \(Self.encodedWord(Self.singleLine(subject)))",
            "Date: \(formatter.string(from: date))",
            "Message-ID: <\(Self.singleLine(messageID))>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(isASCII ? "7bit" : "base64")",
            "",
        ]
        if isASCII {
            // One CRLF per line; libcurl doubles a leading dot itself (SMTP's transparency rule).
            lines += body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        } else {
            let encoded = Data(body.utf8).base64EncodedString()
            lines += stride(from: 0, to: encoded.count, by: 76).map { offset in
                let start = encoded.index(encoded.startIndex, offsetBy: offset)
                return String(encoded[start..<(encoded.index(start, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex)])
            }
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    private static func singleLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    }

    private static func encodedWord(_ text: String) -> String {
        guard !text.unicodeScalars.allSatisfy(\.isASCII) else { return text }
        return "=?utf-8?B?\(Data(text.utf8).base64EncodedString())?="
    }
}
