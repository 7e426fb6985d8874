import Foundation

/// Short test videos made with the ffmpeg CLI at run time (no media is committed).
public enum TestClip {
    /// Writes a `seconds`-long 320×240 H.264 video with a 440 Hz AAC tone, in MP4, to `file`:
    /// made beside it and renamed, so that nobody reads it half-written.
    @discardableResult
    public static func make(at file: URL, seconds: Int = 2) async throws -> URL {
        let staging = file.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString)-\(file.lastPathComponent)")
        try await ExternalTool.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=\(seconds)", "-f", "lavfi", "-i", "sine=frequency=440:duration=\(seconds)",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", "-f", "mp4", staging.path,
        ])
        guard rename(staging.path, file.path) == 0 else {
            throw ExternalTool.Failure(description: "cannot rename \(staging.path) to \(file.path): errno \(errno)")
        }
        return file
    }
}
