import VMP3Core

/// Runs a test's CPU-heavy step (megabytes of made-up data, a hash at production cost, an
/// encode in a debug build) on a thread of the blocking pool, not on Swift's cooperative pool,
/// whose two threads every other test running beside it needs (the watchdog fails a run that
/// holds them over a second).
public func offCooperativePool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await BlockingThreadPool.shared.run(work)
}
