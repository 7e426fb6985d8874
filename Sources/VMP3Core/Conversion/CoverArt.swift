/// Which picture an MP3 carries as its cover (ID3v2 `APIC`, front cover).
public enum CoverArt: Sendable, Hashable, Codable {
    /// The source's own picture (an MP4's `covr`, a Matroska image attachment, any stream FFmpeg
    /// marks `attached_pic`), if it has a JPEG or PNG of at most ``maximumBytes``; otherwise a
    /// frame of its video a tenth of the way into the part converted, as ``frame(at:)`` takes it.
    /// An audio-only source, or a video that cannot be decoded, gets no cover.
    case automatic
    /// No picture.
    case none
    /// A frame of the source's video: the key frame at or before this many seconds into the
    /// source (its own time, not the trimmed MP3's), scaled to at most ``frameSize`` pixels on its
    /// longer side and encoded as a JPEG. No cover if the video cannot give one; the audio is
    /// converted all the same.
    case frame(at: Double)
    /// A JPEG or PNG file of the caller's (the CLI's `--cover FILE`; the HTTP API takes no paths).
    case file(String)

    /// The largest picture copied into an MP3.
    public static let maximumBytes = 2 << 20

    /// The longer side of a cover taken from a video frame, at most, in pixels.
    public static let frameSize = 600

    /// `auto`, `none`, `at:SECONDS` or a path. An `at:` that is not a number becomes a time that
    /// ``ConversionOptions/validate()`` refuses.
    public init(argument: String) {
        switch argument {
        case "auto": self = .automatic
        case "none": self = .none
        case let text where text.hasPrefix("at:"):
            self = .frame(at: Double(text.dropFirst(3)) ?? .nan)
        default: self = .file(argument)
        }
    }

    /// The form ``init(argument:)`` reads: `auto`, `none`, `at:SECONDS` or the file's path.
    public var argument: String {
        switch self {
        case .automatic: "auto"
        case .none: "none"
        case .frame(let seconds): "at:\(seconds.secondsText)"
        case .file(let path): path
        }
    }
}

private extension Double {
    /// `12` for 12.0, `2.5` for 2.5, `0.102` for 0.10229999…: how a person writes a time in
    /// seconds, to the millisecond.
    var secondsText: String {
        guard isFinite, abs(self) < 1e12 else { return String(self) }
        let milliseconds = (self * 1000).rounded() / 1000
        return milliseconds.rounded() == milliseconds ? String(Int64(milliseconds)) : String(milliseconds)
    }
}
