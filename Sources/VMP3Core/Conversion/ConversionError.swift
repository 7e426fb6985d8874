/// Why a conversion or probe failed: a stable ``code`` to branch on and a ``message`` for people.
///
/// Every failure of ``AudioConverter`` is one of these; none leaves output at the destination.
public struct ConversionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause, stable across releases (its ``rawValue`` appears in logs and job records).
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No file at the input path.
        public static let inputNotFound = Code(rawValue: "input_not_found")
        /// The input exists but cannot be read (a directory, no permission, an I/O error).
        public static let inputUnreadable = Code(rawValue: "input_unreadable")
        /// The input is empty or not in a format FFmpeg can demux.
        public static let notMediaFile = Code(rawValue: "not_media_file")
        /// The input is in a format VMP3 does not open: a playlist or reference format (HLS, DASH,
        /// concat, …) that would make the demuxer read other files, an image, subtitles or another
        /// format that is not an audio or video container.
        public static let unsupportedContainer = Code(rawValue: "unsupported_container")
        /// The audio's sample rate, channel count or frame size is outside what an audio codec
        /// produces (``ConversionLimits/sampleRates``, ``ConversionLimits/channelCounts``,
        /// ``ConversionLimits/maxFrameSamples``).
        public static let unsupportedAudioFormat = Code(rawValue: "unsupported_audio_format")
        /// The input is a media file but its data is cut short or damaged.
        public static let damagedInput = Code(rawValue: "damaged_input")
        /// The input has no audio stream.
        public static let noAudioStream = Code(rawValue: "no_audio_stream")
        /// The chosen audio stream is in a codec this FFmpeg build cannot decode.
        public static let unsupportedCodec = Code(rawValue: "unsupported_codec")
        /// An option is out of its allowed range (``ConversionError/option`` names it).
        public static let invalidOption = Code(rawValue: "invalid_option")
        /// The output cannot be created or written (no such directory, no permission, disk full).
        public static let outputNotWritable = Code(rawValue: "output_not_writable")
        /// LAME refused the settings or failed while encoding.
        public static let encodingFailed = Code(rawValue: "encoding_failed")
        /// The audio to convert is longer than ``ConversionLimits/maxAudioDuration``.
        public static let inputTooLong = Code(rawValue: "input_too_long")
        /// The MP3 would be larger than ``ConversionLimits/maxOutputBytes``.
        public static let outputTooLarge = Code(rawValue: "output_too_large")
        /// The conversion ran longer than ``ConversionLimits/maxConversionTime``.
        public static let timeLimit = Code(rawValue: "time_limit")
        /// The conversion's task was cancelled.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The conversion needed more memory than its limit (the sandboxed converter's
        /// `memoryLimit`): the input asks for more than any real file of its kind.
        public static let memoryLimit = Code(rawValue: "memory_limit")
        /// The process that converted (the sandboxed converter's child) died of a signal or
        /// ended without an answer: the input crashed a decoder, or tried what the sandbox
        /// forbids. Retrying it would crash again.
        public static let converterCrashed = Code(rawValue: "converter_crashed")
        /// The sandboxed converter could not start its child process (its executable is missing,
        /// or the system refused a layer of the confinement): a fault of the installation, not of
        /// the input.
        public static let sandboxUnavailable = Code(rawValue: "sandbox_unavailable")
    }

    public var code: Code
    /// What went wrong, for a person: names the file, option or codec concerned.
    public var message: String
    /// For ``Code/invalidOption``: the option's name, as the CLI spells it.
    public var option: String?

    public init(code: Code, message: String, option: String? = nil) {
        self.code = code
        self.message = message
        self.option = option
    }

    public var description: String { message }

    package static func invalidOption(_ option: String, value: String, allowed: String) -> ConversionError {
        ConversionError(code: .invalidOption, message: "invalid \(option) \(value): allowed \(allowed)", option: option)
    }

    package static func cancelled() -> ConversionError {
        ConversionError(code: .cancelled, message: "the conversion was cancelled")
    }
}
