import VMP3Core
import CFFmpeg

/// Owns an `AVCodecContext` that decodes the key frames of one video stream, for a cover; freed
/// in `deinit`.
///
/// The only decoder of the pipeline that sees video, and so the most constrained: one of
/// ``allowedDecoders`` (FFmpeg's most used and most fuzzed video decoders), key frames only
/// (`skip_frame`), one thread, and no picture over ``ConversionLimits/maxCoverFramePixels``
/// (`max_pixels`: the decoder refuses the frame before it allocates it).
final class VideoDecoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?

    /// The decoders a cover may be taken with, by FFmpeg's name. Video in any other codec gets no
    /// cover from its frames.
    static let allowedDecoders: Set<String> = [
        "h264", "hevc", "vp8", "vp9", "libdav1d", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg",
    ]

    /// Creates a decoder for video stream `index` of `container`.
    ///
    /// - Throws: `decoderNotFound` when the codec has no allowed decoder in this FFmpeg build.
    init(container: InputContainer, streamIndex index: Int) throws(AVError) {
        let stream = container.stream(index)
        let parameters = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id),
              Self.allowedDecoders.contains(String(cString: codec.pointee.name)) else {
            throw AVError.decoderNotFound
        }
        guard let context = avcodec_alloc_context3(codec) else { throw AVError.outOfMemory }
        self.context = context
        var status = avcodec_parameters_to_context(context, parameters)
        if status < 0 { throw AVError(status) }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = 1
        context.pointee.skip_frame = AVDISCARD_NONKEY
        _ = av_opt_set_int(UnsafeMutableRawPointer(context), "max_pixels", Int64(ConversionLimits.maxCoverFramePixels), 0)
        status = avcodec_open2(context, codec, nil)
        if status < 0 { throw AVError(status) }
    }

    deinit {
        avcodec_free_context(&context)
    }

    /// Sends one packet of the stream to the decoder.
    ///
    /// - Throws: the decoder's error for a damaged packet (the caller may skip it and go on).
    func send(_ packet: Packet) throws(AVError) {
        let status = avcodec_send_packet(context, packet.pointer)
        if status < 0 && status != AVError.tryAgain.code { throw AVError(status) }
    }

    /// Signals the end of the stream, so that ``receive(into:)`` returns a buffered frame.
    func finish() {
        _ = avcodec_send_packet(context, nil)
    }

    /// Forgets every packet sent, after ``finish()`` too, so that decoding can start again.
    func reset() {
        avcodec_flush_buffers(context)
    }

    /// Takes the next decoded picture into `frame`; `false` if none is ready.
    func receive(into frame: Frame) throws(AVError) -> Bool {
        let status = avcodec_receive_frame(context, frame.pointer)
        if status >= 0 { return true }
        if status == AVError.tryAgain.code || status == AVError.endOfFile.code { return false }
        throw AVError(status)
    }
}
