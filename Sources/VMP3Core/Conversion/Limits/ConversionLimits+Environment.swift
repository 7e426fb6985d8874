extension ConversionLimits {
    /// The environment variables that set the limits of the services and `vmp3 serve`.
    public enum EnvironmentKey {
        /// Longest audio converted, in seconds.
        public static let maxAudioSeconds = "VMP3_MAX_AUDIO_SECONDS"
        /// Largest MP3, in MiB.
        public static let maxOutputMB = "VMP3_MAX_OUTPUT_MB"
        /// Longest wall time of one conversion, in seconds.
        public static let maxConversionSeconds = "VMP3_MAX_CONVERSION_SECONDS"
    }

    /// The defaults with each limit the environment sets in their place. A variable that is unset
    /// or empty keeps the default; `0` means no limit.
    ///
    /// - Throws: ``ConfigurationError`` naming the variable whose value is not a whole number ≥ 0.
    public init(environment: [String: String]) throws(ConfigurationError) {
        self.init()
        func value(_ name: String) throws(ConfigurationError) -> Int64?? {
            guard let text = environment[name], !text.isEmpty else { return .none }
            guard let number = Int64(text), number >= 0, number <= Int64(Int32.max) else {
                throw ConfigurationError("\(name) must be a whole number, 0 or more (0: no limit), not \(text)")
            }
            return .some(number == 0 ? nil : number)
        }
        if let seconds = try value(EnvironmentKey.maxAudioSeconds) { maxAudioDuration = seconds.map { .seconds($0) } }
        if let megabytes = try value(EnvironmentKey.maxOutputMB) { maxOutputBytes = megabytes.map { $0 << 20 } }
        if let seconds = try value(EnvironmentKey.maxConversionSeconds) { maxConversionTime = seconds.map { .seconds($0) } }
    }
}
