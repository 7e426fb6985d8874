import Logging
import Synchronization

/// Where one job's time went in one process: the stages it passed through, each timed on the
/// monotonic clock, written into the job's log line as `<stage>_ms` metadata.
///
/// The gateway's "job submitted" line and the worker's "succeeded" line carry them, so a job's
/// latency can be broken down from the logs alone (`Benchmarks/services_benchmark.py` does).
/// A stage timed twice adds up. Shared by reference, so that the tasks of one job record into
/// one set.
public final class JobTimings: Sendable {
    private let start = ContinuousClock.now
    private let stages = Mutex<[(name: String, duration: Duration)]>([])
    private let notes = Mutex<[String: String]>([:])

    /// The timings of the job the current task works on, where the worker has set them: a
    /// converter adds what it knows of its own process (``note(_:_:)``) to the job's log line.
    @TaskLocal public static var current: JobTimings?

    public init() {}

    /// Adds `key` with `value` to the log line's metadata (the last value of a key wins).
    public func note(_ key: String, _ value: String) {
        notes.withLock { $0[key] = value }
    }

    /// Runs `body` and records the time it took as `stage`, whether it returns or throws.
    public func time<T, Failure: Error>(_ stage: String, _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        let begin = ContinuousClock.now
        defer { record(stage, ContinuousClock.now - begin) }
        return try await body()
    }

    /// Records `duration` as (part of) `stage`.
    public func record(_ stage: String, _ duration: Duration) {
        stages.withLock { stages in
            if let index = stages.firstIndex(where: { $0.name == stage }) {
                stages[index].duration += duration
            } else {
                stages.append((stage, duration))
            }
        }
    }

    /// The time recorded for `stage`, if any.
    public func duration(of stage: String) -> Duration? {
        stages.withLock { stages in stages.first { $0.name == stage }?.duration }
    }

    /// The stages as log metadata, in milliseconds to the hundredth: `<stage>_ms`, and
    /// `total_ms` since these timings were made.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["total_ms": .string(Self.milliseconds(ContinuousClock.now - start))]
        for (name, duration) in stages.withLock({ $0 }) {
            metadata["\(name)_ms"] = .string(Self.milliseconds(duration))
        }
        for (key, value) in notes.withLock({ $0 }) {
            metadata[key] = .string(value)
        }
        return metadata
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let hundredths = seconds * 100_000 + attoseconds / 10_000_000_000_000
        return "\(hundredths / 100).\(String(hundredths % 100).leftPadded(to: 2))"
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
