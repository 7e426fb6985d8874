extension ConversionLimits {
    /// The defaults with each limit the settings give in their place (``Setting/maxAudioSeconds``,
    /// ``Setting/maxOutputMB``, ``Setting/maxConversionSeconds``; `0` means no limit) and
    /// ``Setting/videoFrameCovers``.
    ///
    /// - Throws: ``ConfigurationError`` naming the setting whose value is not a whole number ≥ 0,
    ///   or not `on` or `off`.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init()
        func value(_ setting: Setting) throws(ConfigurationError) -> Int64?? {
            guard settings.isGiven(setting), let number = try settings.wholeNumber(setting) else { return .none }
            return .some(number == 0 ? nil : Int64(number))
        }
        if let seconds = try value(.maxAudioSeconds) { maxAudioDuration = seconds.map { .seconds($0) } }
        if let megabytes = try value(.maxOutputMB) { maxOutputBytes = megabytes.map { $0 << 20 } }
        if let seconds = try value(.maxConversionSeconds) { maxConversionTime = seconds.map { .seconds($0) } }
        if settings.isGiven(.videoFrameCovers) { videoFrameCovers = try settings.word(.videoFrameCovers) != "off" }
    }
}
