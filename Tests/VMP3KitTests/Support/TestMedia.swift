import Foundation
import VMP3TestSupport

/// Media files the tests make with the ffmpeg CLI, once per test run, in a temporary folder.
/// Nothing is committed: every clip is generated from FFmpeg's lavfi sources.
enum TestMedia: String, CaseIterable, Sendable {
    /// 3 s, 320×240 H.264 + stereo AAC 44.1 kHz, a 440 Hz tone, MP4.
    case h264AACMP4 = "h264-aac.mp4"
    /// The same as an MP4 with its index at the front (`+faststart`).
    case h264AACFastStartMP4 = "h264-aac-faststart.mp4"
    /// 3 s H.264 + Opus (48 kHz stereo) in Matroska.
    case opusMKV = "opus.mkv"
    /// 3 s VP8 + Vorbis (44.1 kHz stereo) in WebM.
    case vorbisWebM = "vorbis.webm"
    /// 3 s MJPEG + 16-bit PCM (44.1 kHz stereo) in QuickTime.
    case pcmMOV = "pcm.mov"
    /// 3 s 5.1 AAC at 48 kHz: each channel a tone of its own (see ``surroundTones``).
    case surround51 = "surround-5.1.mp4"
    /// 3 s mono AAC at 8 kHz, 440 Hz.
    case mono8k = "mono-8k.mp4"
    /// 3 s stereo FLAC at 96 kHz, 440 Hz, Matroska.
    case flac96k = "flac-96k.mkv"
    /// 3 s of 440 Hz with title, artist, album, date and comment tags.
    case tagged = "tagged.mp4"
    /// 3 s of H.264 video and no audio.
    case videoOnly = "video-only.mp4"
    /// 4 s: 440 Hz for the first 2 s, 880 Hz after (for trimming).
    case twoTones = "two-tones.mkv"
    /// 3 s with two audio streams: stream 1 at 440 Hz, stream 2 at 880 Hz.
    case twoAudioStreams = "two-audio-streams.mkv"
    /// 10 minutes of stereo AAC audio (long enough to cancel half-way).
    case longAudio = "long-audio.m4a"

    /// The tone of each channel of ``surround51``, in FFmpeg's 5.1 order: FL, FR, FC, LFE, BL, BR.
    static let surroundTones: [Double] = [300, 500, 700, 90, 1100, 1300]

    /// The tags written into ``tagged``.
    static let taggedTags: [String: String] = [
        "title": "Ünïcode Tītle ♫", "artist": "The Testers", "album": "Fixtures", "date": "2024", "comment": "made by ffmpeg",
    ]

    /// The file, made on first use.
    var url: URL {
        get async throws { try await TestMediaFactory.shared.url(for: self) }
    }

    fileprivate func generate(at url: URL) async throws {
        let video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=15:duration=3"]
        let tone = { (rate: Int, seconds: Int) in
            ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=\(rate):duration=\(seconds)"]
        }
        let h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        let arguments: [String]
        switch self {
        case .h264AACMP4:
            arguments = video + tone(44_100, 3) + h264 + ["-c:a", "aac", "-ac", "2"]
        case .h264AACFastStartMP4:
            arguments = video + tone(44_100, 3) + h264 + ["-c:a", "aac", "-ac", "2", "-movflags", "+faststart"]
        case .opusMKV:
            arguments = video + tone(48_000, 3) + h264 + ["-c:a", "libopus", "-ac", "2"]
        case .vorbisWebM:
            arguments = video + tone(44_100, 3) + ["-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libvorbis", "-ac", "2"]
        case .pcmMOV:
            arguments = video + tone(44_100, 3) + ["-c:v", "mjpeg", "-c:a", "pcm_s16le", "-ac", "2"]
        case .surround51:
            let expressions = Self.surroundTones.map { "0.3*sin(2*PI*\(Int($0))*t)" }.joined(separator: "|")
            arguments = ["-f", "lavfi", "-i", "aevalsrc=exprs=\(expressions):channel_layout=5.1:sample_rate=48000:duration=3",
                         "-c:a", "aac", "-b:a", "384k"]
        case .mono8k:
            arguments = tone(8000, 3) + ["-c:a", "aac", "-ac", "1"]
        case .flac96k:
            arguments = tone(96_000, 3) + ["-c:a", "flac", "-ac", "2"]
        case .tagged:
            arguments = video + tone(44_100, 3) + h264 + ["-c:a", "aac"]
                + Self.taggedTags.sorted { $0.key < $1.key }.flatMap { ["-metadata", "\($0.key)=\($0.value)"] }
        case .videoOnly:
            arguments = video + h264
        case .twoTones:
            arguments = ["-f", "lavfi", "-i", "aevalsrc=exprs=0.5*sin(2*PI*if(lt(t\\,2)\\,440\\,880)*t):sample_rate=44100:duration=4",
                         "-c:a", "flac"]
        case .twoAudioStreams:
            arguments = video + tone(44_100, 3) + ["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100:duration=3"]
                + ["-map", "0:v", "-map", "1:a", "-map", "2:a"] + h264 + ["-c:a", "aac"]
        case .longAudio:
            arguments = tone(44_100, 600) + ["-c:a", "aac", "-ac", "2"]
        }
        try await ExternalTool.ffmpeg(arguments + [url.path])
    }
}

/// Makes each ``TestMedia`` file once, even when tests running in parallel ask at the same time.
actor TestMediaFactory {
    static let shared = TestMediaFactory()

    let directory: URL = {
        let url = testRoot.appendingPathComponent("media")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    private var pending: [TestMedia: Task<URL, any Error>] = [:]

    func url(for media: TestMedia) async throws -> URL {
        if let task = pending[media] { return try await task.value }
        let url = directory.appendingPathComponent(media.rawValue)
        let task = Task {
            try await media.generate(at: url)
            return url
        }
        pending[media] = task
        return try await task.value
    }
}
