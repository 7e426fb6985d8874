import VMP3Core
import CFFmpeg

/// Owns one decoded `AVFrame`, reused for every frame the decoder returns; freed in `deinit`.
final class Frame {
    let pointer: UnsafeMutablePointer<AVFrame>

    init() throws(AVError) {
        guard let frame = av_frame_alloc() else { throw AVError.outOfMemory }
        pointer = frame
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }

    /// Samples per channel in this frame.
    var sampleCount: Int { Int(pointer.pointee.nb_samples) }

    var sampleRate: Int32 { pointer.pointee.sample_rate }

    /// The raw `AVSampleFormat` value.
    var sampleFormat: Int32 { pointer.pointee.format }

    var channelCount: Int32 { pointer.pointee.ch_layout.nb_channels }

    /// The best timestamp FFmpeg can give for the frame, in the stream's time base.
    var timestamp: Int64? {
        let pts = pointer.pointee.best_effort_timestamp
        return pts == avNoTimestamp ? nil : pts
    }

    func unref() {
        av_frame_unref(pointer)
    }
}
