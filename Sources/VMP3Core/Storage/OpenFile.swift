#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A file opened with `open(2)` and read or written with the system calls themselves: what the
/// storage needs of a file handle. (VMP3Core builds on FoundationEssentials, which has no
/// `FileHandle`: that lives in the full Foundation, with CoreFoundation and ICU behind it.)
///
/// Every call retries when a signal interrupts it; a failure throws ``SystemCallError``. The
/// descriptor is closed by ``close()`` or when the value is released, whichever comes first.
/// One caller at a time: the reads and writes of an `OpenFile` are not ordered across threads.
package final class OpenFile: Sendable {
    package enum Mode: Sendable {
        /// An existing file, read from its start.
        case read
        /// A file that must not exist yet, created for writing with mode 0644.
        case createNew
    }

    /// The path it was opened at, for messages.
    package let path: String
    /// The descriptor, or -1 once closed.
    private let descriptor: Atomic<Int32>

    package init(path: String, mode: Mode) throws(SystemCallError) {
        let flags: Int32 = switch mode {
        case .read: O_RDONLY | O_CLOEXEC
        case .createNew: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        }
        let opened = try retrying("open", path) { systemOpen(path, flags) }
        self.path = path
        descriptor = Atomic(opened)
    }

    /// The next `count` bytes from where the file stands: fewer only at its end, none there.
    package func read(upTo count: Int) throws(SystemCallError) -> [UInt8] {
        let fd = try openDescriptor("read")
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count {
                let result = uninterrupted { systemRead(fd, buffer.baseAddress! + initialized, count - initialized) }
                if result < 0 { failure = errno }
                guard result > 0 else { return }
                initialized += result
            }
        }
        guard failure == 0 else { throw SystemCallError(call: "read", path: path, code: failure) }
        return bytes
    }

    /// Writes all of `bytes` where the file stands.
    package func write(_ bytes: [UInt8]) throws(SystemCallError) {
        let fd = try openDescriptor("write")
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemCallError) in try Self.write(buffer, toDescriptor: fd, path: path) }
        }
        try result.get()
    }

    /// Writes all of `buffer` to `descriptor`, which need not be an `OpenFile`'s (the CLI's
    /// standard output and error use it too), in as many `write(2)` calls as it takes.
    /// - Throws: ``SystemCallError`` naming `path` with the `errno` of the call that failed, or
    ///   `EIO` if one wrote nothing (which would otherwise repeat for ever).
    package static func write(_ buffer: UnsafeRawBufferPointer, toDescriptor descriptor: Int32, path: String) throws(SystemCallError) {
        var written = 0
        while written < buffer.count {
            let result = uninterrupted { systemWrite(descriptor, buffer.baseAddress! + written, buffer.count - written) }
            guard result > 0 else { throw SystemCallError(call: "write", path: path, code: result < 0 ? errno : EIO) }
            written += result
        }
    }

    /// Moves to `offset` bytes from the start.
    package func seek(to offset: Int64) throws(SystemCallError) {
        let fd = try openDescriptor("lseek")
        _ = try retrying("lseek", path) { lseek(fd, off_t(offset), SEEK_SET) }
    }

    /// Waits until what was written is on the disk (`fsync(2)`).
    package func synchronize() throws(SystemCallError) {
        let fd = try openDescriptor("fsync")
        _ = try retrying("fsync", path) { fsync(fd) }
    }

    /// Closes the descriptor; later calls throw `EBADF`. Closing twice does nothing.
    package func close() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        // Not retried on EINTR: Linux releases the descriptor before close(2) can be interrupted.
        if fd >= 0 { systemClose(fd) }
    }

    deinit { close() }

    private func openDescriptor(_ call: String) throws(SystemCallError) -> Int32 {
        let fd = descriptor.load(ordering: .acquiring)
        guard fd >= 0 else { throw SystemCallError(call: call, path: path, code: EBADF) }
        return fd
    }
}

/// Runs `call` until no signal interrupts it; a negative result throws with `errno`.
private func retrying<Result: BinaryInteger>(_ name: String, _ path: String, _ call: () -> Result) throws(SystemCallError) -> Result {
    let result = uninterrupted(call)
    guard result >= 0 else { throw SystemCallError(call: name, path: path, code: errno) }
    return result
}

/// Runs `call` until no signal interrupts it: its result, negative with `errno` set on failure.
private func uninterrupted<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

// The C calls by names that the type's own methods do not hide.
private func systemOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags, 0o644) }
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
private func systemClose(_ fd: Int32) { _ = close(fd) }
