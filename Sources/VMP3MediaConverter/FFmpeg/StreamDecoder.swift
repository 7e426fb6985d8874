import VMP3Core
import CFFmpeg

/// Owns an opened `AVCodecContext` that decodes one stream of an ``InputContainer``; freed in
/// `deinit`. ``audio(container:streamIndex:)`` and ``videoKeyFrames(container:streamIndex:)``
/// make the two kinds the converter uses, each with its own bounds.
final class StreamDecoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?

    /// FFmpeg's name for the codec, for example `aac`.
    let codecName: String

    /// The outcome of asking the decoder for a frame.
    enum Output {
        /// `frame` holds decoded samples or a picture.
        case frame
        /// The decoder wants another packet first.
        case needsInput
        /// The decoder is drained (after ``finish()``).
        case finished
    }

    /// Creates a decoder for stream `index` of `container`, configured by `configure` before it
    /// is opened.
    ///
    /// - Parameter allowedDecoders: the decoders (by FFmpeg's name) that may be used, or `nil` for
    ///   whichever FFmpeg picks.
    /// - Throws: `decoderNotFound` when this FFmpeg build has no (allowed) decoder for the codec.
    init(
        container: InputContainer, streamIndex index: Int, allowedDecoders: Set<String>? = nil,
        configure: (UnsafeMutablePointer<AVCodecContext>) -> Void
    ) throws(AVError) {
        let stream = container.stream(index)
        let parameters = stream.pointee.codecpar!
        codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id),
              allowedDecoders?.contains(String(cString: codec.pointee.name)) ?? true else {
            throw AVError.decoderNotFound
        }
        guard let context = avcodec_alloc_context3(codec) else { throw AVError.outOfMemory }
        self.context = context
        var status = avcodec_parameters_to_context(context, parameters)
        if status < 0 { throw AVError(status) }
        context.pointee.pkt_timebase = stream.pointee.time_base
        configure(context)
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

    /// Signals the end of the stream, so that ``receive(into:)`` returns the buffered frames.
    func finish() {
        _ = avcodec_send_packet(context, nil)
    }

    /// Forgets every packet sent, after ``finish()`` too, so that decoding can start again.
    func reset() {
        avcodec_flush_buffers(context)
    }

    /// Takes the next decoded frame, if one is ready.
    func receive(into frame: Frame) throws(AVError) -> Output {
        let status = avcodec_receive_frame(context, frame.pointer)
        if status >= 0 { return .frame }
        if status == AVError.tryAgain.code { return .needsInput }
        if status == AVError.endOfFile.code { return .finished }
        throw AVError(status)
    }
}
