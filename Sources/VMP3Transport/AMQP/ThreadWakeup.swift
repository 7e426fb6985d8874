#if canImport(Glibc)
import Glibc
#endif

/// Wakes a thread that waits in `poll(2)` on a socket: a non-blocking pipe that other threads
/// write a byte to, polled together with the socket, so that a command (an acknowledgement, a
/// publish) does not wait for the socket's timeout. Closed in `deinit`.
final class ThreadWakeup: Sendable {
    /// What ended a ``wait(socket:timeout:)``.
    struct Readiness {
        var signalled: Bool
        var socketReadable: Bool
    }

    private let readEnd: Int32
    private let writeEnd: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "pipe failed: \(errno)")
        readEnd = ends[0]
        writeEnd = ends[1]
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Ends the current or next ``wait(socket:timeout:)``. A full pipe already wakes the waiter,
    /// so a write that would block is dropped.
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Waits until ``signal()``, until `socket` (if any) has input or is closed, or `timeout`.
    func wait(socket: Int32? = nil, timeout: Duration) -> Readiness {
        var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
        if let socket, socket >= 0 { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
        let signalled = descriptors[0].revents != 0
        if signalled {
            var drain = [UInt8](repeating: 0, count: 256)
            while read(readEnd, &drain, drain.count) > 0 {}
        }
        return Readiness(signalled: signalled, socketReadable: descriptors.count > 1 && descriptors[1].revents != 0)
    }
}
