extension JobMaintenance.Configuration {
    /// The environment variables that set the sweeps of `vmp3-converter` and `vmp3 serve`.
    public enum EnvironmentKey {
        /// How long ended jobs and their MP3s are kept, in days (a decimal; `0` keeps them for ever).
        public static let retentionDays = "VMP3_RETENTION_DAYS"
        /// How long a job may stay queued before its message is published again, in seconds.
        public static let requeueAfterSeconds = "VMP3_REQUEUE_AFTER_SECONDS"
        /// Time between sweeps, in seconds.
        public static let intervalSeconds = "VMP3_MAINTENANCE_INTERVAL_SECONDS"
    }

    /// The defaults with each setting the environment gives in their place (unset or empty
    /// keeps the default).
    ///
    /// - Throws: ``ConfigurationError`` naming the variable whose value is not a number in range.
    public init(environment: [String: String]) throws(ConfigurationError) {
        self.init()
        func value(_ name: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
            try EnvironmentValue.number(name, in: range, from: environment)
        }
        if let days = try value(EnvironmentKey.retentionDays, range: 0...36_500) {
            retention = days == 0 ? nil : .milliseconds(Int64((days * 86_400_000).rounded()))
        }
        if let seconds = try value(EnvironmentKey.requeueAfterSeconds, range: 1...86_400) {
            requeueAfter = .milliseconds(Int64((seconds * 1000).rounded()))
        }
        if let seconds = try value(EnvironmentKey.intervalSeconds, range: 0.1...86_400) {
            interval = .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }
}
