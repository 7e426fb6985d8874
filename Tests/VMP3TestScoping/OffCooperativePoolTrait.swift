import Testing
import VMP3Core

/// Runs a suite's or a test's code on threads of its own (``ComputeThreads``) instead of Swift's
/// cooperative pool: for tests that compute for seconds in a debug build (making and measuring
/// signals, decoding, iterating every Unicode scalar), synchronous test functions included.
///
/// The cooperative pool's two threads are what every other test running beside them needs to
/// answer its HTTP requests and meet its deadlines; the watchdog fails a run that holds them
/// for over a second (`CooperativePoolWatchdog`).
public struct OffCooperativePoolTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(ComputeThreads.shared) { try await function() }
    }
}

extension Trait where Self == OffCooperativePoolTrait {
    /// Runs the suite's or test's code on threads of its own (``OffCooperativePoolTrait``).
    public static var offCooperativePool: Self { Self() }
}
