import VMP3Core
import CLame

/// Owns a LAME encoder (`lame_t`) and its MP3 output buffer; both freed in `deinit`.
///
/// Takes planar float samples at the output rate (the pipeline resamples beforehand) and appends
/// MP3 frames to an ``AtomicOutputFile``. The first frame it writes is LAME's placeholder for the
/// LAME/Xing frame, which ``writeLameTag(to:at:)`` fills in once the length is known.
final class LameEncoder {
    /// Settings LAME accepted, as it will use them.
    struct Settings {
        var sampleRate: Int32
        var channels: Int32
        var encoding: ConversionOptions.Encoding
    }

    private let flags: OpaquePointer
    private var buffer: UnsafeMutablePointer<UInt8>
    private var bufferCapacity: Int
    /// The settings in force after `lame_init_params` (the bit rate LAME settled on).
    let settings: Settings

    init(_ requested: Settings) throws(ConversionError) {
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
        lame_set_bWriteVbrTag(flags, 1)
        lame_set_write_id3tag_automatic(flags, 0)
        let status = lame_init_params(flags)
        if status < 0 {
            // deinit runs for a fully initialised object and releases flags and buffer.
            settings = requested
            throw Self.failure("LAME refused the settings (\(requested)); lame_init_params returned \(status)")
        }
        var effective = requested
        if case .constantBitRate = requested.encoding {
            effective.encoding = .constantBitRate(kbps: Int(lame_get_brate(flags)))
        }
        effective.sampleRate = lame_get_out_samplerate(flags)
        settings = effective
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
        let needed = Self.bufferSize(forSamples: range.count)
        if needed > bufferCapacity {
            buffer.deallocate()
            bufferCapacity = needed
            buffer = .allocate(capacity: needed)
        }
        for plane in pcm.planes {
            Self.sanitize(plane + range.lowerBound, count: range.count)
        }
        let left = pcm.planes[0] + range.lowerBound
        let right = pcm.channelCount == 2 ? pcm.planes[1] + range.lowerBound : left
        let count = lame_encode_buffer_ieee_float(flags, left, right, Int32(range.count), buffer, Int32(bufferCapacity))
        try append(count, to: file)
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
        let count = lame_encode_flush(flags, buffer, Int32(bufferCapacity))
        try append(count, to: file)
    }

    /// Writes the finished LAME/Xing frame over the placeholder at `offset` (the first frame).
    func writeLameTag(to file: AtomicOutputFile, at offset: Int64) throws(ConversionError) {
        let size = lame_get_lametag_frame(flags, buffer, bufferCapacity)
        guard size > 0, size <= bufferCapacity else { return }
        try file.overwrite(UnsafeRawBufferPointer(start: buffer, count: size), at: offset)
    }

    private func append(_ count: Int32, to file: AtomicOutputFile) throws(ConversionError) {
        if count < 0 {
            throw Self.failure("LAME failed to encode (error \(count))")
        }
        try file.append(UnsafeRawBufferPointer(start: buffer, count: Int(count)))
    }

    private static func failure(_ message: String) -> ConversionError {
        ConversionError(code: .encodingFailed, message: message)
    }
}
