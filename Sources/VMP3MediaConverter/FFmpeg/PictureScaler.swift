import VMP3Core
import CFFmpeg

/// Owns a `SwsContext` that turns one decoded video picture into the full-range 4:2:0 YUV a JPEG
/// holds, at a smaller size; freed in `deinit`.
final class PictureScaler {
    private let context: OpaquePointer
    let width: Int32
    let height: Int32

    /// A scaler from `source`'s size and pixel format to `width` × `height`.
    ///
    /// - Returns: `nil` when libswscale cannot read the source's pixel format.
    init?(from source: Frame, width: Int32, height: Int32) {
        let picture = source.pointer.pointee
        guard picture.width > 0, picture.height > 0, width > 0, height > 0, picture.format >= 0,
              let context = sws_getContext(
                  picture.width, picture.height, AVPixelFormat(picture.format),
                  width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nil, nil, nil
              ) else { return nil }
        self.context = context
        self.width = width
        self.height = height
        // The source's matrix and range as the decoder reported them (HD video is BT.709, limited
        // range); a JPEG is BT.601, full range.
        let sourceMatrix = picture.colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601
        let sourceRange: Int32 = picture.color_range == AVCOL_RANGE_JPEG ? 1 : 0
        _ = sws_setColorspaceDetails(
            context, sws_getCoefficients(sourceMatrix), sourceRange, sws_getCoefficients(SWS_CS_ITU601), 1, 0, 1 << 16, 1 << 16
        )
    }

    deinit {
        sws_freeContext(context)
    }

    /// Scales `source` into a new picture.
    func scale(_ source: Frame) throws(AVError) -> Frame {
        let scaled = try Frame()
        scaled.pointer.pointee.width = width
        scaled.pointer.pointee.height = height
        scaled.pointer.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        scaled.pointer.pointee.color_range = AVCOL_RANGE_JPEG
        var status = av_frame_get_buffer(scaled.pointer, 0)
        if status < 0 { throw AVError(status) }
        status = sws_scale_frame(context, scaled.pointer, source.pointer)
        if status < 0 { throw AVError(status) }
        return scaled
    }
}
