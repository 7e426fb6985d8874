#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMP3Core

/// Wakes a thread that waits in `poll(2)` on a socket: a non-blocking pipe that other threads
/// write a byte to, polled together with the socket, so that a command (an acknowledgement, a
/// publish) does not wait for the socket's timeout. Closed in `deinit`.
///
/// Without a pipe (`pipe(2)` failed: the process is out of file descriptors) it degrades
/// instead of trapping: ``signal()`` sets a flag that ``wait(socket:timeout:)`` checks every
/// ``pollingInterval``, so the waiting thread still wakes for its commands, a few milliseconds late.
final class ThreadWakeup: Sendable {
    /// The longest wait without a pipe.
    static let pollingInterval = Duration.milliseconds(20)

    /// What ended a ``wait(socket:timeout:)``.
    struct Readiness {
        var signalled: Bool
        var socketReadable: Bool
    }

    private let readEnd: Int32
    private let writeEnd: Int32
    /// The signal when there is no pipe.
    private let flag = Atomic(false)

    /// Whether a pipe wakes the waiter (`false`: it polls, see the type's comment).
    var hasPipe: Bool { readEnd >= 0 }

    /// - Parameter usePipe: `false` makes the degraded, polling kind (what a failed `pipe(2)` gives).
    init(usePipe: Bool = true) {
        var ends: [Int32] = [-1, -1]
        if !usePipe || pipe(&ends) != 0 { ends = [-1, -1] }
        readEnd = ends[0]
        writeEnd = ends[1]
        for end in ends where end >= 0 {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Ends the current or next ``wait(socket:timeout:)``. A full pipe already wakes the waiter,
    /// so a write that would block is dropped.
    func signal() {
        guard writeEnd >= 0 else {
            flag.store(true, ordering: .releasing)
            return
        }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Waits until ``signal()``, until `socket` (if any) has input or is closed, or `timeout`.
    func wait(socket: Int32? = nil, timeout: Duration) -> Readiness {
        guard hasPipe else { return pollingWait(socket: socket, timeout: timeout) }
        var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
        if let socket, socket >= 0 { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&descriptors, nfds_t(descriptors.count), Self.milliseconds(timeout))
        let signalled = descriptors[0].revents != 0
        if signalled {
            var drain = [UInt8](repeating: 0, count: 256)
            while read(readEnd, &drain, drain.count) > 0 {}
        }
        return Readiness(signalled: signalled, socketReadable: descriptors.count > 1 && descriptors[1].revents != 0)
    }

    /// ``wait(socket:timeout:)`` without a pipe: the socket (if any) polled a
    /// ``pollingInterval`` at a time, the flag checked between.
    private func pollingWait(socket: Int32?, timeout: Duration) -> Readiness {
        let deadline = ContinuousClock.now + timeout
        while true {
            if flag.exchange(false, ordering: .acquiringAndReleasing) { return Readiness(signalled: true, socketReadable: false) }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return Readiness(signalled: false, socketReadable: false) }
            var descriptors = [pollfd(fd: socket ?? -1, events: Int16(POLLIN), revents: 0)]
            _ = poll(&descriptors, 1, Self.milliseconds(min(left, Self.pollingInterval)))
            if descriptors[0].revents != 0 { return Readiness(signalled: false, socketReadable: true) }
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.wholeMilliseconds)
    }
}
