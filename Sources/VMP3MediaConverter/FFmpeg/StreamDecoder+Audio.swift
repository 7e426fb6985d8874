import VMP3Core
import CFFmpeg

extension StreamDecoder {
    /// A decoder for audio stream `index` of `container`, which refuses a frame larger than
    /// ``ConversionLimits/maxFrameSamples`` (`max_samples`) instead of allocating what the
    /// bitstream declares.
    ///
    /// - Throws: `decoderNotFound` when this FFmpeg build has no decoder for the codec.
    static func audio(container: InputContainer, streamIndex index: Int) throws(AVError) -> StreamDecoder {
        try StreamDecoder(container: container, streamIndex: index) { context in
            _ = av_opt_set_int(UnsafeMutableRawPointer(context), "max_samples", Int64(ConversionLimits.maxFrameSamples), 0)
        }
    }
}
