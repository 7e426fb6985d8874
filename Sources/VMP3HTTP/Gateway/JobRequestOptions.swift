import Foundation
import Hummingbird
import VMP3Core

/// The options of `POST /v1/jobs`, read from its query: `bitrate`, `quality`, `channels`,
/// `sample_rate`, `start`, `duration`, `title`, `artist`, `album`, `loudness` (LUFS), `cover` (`auto` or `none`:
/// a server reads no paths a client names), `webhook_url`, `notify_email`. Ranges are checked by ``ConversionOptions/validate()``; what cannot even be
/// read (a word where a number goes, two encodings at once, a webhook that is not http(s)) is a
/// 422 here, before any byte of the upload is stored.
struct JobRequestOptions {
    var options = ConversionOptions()
    var webhookURL: URL?
    var notifyEmail = false

    init(_ query: [String: String]) throws {
        func number<T: LosslessStringConvertible>(_ name: String, as: T.Type) throws -> T? {
            guard let text = query[name], !text.isEmpty else { return nil }
            guard let value = T(text) else { throw Self.invalid(name, "is not a number: \(text)") }
            return value
        }
        switch (try number("bitrate", as: Int.self), try number("quality", as: Int.self)) {
        case (.some, .some): throw Self.invalid("bitrate", "and quality cannot both be given (CBR or VBR)")
        case (.some(let kbps), nil): options.encoding = .constantBitRate(kbps: kbps)
        case (nil, .some(let quality)): options.encoding = .variableBitRate(quality: quality)
        case (nil, nil): break
        }
        if let channels = try number("channels", as: Int.self) {
            guard let value = ConversionOptions.Channels(rawValue: channels) else { throw Self.invalid("channels", "must be 1 or 2") }
            options.channels = value
        }
        options.sampleRate = try number("sample_rate", as: Int.self)
        options.start = try number("start", as: Double.self)
        options.duration = try number("duration", as: Double.self)
        options.tags = AudioTags(title: query["title"], artist: query["artist"], album: query["album"])
        options.loudness = try number("loudness", as: Double.self)
        if let text = query["cover"], !text.isEmpty {
            // No paths over HTTP: `auto`, `none` or `at:SECONDS` (checked by `validate()` with the rest).
            let cover = CoverArt(argument: text)
            if case .file = cover { throw Self.invalid("cover", "must be auto, none or at:SECONDS") }
            options.cover = cover
        }
        if let text = query["webhook_url"], !text.isEmpty {
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
                throw Self.invalid("webhook_url", "must be an absolute http(s) URL")
            }
            webhookURL = url
        }
        if let text = query["notify_email"] {
            guard let flag = Bool(text) else { throw Self.invalid("notify_email", "must be true or false") }
            notifyEmail = flag
        }
        do { try options.validate() } catch {
            throw ProblemDetails(.unprocessableContent, code: "invalid_option", title: "Invalid option", detail: error.message)
        }
    }

    static func invalid(_ name: String, _ problem: String) -> ProblemDetails {
        ProblemDetails(.unprocessableContent, code: "invalid_option", title: "Invalid option", detail: "\(name) \(problem)")
    }
}
