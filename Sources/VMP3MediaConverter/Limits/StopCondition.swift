import VMP3Core

/// Whether a running conversion must stop: its task was cancelled, or its time limit passed.
///
/// Read from the conversion's own thread between packets and from inside FFmpeg (the input's read
/// callback and libavformat's interrupt callback), so that a demuxer stuck in a loop or a read
/// stops too, not only the pipeline's own loop.
final class StopCondition: Sendable {
    enum Reason: Equatable {
        case cancelled
        case timeLimit
    }

    let cancellation: CancellationFlag
    /// When the conversion's time is up, or `nil` for no time limit.
    let deadline: ContinuousClock.Instant?
    /// The limit the deadline was made from, for messages.
    let timeLimit: Duration?

    init(cancellation: CancellationFlag = CancellationFlag(), timeLimit: Duration?) {
        self.cancellation = cancellation
        self.timeLimit = timeLimit
        deadline = timeLimit.map { ContinuousClock.now.advanced(by: $0) }
    }

    /// Why the conversion must stop, or `nil` to go on.
    var reason: Reason? {
        if cancellation.isCancelled { return .cancelled }
        if let deadline, ContinuousClock.now >= deadline { return .timeLimit }
        return nil
    }

    /// The error for ``reason`` (which must not be `nil`).
    func error(_ reason: Reason) -> ConversionError {
        switch reason {
        case .cancelled:
            return .cancelled()
        case .timeLimit:
            let seconds = timeLimit.map { "\(Int($0.components.seconds))" } ?? "?"
            return ConversionError(code: .timeLimit, message: "the conversion took longer than its limit of \(seconds) s")
        }
    }

    /// Throws the reason to stop, if there is one.
    func check() throws(ConversionError) {
        if let reason { throw error(reason) }
    }
}
