/// Which picture an MP3 carries as its cover (ID3v2 `APIC`, front cover).
public enum CoverArt: Sendable, Hashable, Codable {
    /// The source's own picture (an MP4's `covr`, a Matroska image attachment, any stream FFmpeg
    /// marks `attached_pic`), if it has a JPEG or PNG of at most ``maximumBytes``.
    case automatic
    /// No picture.
    case none
    /// A JPEG or PNG file of the caller's (the CLI's `--cover FILE`; the HTTP API takes no paths).
    case file(String)

    /// The largest picture copied into an MP3.
    public static let maximumBytes = 2 << 20

    /// `auto`, `none`, or a path.
    public init(argument: String) {
        switch argument {
        case "auto": self = .automatic
        case "none": self = .none
        default: self = .file(argument)
        }
    }
}
