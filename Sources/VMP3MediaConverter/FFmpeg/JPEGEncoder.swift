import VMP3Core
import CFFmpeg

/// Encodes one full-range 4:2:0 picture as a baseline JPEG with FFmpeg's own MJPEG encoder.
enum JPEGEncoder {
    /// The fixed quantiser scale: 3 is visually clean at cover sizes (a 600 px picture is tens of
    /// kilobytes).
    static let quantiser: Int32 = 3

    /// The JPEG file's bytes for `picture` (as ``PictureScaler`` makes it).
    static func encode(_ picture: Frame) throws(AVError) -> [UInt8] {
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG) else { throw AVError.decoderNotFound }
        var context = avcodec_alloc_context3(codec)
        defer { avcodec_free_context(&context) }
        guard let context else { throw AVError.outOfMemory }
        context.pointee.width = picture.pointer.pointee.width
        context.pointee.height = picture.pointer.pointee.height
        context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        context.pointee.color_range = AVCOL_RANGE_JPEG
        context.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointee.thread_count = 1
        context.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
        context.pointee.global_quality = Self.quantiser * FF_QP2LAMBDA
        var status = avcodec_open2(context, codec, nil)
        if status < 0 { throw AVError(status) }

        picture.pointer.pointee.quality = context.pointee.global_quality
        picture.pointer.pointee.pts = 0
        status = avcodec_send_frame(context, picture.pointer)
        if status < 0 { throw AVError(status) }
        _ = avcodec_send_frame(context, nil)
        let packet = try Packet()
        status = avcodec_receive_packet(context, packet.pointer)
        if status < 0 { throw AVError(status) }
        defer { packet.unref() }
        guard let data = packet.pointer.pointee.data, packet.pointer.pointee.size > 0 else { throw AVError.invalidData }
        return Array(UnsafeBufferPointer(start: data, count: Int(packet.pointer.pointee.size)))
    }
}
