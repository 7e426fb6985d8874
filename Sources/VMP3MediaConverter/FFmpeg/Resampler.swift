import VMP3Core
import CFFmpeg

/// Owns a `SwrContext` that turns decoded frames into planar float samples at the MP3's rate and
/// channel count, downmixing as it goes; freed in `deinit`.
///
/// Works in chunks no larger than the output buffer it is given, whatever a frame holds: a
/// frame is fed a slice at a time, each slice small enough that its output fits, so neither the
/// buffer nor the resampler's own memory grows with the frame or with the ratio of the rates.
final class Resampler {
    private var context: OpaquePointer?
    private let inputRate: Int32
    private let inputFormat: Int32
    private let inputChannels: Int32
    /// Bytes of one sample of one channel in the input format.
    private let bytesPerSample: Int
    private let inputIsPlanar: Bool
    /// The input pointers of the current slice: one per channel (planar) or one (packed).
    private let slicePointers: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    private let slicePointerCount: Int
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
        bytesPerSample = Int(av_get_bytes_per_sample(AVSampleFormat(frame.sampleFormat)))
        inputIsPlanar = av_sample_fmt_is_planar(AVSampleFormat(frame.sampleFormat)) != 0
        slicePointerCount = inputIsPlanar ? Int(max(1, frame.channelCount)) : 1
        slicePointers = .allocate(capacity: slicePointerCount)
        slicePointers.initialize(repeating: nil, count: slicePointerCount)
        self.outputRate = outputRate
        self.outputChannels = outputChannels
        guard bytesPerSample > 0 else { throw .invalidData }

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
        // The standard downmix (centre and surrounds at −3 dB, ITU-R BS.775 / ATSC A/52 Lo/Ro)
        // without normalising the matrix: normalised, the gains sum to one and a 5.1 film comes
        // out about 9 dB quieter than its source. In float throughout, swresample neither
        // normalises nor clips; the pipeline's PeakLimiter keeps the sum under full scale.
        _ = av_opt_set_sample_fmt(options, "internal_sample_fmt", AV_SAMPLE_FMT_FLTP, 0)
        _ = av_opt_set_double(options, "rematrix_maxval", 0, 0)
        status = swr_init(created)
        if status < 0 { throw AVError(status) }
    }

    deinit {
        swr_free(&context)
        slicePointers.deallocate()
    }

    /// Whether `frame` has the format this resampler was configured for.
    func accepts(_ frame: Frame) -> Bool {
        frame.sampleRate == inputRate && frame.sampleFormat == inputFormat && frame.channelCount == inputChannels
    }

    /// Converts `frame` a slice at a time into `buffer`, calling `consume` with the number of
    /// samples per channel written after each slice (the buffer is reused for the next one).
    ///
    /// - Throws: `damaged_input` if the resampler fails, or what `consume` throws.
    func convert(_ frame: Frame, into buffer: PCMBuffer, consume: (Int) throws(ConversionError) -> Void) throws(ConversionError) {
        let total = frame.sampleCount
        guard let planes = frame.pointer.pointee.extended_data else { throw Self.failure(.invalidData) }
        let capacity = Int32(buffer.capacity)
        var offset = 0
        while offset < total {
            // The largest slice whose output surely fits the buffer.
            var count = min(total - offset, Int(Int64(buffer.capacity) * Int64(inputRate) / Int64(max(1, outputRate))) + 1)
            while count > 1 && swr_get_out_samples(context, Int32(count)) > capacity {
                count /= 2
            }
            let stride = inputIsPlanar ? bytesPerSample : bytesPerSample * Int(inputChannels)
            for index in 0..<slicePointerCount {
                slicePointers[index] = planes[index].map { UnsafePointer($0 + offset * stride) }
            }
            var written = swr_convert(context, buffer.planePointers, capacity, slicePointers, Int32(count))
            // If the output did not fit after all, the resampler kept the rest: take it out
            // (an input count of 0 with non-null input does not flush).
            while written >= 0 {
                if written > 0 { try consume(Int(written)) }
                guard written == capacity else { break }
                written = swr_convert(context, buffer.planePointers, capacity, slicePointers, 0)
            }
            if written < 0 { throw Self.failure(AVError(written)) }
            offset += count
        }
    }

    private static func failure(_ error: AVError) -> ConversionError {
        ConversionError(code: .damagedInput, message: "resampling failed: \(error.message)")
    }

    /// Drains the samples the resampler still holds (call repeatedly until it returns 0).
    func drain(into buffer: PCMBuffer) throws(AVError) -> Int {
        let count = swr_convert(context, buffer.planePointers, Int32(buffer.capacity), nil, 0)
        if count < 0 { throw AVError(count) }
        return Int(count)
    }
}
