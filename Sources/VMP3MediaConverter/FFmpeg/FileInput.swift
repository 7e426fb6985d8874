#if canImport(Glibc)
import VMP3Core
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFFmpeg

#if canImport(Glibc)
private let systemRead = Glibc.read
#elseif canImport(Darwin)
private let systemRead = Darwin.read
#endif

/// A file VMP3 opened itself, read by libavformat through an `AVIOContext` whose callbacks read
/// this descriptor and nothing else; both freed in `deinit`.
///
/// No path or URL ever reaches libavformat, so no protocol (`file:`, `http:`, `concat:`, …) can be
/// named by the input. Every read first asks the ``StopCondition``, so a demuxer looping over the
/// file stops when the conversion is cancelled or out of time.
final class FileInput {
    /// Why the file could not be opened.
    enum OpenFailure: Error {
        /// `open` or `fstat` failed with this `errno`.
        case system(Int32)
        case directory
        case empty
        case outOfMemory
    }

    private let descriptor: Int32
    private let stop: StopCondition
    /// The file's size in bytes when it was opened.
    let size: Int64
    /// The `errno` of the last failed read, if any: tells an I/O error from bad data.
    private(set) var ioError: Int32?
    /// The context libavformat reads through (`AVFormatContext.pb`).
    private(set) var io: UnsafeMutablePointer<AVIOContext>?

    private static let bufferSize: Int32 = 32 * 1024

    convenience init(path: String, stop: StopCondition) throws(OpenFailure) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system(errno) }
        try self.init(adopting: descriptor, stop: stop)
    }

    /// Reads the file open at `descriptor` from its start, through a duplicate of the descriptor
    /// (the caller's stays open): the conversion child reads its input this way, and opens it
    /// afresh for a second pass the same way.
    convenience init(descriptor: Int32, stop: StopCondition) throws(OpenFailure) {
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { throw .system(errno) }
        guard lseek(duplicate, 0, SEEK_SET) == 0 else {
            let code = errno
            close(duplicate)
            throw .system(code)
        }
        try self.init(adopting: duplicate, stop: stop)
    }

    /// Takes `descriptor` over: it is closed in `deinit`, or here if this fails.
    private init(adopting descriptor: Int32, stop: StopCondition) throws(OpenFailure) {
        self.stop = stop
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw .system(code)
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            close(descriptor)
            throw .directory
        }
        if status.st_mode & S_IFMT == S_IFREG && status.st_size == 0 {
            close(descriptor)
            throw .empty
        }
        self.descriptor = descriptor
        size = Int64(status.st_size)
        guard let buffer = av_malloc(Int(Self.bufferSize))?.assumingMemoryBound(to: UInt8.self) else {
            close(descriptor)
            throw .outOfMemory
        }
        io = avio_alloc_context(
            buffer, Self.bufferSize, 0, Unmanaged.passUnretained(self).toOpaque(),
            { opaque, buffer, size in
                guard let opaque, let buffer else { return vmp3_averror_from_errno(EINVAL) }
                return Unmanaged<FileInput>.fromOpaque(opaque).takeUnretainedValue().read(into: buffer, count: Int(size))
            },
            nil,
            { opaque, offset, whence in
                guard let opaque else { return Int64(vmp3_averror_from_errno(EINVAL)) }
                return Unmanaged<FileInput>.fromOpaque(opaque).takeUnretainedValue().seek(to: offset, whence: whence)
            }
        )
        if io == nil {
            av_free(buffer)
            close(descriptor)
            throw .outOfMemory
        }
    }

    deinit {
        if let io {
            // libavformat may have replaced the buffer it was given: free the one it holds now.
            av_freep(&io.pointee.buffer)
        }
        avio_context_free(&io)
        close(descriptor)
    }

    /// The read callback: fills `buffer` with up to `count` bytes.
    private func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) -> Int32 {
        if stop.reason != nil { return vmp3_averror_exit() }
        while true {
            let read = systemRead(descriptor, buffer, count)
            if read > 0 { return Int32(read) }
            if read == 0 { return AVError.endOfFile.code }
            if errno == EINTR { continue }
            ioError = errno
            return vmp3_averror_from_errno(errno)
        }
    }

    /// The seek callback: `whence` is `SEEK_SET`, `SEEK_CUR`, `SEEK_END` or `AVSEEK_SIZE`,
    /// possibly with `AVSEEK_FORCE`.
    private func seek(to offset: Int64, whence: Int32) -> Int64 {
        if whence & AVSEEK_SIZE != 0 { return size }
        if stop.reason != nil { return Int64(vmp3_averror_exit()) }
        let position = lseek(descriptor, off_t(offset), whence & ~AVSEEK_FORCE)
        if position < 0 {
            // A seek fails only for an offset the file's own data asked for (negative, or
            // beyond off_t): bad data, not an I/O error, so ioError stays unset.
            return Int64(vmp3_averror_from_errno(errno))
        }
        return Int64(position)
    }

    /// The demuxer FFmpeg's probe picks for the file's first bytes (at most `maxBytes`), read
    /// through ``io``; the bytes it read are kept for the demuxer.
    ///
    /// - Returns: the format and the probe's score (0–100); the file name plays no part in it.
    func probeFormat(maxBytes: Int) throws(AVError) -> ProbedFormat {
        var format: UnsafePointer<AVInputFormat>? = nil
        let score = av_probe_input_buffer2(io, &format, nil, nil, 0, UInt32(clamping: maxBytes))
        guard score >= 0, let format else { throw AVError(score < 0 ? score : AVError.invalidData.code) }
        return ProbedFormat(format: format, score: Int(score))
    }
}

/// A demuxer chosen by probing a ``FileInput``.
struct ProbedFormat {
    let format: UnsafePointer<AVInputFormat>
    /// How sure the probe was, 0–100.
    let score: Int

    /// FFmpeg's name for the demuxer, for example `mov,mp4,m4a,3gp,3g2,mj2`.
    var name: String { String(cString: format.pointee.name) }
}
