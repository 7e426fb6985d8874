import VMP3Core
import CFFmpeg

extension StreamDecoder {
    /// The decoders a cover may be taken with, by FFmpeg's name: its most used and most fuzzed
    /// video decoders. Video in any other codec gets no cover from its frames.
    static let coverDecoders: Set<String> = [
        "h264", "hevc", "vp8", "vp9", "libdav1d", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg",
    ]

    /// A decoder of the key frames of video stream `index`, for a cover.
    ///
    /// The only decoder of the pipeline that sees video, and so the most constrained: one of
    /// ``coverDecoders``, key frames only (`skip_frame`), one thread, and no picture over
    /// ``ConversionLimits/maxCoverFramePixels`` (`max_pixels`: the decoder refuses the frame
    /// before it allocates it).
    ///
    /// - Throws: `decoderNotFound` when the codec has no allowed decoder in this FFmpeg build.
    static func videoKeyFrames(container: InputContainer, streamIndex index: Int) throws(AVError) -> StreamDecoder {
        try StreamDecoder(container: container, streamIndex: index, allowedDecoders: coverDecoders) { context in
            context.pointee.thread_count = 1
            context.pointee.skip_frame = AVDISCARD_NONKEY
            _ = av_opt_set_int(UnsafeMutableRawPointer(context), "max_pixels", Int64(ConversionLimits.maxCoverFramePixels), 0)
        }
    }
}
