#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starting a pthread that runs a Swift closure under a name: what the blocking pool, the
/// dedicated executors and a conversion's encoders share.
package enum NamedThread {
    /// The closure and name a new thread is given (a class, to pass through `pthread_create`).
    private final class Start {
        let name: String
        let body: () -> Void

        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread named `name` (Linux keeps 15 bytes of it) that runs `body`; with
    /// `stackSize` bytes of stack, else the default; detached, or joinable by the caller.
    ///
    /// - Returns: the thread, or the error number `pthread_create` gave (EAGAIN: no thread to be
    ///   had under the process's or the system's limit).
    package static func start(
        name: String, stackSize: Int? = nil, detached: Bool, _ body: @escaping () -> Void
    ) -> Result<pthread_t, SystemCallError> {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        if detached { pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
        let start = Unmanaged.passRetained(Start(name: String(decoding: name.utf8.prefix(15), as: UTF8.self), body: body))
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
            NamedThread.nameThisThread(start.name)
            start.body()
            return nil
        }, start.toOpaque())
        guard status == 0 else {
            start.release()
            return .failure(SystemCallError(call: "pthread_create", path: name, code: status))
        }
        return .success(thread)
    }

    /// Names the calling thread as `top`, `perf` and stacks show it (what `pthread_setname_np`
    /// does on Linux, which the Glibc module does not offer); best effort.
    package static func nameThisThread(_ name: String) {
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        _ = name.withCString { write(file, $0, strlen($0)) }
        close(file)
    }
}
