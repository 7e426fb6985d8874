import Foundation

/// A message an SMTP test receiver (aiosmtpd) wrote to its maildir, split into headers (names
/// lowercased) and a decoded body.
struct ReceivedMail: Equatable {
    var headers: [String: String]
    var body: String

    /// The message whose Message-ID is `<messageID>` in `maildir`, if it arrived.
    static func find(withID messageID: String, in maildir: String) throws -> ReceivedMail? {
        let folder = URL(fileURLWithPath: maildir).appendingPathComponent("new")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).replacingOccurrences(of: "\r\n", with: "\n")
            guard let split = text.range(of: "\n\n") else { continue }
            var headers: [String: String] = [:]
            for line in text[..<split.lowerBound].split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard headers["message-id"] == "<\(messageID)>" else { continue }
            var body = String(text[split.upperBound...])
            if headers["content-transfer-encoding"] == "base64" {
                body = String(decoding: Data(base64Encoded: body.replacingOccurrences(of: "\n", with: "")) ?? Data(), as: UTF8.self)
            }
            return ReceivedMail(headers: headers, body: body)
        }
        return nil
    }

    /// ``find(withID:in:)``, asked every 100 ms until the message is there or `timeout` passes.
    static func waitFor(withID messageID: String, in maildir: String, timeout: Duration) async throws -> ReceivedMail? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let mail = try find(withID: messageID, in: maildir) { return mail }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try find(withID: messageID, in: maildir)
    }
}
