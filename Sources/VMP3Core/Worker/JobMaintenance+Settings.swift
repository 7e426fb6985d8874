extension JobMaintenance.Configuration {
    /// The defaults with each setting given in their place: ``Setting/retentionDays`` (`0` keeps
    /// jobs for ever), ``Setting/requeueAfterSeconds``, ``Setting/maintenanceInterval``; and
    /// ``republishWaitingJobs`` where ``Setting/queue`` is `memory:` (the default) and
    /// ``Setting/store`` is not: messages that a restart loses, of jobs that it keeps.
    ///
    /// - Throws: ``ConfigurationError`` naming the setting whose value is not a number in range.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init()
        if settings.isGiven(.retentionDays), let days = try settings.number(.retentionDays) {
            retention = days == 0 ? nil : .milliseconds(Int64((days * 86_400_000).rounded()))
        }
        if settings.isGiven(.requeueAfterSeconds), let seconds = try settings.seconds(.requeueAfterSeconds) { requeueAfter = seconds }
        if settings.isGiven(.maintenanceInterval), let seconds = try settings.seconds(.maintenanceInterval) { interval = seconds }
        let queue = try settings.url(.queue)?.scheme ?? "memory"
        let store = try settings.url(.store)?.scheme ?? "memory"
        republishWaitingJobs = queue == "memory" && store != "memory"
    }
}
