import CFFmpeg

/// Owns a `SwrContext` that turns decoded frames into planar float samples at the MP3's rate and
/// channel count, downmixing as it goes; freed in `deinit`.
final class Resampler {
    private var context: OpaquePointer?
    private let inputRate: Int32
    private let inputFormat: Int32
    private let inputChannels: Int32
    let outputRate: Int32
    let outputChannels: Int32

    /// Configures conversion from the format of `frame`.
    ///
    /// - Parameter lfeMixLevel: how much of the LFE channel goes into the downmix. FFmpeg's
    ///   default drops it; a listener expects to hear the bass of a 5.1 soundtrack in stereo.
    init(matching frame: Frame, outputRate: Int32, outputChannels: Int32, lfeMixLevel: Double) throws(AVError) {
        inputRate = frame.sampleRate
        inputFormat = frame.sampleFormat
        inputChannels = frame.channelCount
        self.outputRate = outputRate
        self.outputChannels = outputChannels

        var inputLayout = AVChannelLayout()
        var outputLayout = AVChannelLayout()
        defer {
            av_channel_layout_uninit(&inputLayout)
            av_channel_layout_uninit(&outputLayout)
        }
        // A layout that names no channels ("6 channels") gets FFmpeg's default order for its count,
        // so that the downmix can still place each channel.
        if frame.pointer.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC {
            av_channel_layout_default(&inputLayout, frame.channelCount)
        } else {
            let status = av_channel_layout_copy(&inputLayout, &frame.pointer.pointee.ch_layout)
            if status < 0 { throw AVError(status) }
        }
        av_channel_layout_default(&outputLayout, outputChannels)

        var created: OpaquePointer? = nil
        var status = swr_alloc_set_opts2(
            &created, &outputLayout, AV_SAMPLE_FMT_FLTP, outputRate,
            &inputLayout, AVSampleFormat(frame.sampleFormat), frame.sampleRate, 0, nil
        )
        guard status >= 0, let created else { throw AVError(status < 0 ? status : AVError.outOfMemory.code) }
        context = created
        let options = UnsafeMutableRawPointer(created)
        _ = av_opt_set_double(options, "lfe_mix_level", lfeMixLevel, 0)
        // Keep each output channel's gain at most 1 so that a loud 5.1 mix does not clip in stereo.
        _ = av_opt_set_double(options, "rematrix_maxval", 1.0, 0)
        status = swr_init(created)
        if status < 0 { throw AVError(status) }
    }

    deinit {
        swr_free(&context)
    }

    /// Whether `frame` has the format this resampler was configured for.
    func accepts(_ frame: Frame) -> Bool {
        frame.sampleRate == inputRate && frame.sampleFormat == inputFormat && frame.channelCount == inputChannels
    }

    /// Converts `frame` into `buffer`, growing the buffer to fit one frame's output if needed.
    ///
    /// - Returns: the number of samples per channel written.
    func convert(_ frame: Frame, into buffer: PCMBuffer) throws(AVError) -> Int {
        buffer.reserve(Int(swr_get_out_samples(context, Int32(frame.sampleCount))))
        let input = UnsafeMutablePointer<UnsafePointer<UInt8>?>(OpaquePointer(frame.pointer.pointee.extended_data))
        let count = swr_convert(context, buffer.planePointers, Int32(buffer.capacity), input, Int32(frame.sampleCount))
        if count < 0 { throw AVError(count) }
        return Int(count)
    }

    /// Drains the samples the resampler still holds (call repeatedly until it returns 0).
    func drain(into buffer: PCMBuffer) throws(AVError) -> Int {
        let count = swr_convert(context, buffer.planePointers, Int32(buffer.capacity), nil, 0)
        if count < 0 { throw AVError(count) }
        return Int(count)
    }
}
