import VMP3Core

/// Standard output or standard error, written with `write(2)`.
///
/// A reader that has gone (`vmp3 settings | head -1`: `EPIPE`, with SIGPIPE ignored) ends the
/// write quietly; the CLI has nothing better to do with text no one reads.
enum StandardStream: Int32 {
    case output = 1
    case error = 2

    func write(_ text: String) {
        var text = text
        _ = try? text.withUTF8 { bytes in
            try OpenFile.write(UnsafeRawBufferPointer(bytes), toDescriptor: rawValue, path: self == .output ? "standard output" : "standard error")
        }
    }
}
