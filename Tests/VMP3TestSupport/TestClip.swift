import Foundation

/// Short test videos made with the ffmpeg CLI at run time (no media is committed).
public enum TestClip {
    /// Writes a `seconds`-long 320×240 H.264 video with a 440 Hz AAC tone, in MP4, to `file`.
    @discardableResult
    public static func make(at file: URL, seconds: Int = 2) async throws -> URL {
        try await ExternalTool.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=\(seconds)", "-f", "lavfi", "-i", "sine=frequency=440:duration=\(seconds)",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", file.path,
        ])
        return file
    }
}
