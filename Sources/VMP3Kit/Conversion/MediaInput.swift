#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Opens an input for conversion or probing and turns every way that can fail into a
/// ``ConversionError`` that names the cause.
enum MediaInput {
    /// Below this probe score FFmpeg itself warns "misdetection possible" (`AVPROBE_SCORE_RETRY`):
    /// such a guess is more likely noise than media.
    static let minimumProbeScore = 26

    /// Demuxers that accept plain text as "video": FFmpeg's `tty` renders any `.txt` file as ANSI
    /// art. Such a file is not media to anyone converting it to MP3.
    static let textDemuxers: Set<String> = ["tty"]

    static func open(_ url: URL) throws(ConversionError) -> InputContainer {
        let path = url.path
        var status = stat()
        if stat(path, &status) != 0 {
            let reason = String(cString: strerror(errno))
            if errno == ENOENT || errno == ENOTDIR {
                throw ConversionError(code: .inputNotFound, message: "\(path): no such file")
            }
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(reason)")
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): it is a directory")
        }
        if access(path, R_OK) != 0 {
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if status.st_mode & S_IFMT == S_IFREG && status.st_size == 0 {
            throw ConversionError(code: .notMediaFile, message: "\(path) is empty")
        }

        let container: InputContainer
        do {
            container = try InputContainer(path: path)
        } catch {
            if let code = error.posixErrno, code != EINVAL {
                throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(error.message)")
            }
            throw ConversionError(
                code: .notMediaFile,
                message: "\(path) is not a media file FFmpeg can read, or it is damaged (\(error.message))"
            )
        }
        if container.probeScore > 0 && container.probeScore < minimumProbeScore {
            throw ConversionError(
                code: .notMediaFile,
                message: "\(path) is not a media file FFmpeg can read (format guessed with confidence \(container.probeScore)/100)"
            )
        }
        if textDemuxers.contains(container.formatName) {
            throw ConversionError(code: .notMediaFile, message: "\(path) is a text file, not a media file")
        }
        return container
    }
}
