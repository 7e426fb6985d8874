#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex and a condition variable from pthreads: what Foundation's `NSCondition` is, for
/// modules that build on FoundationEssentials, which has none.
///
/// `@unchecked Sendable`: the two pthread objects are made for use from many threads at once;
/// they live at fixed addresses (allocated once, never moved) until `deinit`, which runs when no
/// thread can hold the lock any more.
package final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        // Timed waits count on the monotonic clock, which a change of the wall clock leaves alone.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func lock() {
        pthread_mutex_lock(mutex)
    }

    package func unlock() {
        pthread_mutex_unlock(mutex)
    }

    /// With the lock held: releases it until ``broadcast()`` or ``signal()`` (or a spurious
    /// wake-up, so callers wait in a loop on their own condition), then holds it again.
    package func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// As ``wait()``, for at most `timeout` (at most a day; none if not positive); returns
    /// `false` once the time is up.
    package func wait(timeout: Duration) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = min(max(timeout, .zero), .seconds(86_400)).components
        let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }

    /// Wakes one thread in ``wait()``.
    package func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every thread in ``wait()``.
    package func broadcast() {
        pthread_cond_broadcast(condition)
    }

    /// Runs `body` with the lock held.
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
