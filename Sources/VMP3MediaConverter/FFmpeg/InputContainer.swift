#if canImport(Glibc)
import VMP3Core
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFFmpeg

/// Owns an `AVFormatContext` that demuxes a ``FileInput``; closes it in `deinit`.
///
/// Everything it returns is a Swift value; the stream and codec pointers it hands to
/// ``StreamDecoder`` stay within this folder.
final class InputContainer {
    private var context: UnsafeMutablePointer<AVFormatContext>?
    /// Kept alive for as long as the context reads through it.
    let input: FileInput
    /// Kept alive for as long as the context's interrupt callback may read it.
    private let stop: StopCondition

    /// Opens `input` with the demuxer `format` (which the caller checked against `policy`, given to
    /// libavformat too as `format_whitelist`) and reads enough of it to describe its streams.
    ///
    /// The demuxer is bounded by `limits` (`probesize`, `max_analyze_duration`, `max_streams`),
    /// may not open anything but `input` (`io_open` refuses every other file or URL, so that a
    /// playlist or reference inside an allowed container reads nothing), and stops when `stop`
    /// says so (`interrupt_callback`).
    init(input: FileInput, format: ProbedFormat, policy: InputFormatPolicy, limits: ConversionLimits, stop: StopCondition) throws(AVError) {
        self.input = input
        self.stop = stop
        guard let created = avformat_alloc_context() else { throw .outOfMemory }
        created.pointee.pb = input.io
        created.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        created.pointee.probesize = Int64(limits.probeBytes)
        created.pointee.max_analyze_duration = min(max(0, limits.analyzeDuration.components.seconds), 3600) * Int64(AV_TIME_BASE)
        created.pointee.max_streams = Int32(clamping: limits.maxStreams)
        if let whitelist = policy.formatWhitelist {
            created.pointee.format_whitelist = av_strdup(whitelist)
        }
        created.pointee.codec_whitelist = av_strdup(InputFormatPolicy.audioDecoderWhitelist)
        created.pointee.protocol_whitelist = av_strdup("none")
        created.pointee.io_open = { _, _, _, _, _ in vmp3_averror_from_errno(EPERM) }
        created.pointee.interrupt_callback = AVIOInterruptCB(
            callback: { opaque in
                guard let opaque else { return 0 }
                return Unmanaged<StopCondition>.fromOpaque(opaque).takeUnretainedValue().reason == nil ? 0 : 1
            },
            opaque: Unmanaged.passUnretained(stop).toOpaque()
        )
        var opened: UnsafeMutablePointer<AVFormatContext>? = created
        // On failure avformat_open_input frees the context and sets `opened` to nil; the custom
        // AVIOContext stays ours.
        let status = avformat_open_input(&opened, nil, format.format, nil)
        guard status >= 0, let opened else { throw AVError(status) }
        context = opened
        let infoStatus = avformat_find_stream_info(opened, nil)
        if infoStatus < 0 { throw AVError(infoStatus) }
    }

    deinit {
        avformat_close_input(&context)
    }

    /// Runs `body` with `other` as what interrupts the demuxer (its `interrupt_callback`) instead
    /// of the condition the container was opened with: a phase with bounds of its own, such as
    /// the cover's seconds, holds the demuxer to them inside a long seek or read too.
    func interrupting<Value, Failure: Error>(with other: StopCondition, _ body: () throws(Failure) -> Value) throws(Failure) -> Value {
        guard let context else { return try body() }
        context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(other).toOpaque()
        defer {
            context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(stop).toOpaque()
            withExtendedLifetime(other) {}
        }
        return try body()
    }

    /// Frees the demuxer (its index and buffers) before the container itself goes: for a caller
    /// that opens the input again meanwhile and must not hold both. Nothing but `close()` (which
    /// then does nothing) may be called on the container afterwards.
    func close() {
        avformat_close_input(&context)
    }

    private var format: AVFormatContext { context!.pointee }

    /// The demuxer's short name, for example `mov,mp4,m4a,3gp,3g2,mj2`.
    var formatName: String {
        format.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
    }

    /// Whether the duration was guessed from the bit rate (and so may be wrong).
    var durationIsEstimatedFromBitRate: Bool {
        format.duration_estimation_method == AVFMT_DURATION_FROM_BITRATE
    }

    var streamCount: Int { Int(format.nb_streams) }

    /// Duration of the whole file in seconds, if the container states it.
    var duration: Double? {
        let value = format.duration
        guard value != avNoTimestamp, value > 0 else { return nil }
        return Self.plausible(Double(value) / Double(AV_TIME_BASE))
    }

    /// `seconds`, or `nil` if no real file could last that long (a crafted header multiplies
    /// huge counts by huge time bases): lengths above a thousand years are not lengths.
    private static func plausible(_ seconds: Double) -> Double? {
        seconds.isFinite && seconds > 0 && seconds < 3.2e10 ? seconds : nil
    }

    var tags: [String: String] { metadataDictionary(format.metadata) }

    func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> {
        precondition(index >= 0 && index < streamCount, "stream index out of range")
        return format.streams[index]!
    }

    /// The stream's time base in seconds per tick.
    func timeBase(ofStream index: Int) -> Double {
        stream(index).pointee.time_base.doubleValue ?? 0
    }

    /// The stream's first timestamp in seconds (0 when unknown).
    func startTime(ofStream index: Int) -> Double {
        let start = stream(index).pointee.start_time
        return start == avNoTimestamp ? 0 : Double(start) * timeBase(ofStream: index)
    }

    /// The stream's own duration in seconds, if the container states it.
    func duration(ofStream index: Int) -> Double? {
        let value = stream(index).pointee.duration
        guard value != avNoTimestamp, value > 0 else { return nil }
        return Self.plausible(Double(value) * timeBase(ofStream: index))
    }

    /// How many packets of the stream the demuxer's index lists. For containers that index every
    /// packet (MP4/MOV, AVI) this is the packet count of the complete file; for those that index
    /// only seek points (Matroska cues) it is fewer than the packets; for the rest it is 0.
    func indexedPacketCount(ofStream index: Int) -> Int {
        Int(avformat_index_get_entries_count(stream(index)))
    }

    /// The pixel format of a video stream, which only its decoder can tell: `nil` while no video
    /// decoder has seen the stream (``InputFormatPolicy/audioDecoderWhitelist`` keeps it so).
    func pixelFormatName(ofStream index: Int) -> String? {
        let format = stream(index).pointee.codecpar.pointee.format
        guard format >= 0, let name = av_get_pix_fmt_name(AVPixelFormat(format)) else { return nil }
        return String(cString: name)
    }

    /// The first stream of moving pictures (not an `attached_pic`), for a cover taken from a frame.
    func firstVideoStream() -> Int? {
        (0..<streamCount).first { index in
            let stream = stream(index).pointee
            return stream.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO && stream.disposition & AV_DISPOSITION_ATTACHED_PIC == 0
        }
    }

    /// The width of a pixel over its height in stream `index` (anamorphic video has pixels wider
    /// or narrower than square), from the container, else 1.
    func pixelAspectRatio(ofStream index: Int) -> Double {
        let stream = stream(index).pointee
        for ratio in [stream.sample_aspect_ratio, stream.codecpar.pointee.sample_aspect_ratio] {
            if ratio.num > 0, ratio.den > 0, let value = ratio.doubleValue, value > 0.1, value < 10 { return value }
        }
        return 1
    }

    /// FFmpeg's choice of audio stream (`av_find_best_stream`): the default or the richest one.
    ///
    /// - Returns: the stream index, or `streamNotFound` / `decoderNotFound`.
    func bestAudioStream() -> Result<Int, AVError> {
        let index = av_find_best_stream(context, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        return index >= 0 ? .success(Int(index)) : .failure(AVError(index))
    }

    /// Tells the demuxer to skip every stream but `index`, so that it does not read them.
    func discardAllStreams(except index: Int) {
        for other in 0..<streamCount where other != index {
            stream(other).pointee.discard = AVDISCARD_ALL
        }
    }

    /// Seeks so that the next packet of `streamIndex` starts at or before `seconds` (relative to
    /// the stream's start).
    func seek(streamIndex: Int, to seconds: Double) throws(AVError) {
        let timeBase = timeBase(ofStream: streamIndex)
        guard timeBase > 0 else { return }
        let base = stream(streamIndex).pointee.start_time
        guard let ticks = CheckedConversion.int64((seconds / timeBase).rounded(.down)) else { return }
        let (target, overflow) = ticks.addingReportingOverflow(base == avNoTimestamp ? 0 : base)
        guard !overflow else { return }
        let status = av_seek_frame(context, Int32(streamIndex), target, AVSEEK_FLAG_BACKWARD)
        if status < 0 { throw AVError(status) }
    }

    /// Reads the next packet into `packet`.
    ///
    /// - Returns: `false` at the end of the file.
    func read(into packet: Packet) throws(AVError) -> Bool {
        let status = av_read_frame(context, packet.pointer)
        if status == AVError.endOfFile.code { return false }
        if status < 0 { throw AVError(status) }
        return true
    }

    /// The file's chapters in its own time, in order: at most the first 1,000 the demuxer read,
    /// those with a start that is a real time, titles cut to ``AudioTags/maximumLength`` bytes.
    var chapters: [Chapter] {
        guard let list = format.chapters else { return [] }
        var chapters: [Chapter] = []
        for index in 0..<min(Int(format.nb_chapters), 1000) {
            guard let chapter = list[index]?.pointee, chapter.time_base.den > 0, chapter.time_base.num > 0 else { continue }
            let unit = Double(chapter.time_base.num) / Double(chapter.time_base.den)
            let start = Double(chapter.start) * unit, end = Double(chapter.end) * unit
            guard start.isFinite, start >= 0, start < ConversionOptions.maximumSeconds * 4 else { continue }
            let title = metadataValue(chapter.metadata, "title").map { AudioTags.truncated($0) }
            chapters.append(Chapter(start: start, end: end.isFinite ? end : start, title: title?.isEmpty == true ? nil : title))
        }
        return chapters
    }

    /// The source's own cover: the first stream FFmpeg marks `attached_pic` (an MP4's `covr`, a
    /// Matroska image attachment, an ID3 `APIC`) whose packet is a JPEG or PNG of at most
    /// `maxBytes`. Only bytes are copied: no decoder sees them.
    func attachedPicture(maxBytes: Int) -> (mimeType: String, bytes: [UInt8])? {
        for index in 0..<streamCount {
            let stream = stream(index).pointee
            guard stream.disposition & AV_DISPOSITION_ATTACHED_PIC != 0 else { continue }
            let packet = stream.attached_pic
            guard let data = packet.data, packet.size > 8, Int(packet.size) <= maxBytes else { continue }
            let bytes = Array(UnsafeBufferPointer(start: data, count: Int(packet.size)))
            if let type = PictureType.of(bytes) { return (type, bytes) }
        }
        return nil
    }

    /// A description of the file and its streams.
    func mediaInfo() -> MediaInfo {
        let streams = (0..<streamCount).map(streamInfo)
        let defaultAudio = try? bestAudioStream().get()
        return MediaInfo(
            formatName: formatName,
            formatLongName: format.iformat.flatMap { $0.pointee.long_name.map { String(cString: $0) } },
            duration: duration,
            bitRate: format.bit_rate > 0 ? Int(format.bit_rate) : nil,
            tags: tags,
            streams: streams,
            defaultAudioStreamIndex: defaultAudio,
            chapters: chapters
        )
    }

    func streamInfo(_ index: Int) -> StreamInfo {
        let stream = stream(index).pointee
        let parameters = stream.codecpar.pointee
        let kind: StreamInfo.Kind
        switch parameters.codec_type {
        case AVMEDIA_TYPE_AUDIO: kind = .audio
        case AVMEDIA_TYPE_VIDEO: kind = .video
        case AVMEDIA_TYPE_SUBTITLE: kind = .subtitle
        case AVMEDIA_TYPE_DATA: kind = .data
        case AVMEDIA_TYPE_ATTACHMENT: kind = .attachment
        default: kind = .unknown
        }
        var info = StreamInfo(
            index: index,
            kind: kind,
            codec: String(cString: avcodec_get_name(parameters.codec_id)),
            duration: duration(ofStream: index),
            bitRate: parameters.bit_rate > 0 ? Int(parameters.bit_rate) : nil,
            tags: metadataDictionary(stream.metadata)
        )
        switch kind {
        case .audio:
            var layout = parameters.ch_layout
            info.channels = Int(layout.nb_channels)
            info.sampleRate = Int(parameters.sample_rate)
            info.channelLayout = channelLayoutDescription(&layout)
        case .video:
            info.width = Int(parameters.width)
            info.height = Int(parameters.height)
        default:
            break
        }
        return info
    }
}

/// FFmpeg's name for a channel layout, for example `stereo` or `5.1(side)`.
func channelLayoutDescription(_ layout: UnsafePointer<AVChannelLayout>) -> String? {
    var buffer = [CChar](repeating: 0, count: 128)
    guard av_channel_layout_describe(layout, &buffer, buffer.count) > 0 else { return nil }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
