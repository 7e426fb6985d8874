#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex and a condition variable from pthreads: what Foundation's `NSCondition` is, for a
/// module that builds on FoundationEssentials, which has none.
///
/// `@unchecked Sendable`: the two pthread objects are made for use from many threads at once;
/// they live at fixed addresses (allocated once, never moved) until `deinit`, which runs when no
/// thread can hold the lock any more.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() {
        pthread_mutex_lock(mutex)
    }

    func unlock() {
        pthread_mutex_unlock(mutex)
    }

    /// With the lock held: releases it until ``broadcast()`` (or a spurious wake-up, so callers
    /// wait in a loop on their own condition), then holds it again.
    func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Wakes every thread in ``wait()``.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
