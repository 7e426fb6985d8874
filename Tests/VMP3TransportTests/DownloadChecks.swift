import Foundation
import Testing
import VMP3TestSupport

/// `GET`/`HEAD /v1/jobs/ID/download` as players, browsers and download managers use it, checked
/// with `curl` against a running gateway (`vmp3 serve`, or vmp3-gateway on S3): every partial
/// answer's bytes are compared with the slice of the whole file.
struct DownloadChecks {
    let base: String
    let token: String
    let jobID: String
    let scratch: URL

    /// An answer: its status, its header fields (names in lower case), its body.
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data

        subscript(_ name: String) -> String? { headers[name.lowercased()] }
    }

    /// One request with `curl`; `headers` as `Name: value`; `authorized: false` sends no token.
    func fetch(_ headers: [String] = [], method: String = "GET", url: String? = nil, authorized: Bool = true) async throws -> Answer {
        if method == "HEAD" { return try await head(headers) }
        let body = scratch.appendingPathComponent("body-\(UUID().uuidString)")
        let head = scratch.appendingPathComponent("head-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: body)
            try? FileManager.default.removeItem(at: head)
        }
        var arguments = ["-sS", "--max-time", "60", "-D", head.path, "-o", body.path, "-w", "%{http_code}"]
        arguments += ["-X", method]
        if authorized { arguments += ["-H", "Authorization: Bearer \(token)"] }
        for header in headers { arguments += ["-H", header] }
        arguments.append(url ?? "\(base)/v1/jobs/\(jobID)/download")
        let run = try await ExternalTool.run("curl", arguments)
        guard run.status == 0, let status = Int(run.text) else { throw ExternalTool.Failure(description: "curl: \(run.text) \(run.stderr)") }
        let fields = Self.fields(try String(contentsOf: head, encoding: .utf8).split(separator: "\r\n"))
        return Answer(status: status, headers: fields, body: (try? Data(contentsOf: body)) ?? Data())
    }

    /// A `HEAD` written on a bare connection (`Connection: close`), so that any byte the server
    /// sends after the header is seen: curl would neither read nor report one.
    func head(_ headers: [String]) async throws -> Answer {
        let address = try #require(URL(string: base))
        let lines = ["HEAD /v1/jobs/\(jobID)/download HTTP/1.1", "Host: \(address.host ?? ""):\(address.port ?? 80)", "Authorization: Bearer \(token)", "Connection: close"] + headers
        let request = lines.joined(separator: "\r\n") + "\r\n\r\n"
        let run = try await ExternalTool.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/\(address.host ?? "")/\(address.port ?? 80); printf '%s' \"$0\" >&3; timeout 10 cat <&3", request])
        let text = run.stdout
        let end = try #require(text.range(of: Data("\r\n\r\n".utf8)), "HEAD answered \(run.text) \(run.stderr)")
        let head = String(decoding: text[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Answer(status: status, headers: Self.fields(head.dropFirst()), body: Data(text[end.upperBound...]))
    }

    /// `Name: value` lines as a dictionary with lower-case names (the status line is skipped).
    static func fields(_ lines: some Sequence<Substring>) -> [String: String] {
        var fields: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// Everything the issue lists: the whole file with its validators and name; `HEAD`; ranges
    /// at the start, middle and end, suffix and open ranges, one past the end (clipped), one
    /// unsatisfiable, several; `If-Range` current and stale; `304` on `If-None-Match` and
    /// `If-Modified-Since`. Returns the whole file.
    @discardableResult
    func checkAll(named name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Data {
        let whole = try await fetch()
        #expect(whole.status == 200, "\(whole.headers)", sourceLocation: sourceLocation)
        let mp3 = whole.body
        let size = mp3.count
        // An ID3 tag first, or the first frame's sync word when the MP3 has no tags.
        #expect(size > 20_000 && (mp3.prefix(3) == Data("ID3".utf8) || (mp3.first == 0xFF && mp3.dropFirst().first.map { $0 & 0xE0 == 0xE0 } == true)), "\(size) bytes", sourceLocation: sourceLocation)
        #expect(whole["accept-ranges"] == "bytes" && whole["content-length"] == "\(size)" && whole["content-type"] == "audio/mpeg", "\(whole.headers)", sourceLocation: sourceLocation)
        #expect(whole["content-disposition"]?.hasPrefix("attachment; filename=\"\(name)\"") == true, "\(whole.headers)", sourceLocation: sourceLocation)
        let etag = try #require(whole["etag"], sourceLocation: sourceLocation)
        let lastModified = try #require(whole["last-modified"], sourceLocation: sourceLocation)
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""), "\(etag)", sourceLocation: sourceLocation)

        let head = try await fetch(method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty, "\(head.status)", sourceLocation: sourceLocation)
        #expect(head["content-length"] == "\(size)" && head["etag"] == etag && head["accept-ranges"] == "bytes", "\(head.headers)", sourceLocation: sourceLocation)

        // (Range header, the slice it selects.)
        let ranges: [(String, Range<Int>)] = [
            ("bytes=0-99", 0..<100), ("bytes=\(size / 2)-\(size / 2 + 4095)", (size / 2)..<(size / 2 + 4096)),
            ("bytes=\(size - 200)-\(size - 1)", (size - 200)..<size), ("bytes=-128", (size - 128)..<size),
            ("bytes=100-", 100..<size), ("bytes=\(size - 10)-\(size + 5000)", (size - 10)..<size),
        ]
        for (range, slice) in ranges {
            let part = try await fetch(["Range: \(range)"])
            #expect(part.status == 206, "\(range): \(part.status)", sourceLocation: sourceLocation)
            #expect(part["content-range"] == "bytes \(slice.lowerBound)-\(slice.upperBound - 1)/\(size)", "\(range): \(part.headers)", sourceLocation: sourceLocation)
            #expect(part["content-length"] == "\(slice.count)" && part.body == mp3[slice], "\(range): \(part.body.count) bytes", sourceLocation: sourceLocation)
            #expect(part["etag"] == etag, sourceLocation: sourceLocation)
        }
        let headRange = try await fetch(["Range: bytes=0-9"], method: "HEAD")
        #expect(headRange.status == 206 && headRange["content-length"] == "10" && headRange.body.isEmpty, "\(headRange.headers)", sourceLocation: sourceLocation)

        let unsatisfiable = try await fetch(["Range: bytes=\(size)-"])
        #expect(unsatisfiable.status == 416 && unsatisfiable["content-range"] == "bytes */\(size)", "\(unsatisfiable.status) \(unsatisfiable.headers)", sourceLocation: sourceLocation)
        #expect(String(decoding: unsatisfiable.body, as: UTF8.self).contains("range_not_satisfiable"), sourceLocation: sourceLocation)
        let several = try await fetch(["Range: bytes=0-9,100-109"])
        #expect(several.status == 200 && several.body == mp3, "several ranges: \(several.status)", sourceLocation: sourceLocation)

        let current = try await fetch(["Range: bytes=10-19", "If-Range: \(etag)"])
        #expect(current.status == 206 && current.body == mp3[10..<20], "If-Range current: \(current.status)", sourceLocation: sourceLocation)
        let byDate = try await fetch(["Range: bytes=10-19", "If-Range: \(lastModified)"])
        #expect(byDate.status == 206 && byDate.body == mp3[10..<20], "If-Range date: \(byDate.status)", sourceLocation: sourceLocation)
        let stale = try await fetch(["Range: bytes=10-19", "If-Range: \"an-older-version\""])
        #expect(stale.status == 200 && stale.body == mp3, "If-Range stale: \(stale.status)", sourceLocation: sourceLocation)

        let notModified = try await fetch(["If-None-Match: \(etag)"])
        #expect(notModified.status == 304 && notModified.body.isEmpty && notModified["etag"] == etag, "If-None-Match: \(notModified.status)", sourceLocation: sourceLocation)
        let weak = try await fetch(["If-None-Match: \"x\", W/\(etag)"])
        #expect(weak.status == 304, "If-None-Match weak: \(weak.status)", sourceLocation: sourceLocation)
        let changed = try await fetch(["If-None-Match: \"x\""])
        #expect(changed.status == 200 && changed.body == mp3, "If-None-Match other: \(changed.status)", sourceLocation: sourceLocation)
        let since = try await fetch(["If-Modified-Since: \(lastModified)"])
        #expect(since.status == 304, "If-Modified-Since: \(since.status)", sourceLocation: sourceLocation)
        let before = try await fetch(["If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"])
        #expect(before.status == 200 && before.body == mp3, "If-Modified-Since earlier: \(before.status)", sourceLocation: sourceLocation)
        return mp3
    }
}
