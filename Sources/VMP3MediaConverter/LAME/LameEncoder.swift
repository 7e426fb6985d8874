import VMP3Core
import CLame

/// Owns a LAME encoder (`lame_t`) and its MP3 output buffer; both freed in `deinit`.
///
/// Takes planar float samples at the output rate (the pipeline resamples beforehand) and appends
/// MP3 frames to an ``AtomicOutputFile`` (or hands them to a closure). With `writesLameTag`, the
/// first frame it writes is LAME's placeholder for the LAME/Xing frame, which
/// ``writeLameTag(to:at:)`` fills in once the length is known.
final class LameEncoder: MP3StreamEncoder {
    /// The format and encoding LAME accepted, as it will use them.
    struct Configuration {
        var sampleRate: Int32
        var channels: Int32
        var encoding: ConversionOptions.Encoding
    }

    private let flags: OpaquePointer
    private var buffer: UnsafeMutablePointer<UInt8>
    private var bufferCapacity: Int
    /// The settings in force after `lame_init_params` (the bit rate LAME settled on).
    let settings: Configuration

    /// Samples per channel in one MP3 frame: 1152 (MPEG-1, 32 kHz and up) or 576.
    let frameSize: Int
    /// Samples LAME puts before the first input sample (576: its look-ahead).
    let encoderDelay: Int

    init(_ requested: Configuration, writesLameTag: Bool = true) throws(ConversionError) {
        guard let flags = lame_init() else { throw Self.failure("LAME could not allocate an encoder") }
        self.flags = flags
        bufferCapacity = Self.bufferSize(forSamples: 4096)
        buffer = .allocate(capacity: bufferCapacity)

        lame_set_in_samplerate(flags, requested.sampleRate)
        lame_set_out_samplerate(flags, requested.sampleRate)
        lame_set_num_channels(flags, requested.channels)
        lame_set_mode(flags, requested.channels == 1 ? MONO : JOINT_STEREO)
        switch requested.encoding {
        case .constantBitRate(let kbps):
            lame_set_VBR(flags, vbr_off)
            lame_set_brate(flags, Int32(kbps))
        case .variableBitRate(let quality):
            lame_set_VBR(flags, vbr_default)
            lame_set_VBR_quality(flags, Float(quality))
        }
        // The LAME/Xing frame makes players show the exact length and lets decoders drop the
        // encoder's delay and padding. VMP3 writes the ID3v2 tag itself.
        lame_set_bWriteVbrTag(flags, writesLameTag ? 1 : 0)
        lame_set_write_id3tag_automatic(flags, 0)
        let status = lame_init_params(flags)
        if status < 0 {
            // deinit runs for a fully initialised object and releases flags and buffer.
            settings = requested
            frameSize = 0
            encoderDelay = 0
            throw Self.failure("LAME refused the settings (\(requested)); lame_init_params returned \(status)")
        }
        var effective = requested
        if case .constantBitRate = requested.encoding {
            effective.encoding = .constantBitRate(kbps: Int(lame_get_brate(flags)))
        }
        effective.sampleRate = lame_get_out_samplerate(flags)
        settings = effective
        frameSize = Int(lame_get_framesize(flags))
        encoderDelay = Int(lame_get_encoder_delay(flags))
    }

    deinit {
        lame_close(flags)
        buffer.deallocate()
    }

    /// LAME's documented worst case for `samples` input samples: 1.25 × samples + 7200 bytes.
    private static func bufferSize(forSamples samples: Int) -> Int {
        samples + samples / 4 + 7200
    }

    /// Encodes samples `range` of `pcm` and appends the frames LAME completes to `file`.
    func encode(_ pcm: PCMBuffer, range: Range<Int>, to file: AtomicOutputFile) throws(ConversionError) {
        guard !range.isEmpty else { return }
        for plane in pcm.planes {
            Self.sanitize(plane + range.lowerBound, count: range.count)
        }
        let left = pcm.planes[0] + range.lowerBound
        let right = pcm.channelCount == 2 ? pcm.planes[1] + range.lowerBound : left
        try encode(left: left, right: right, count: range.count) { (bytes: UnsafeRawBufferPointer) throws(ConversionError) in
            try file.append(bytes)
        }
    }

    /// Encodes `count` samples (already sanitised, see ``sanitize(_:count:)``) and passes the
    /// bytes of the frames LAME completes to `output`; the bytes are valid only during the call.
    func encode(
        left: UnsafePointer<Float>, right: UnsafePointer<Float>, count: Int,
        to output: (UnsafeRawBufferPointer) throws(ConversionError) -> Void
    ) throws(ConversionError) {
        guard count > 0 else { return }
        let needed = Self.bufferSize(forSamples: count)
        if needed > bufferCapacity {
            buffer.deallocate()
            bufferCapacity = needed
            buffer = .allocate(capacity: needed)
        }
        let written = lame_encode_buffer_ieee_float(flags, left, right, Int32(count), buffer, Int32(bufferCapacity))
        try output(try bytes(written))
    }

    /// The largest magnitude passed to LAME: 18 dB above full scale, far beyond any real
    /// overshoot, and small enough that LAME's single-precision energy sums stay finite.
    static let sampleBound: Float = 8

    /// Replaces NaN with silence and clamps every sample to ±``sampleBound``, in place.
    ///
    /// Float PCM in a file (WAV, W64, CAF, MOV) can hold NaN or infinity, and Debian's LAME is
    /// built with assertions: such a sample reaches `assert(el >= 0)` in its psychoacoustic
    /// model and aborts the process (found by the fuzzer).
    static func sanitize(_ samples: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count {
            let value = samples[index]
            samples[index] = value.isNaN ? 0 : min(max(value, -sampleBound), sampleBound)
        }
    }

    /// Encodes what LAME still buffers and appends the final frames.
    func flush(to file: AtomicOutputFile) throws(ConversionError) {
        try flush { (bytes: UnsafeRawBufferPointer) throws(ConversionError) in try file.append(bytes) }
    }

    /// Encodes what LAME still buffers and passes the final frames' bytes to `output`.
    func flush(to output: (UnsafeRawBufferPointer) throws(ConversionError) -> Void) throws(ConversionError) {
        try output(try bytes(lame_encode_flush(flags, buffer, Int32(bufferCapacity))))
    }

    /// Writes the finished LAME/Xing frame over the placeholder at `offset` (the first frame).
    func writeLameTag(to file: AtomicOutputFile, at offset: Int64) throws(ConversionError) {
        guard let frame = lameTagFrame() else { return }
        try file.overwrite(frame, at: offset)
    }

    /// The finished LAME/Xing frame (after ``flush(to:)``), or `nil` if LAME writes none: when
    /// created without `writesLameTag`, or at bit rates whose frames are too small to hold it.
    func lameTagFrame() -> [UInt8]? {
        let size = lame_get_lametag_frame(flags, buffer, bufferCapacity)
        guard size > 0, size <= bufferCapacity else { return nil }
        return Array(UnsafeBufferPointer(start: buffer, count: size))
    }

    private func bytes(_ count: Int32) throws(ConversionError) -> UnsafeRawBufferPointer {
        if count < 0 {
            throw Self.failure("LAME failed to encode (error \(count))")
        }
        return UnsafeRawBufferPointer(start: buffer, count: Int(count))
    }

    private static func failure(_ message: String) -> ConversionError {
        ConversionError(code: .encodingFailed, message: message)
    }
}
