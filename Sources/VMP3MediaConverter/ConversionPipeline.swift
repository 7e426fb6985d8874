import VMP3Core
import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// One conversion, run synchronously on the thread that calls ``run()``.
///
/// Demux → decode the one chosen stream → resample/downmix to planar float → trim → LAME →
/// a temporary file renamed into place on success. Every buffer has a fixed size, never the
/// input's or a frame's, so memory stays flat however long the input is and whatever it declares.
/// Every number read from the file or the options is checked before it is converted, and the
/// ``ConversionLimits`` bound the audio's length, the MP3's size and the wall time.
struct ConversionPipeline {
    var input: URL
    var output: URL
    /// In the conversion child: the descriptors of the input and of the (empty, temporary) output,
    /// which it reads and writes instead of opening `input` and `output`.
    var descriptors: (input: Int32, output: Int32)? = nil
    /// The encoding threads this conversion takes its share from.
    var threadBudget: EncodingThreadBudget = .shared
    var options: ConversionOptions
    var configuration: ConversionConfiguration
    var stop: StopCondition
    var progress: (@Sendable (ConversionProgress) -> Void)?
    var logger: Logger

    func run() throws(ConversionError) -> ConversionResult {
        let clock = ContinuousClock()
        let started = clock.now
        try options.validate()
        try stop.check()

        let limits = configuration.limits
        let mediaSource = descriptors.map { MediaSource(descriptor: $0.input, name: input.path) } ?? MediaSource(input)
        var container = try MediaInput.open(mediaSource, limits: limits, stop: stop)
        let streamIndex = try selectStream(in: container)
        let source = container.streamInfo(streamIndex)
        // Made from the stream's parameters alone: it decodes the packets of the input opened
        // again (after the cover, or loudness's first pass) as well.
        let decoder = try makeDecoder(container: container, streamIndex: streamIndex)
        /// Closes `container`, once read, and opens the input afresh in its place: never two
        /// demuxers at once, each with its own index of the whole file.
        func reopen() throws(ConversionError) {
            container.close()
            container = try MediaInput.open(mediaSource, limits: limits, stop: stop)
            guard streamIndex < container.streamCount, container.streamInfo(streamIndex) == source else {
                throw ConversionError(code: .damagedInput, message: "\(input.path) changed while it was converted")
            }
        }

        let outputRate = options.sampleRate ?? MP3SampleRate.nearest(to: source.sampleRate.flatMap { $0 > 0 ? $0 : nil } ?? 44_100)
        let channels = options.channels ?? (source.channels == 1 ? .mono : .stereo)
        let sourceDuration = container.duration(ofStream: streamIndex) ?? container.duration
        let start = options.start ?? 0
        if start > 0, let sourceDuration, start >= sourceDuration {
            throw .invalidOption("start", value: "\(start)", allowed: "0 to \(Self.seconds(sourceDuration)) s (the source's length)")
        }
        let expectedSeconds: Double? = {
            let remaining = sourceDuration.map { max(0, $0 - start) }
            guard let duration = options.duration else { return remaining }
            return remaining.map { min($0, duration) } ?? duration
        }()
        if let limit = limits.maxAudioDuration?.seconds, let expectedSeconds, expectedSeconds > limit,
           !container.durationIsEstimatedFromBitRate {
            throw Self.tooLong(limit, declared: expectedSeconds)
        }
        guard let window = SampleWindow(
            start: CheckedConversion.int64((start * Double(outputRate)).rounded()) ?? -1,
            end: options.duration.map { CheckedConversion.int64(((start + $0) * Double(outputRate)).rounded()) ?? -1 }
        ) else {
            throw .invalidOption("duration", value: "\(options.duration ?? 0)", allowed: "at least one sample at \(outputRate) Hz")
        }
        let sourceTags = options.copiesSourceTags ? AudioTags(metadata: container.tags, stream: source.tags) : AudioTags()
        let tags = sourceTags.applying(options.tags)

        // Threads: as many as asked for, else the free cores if the input is long enough to gain.
        let budget = threadBudget
        let threads = budget.take(options.threads ?? (SegmentLayout.isWorthwhile(forSeconds: expectedSeconds) ? nil : 1))
        defer { budget.release(threads) }
        // The cover first, so that the video decoder it may need is gone before the encoders exist.
        let cover: ID3v2Tag.Picture?
        switch try coverSource(in: container, start: start, length: expectedSeconds) {
        case .picture(let picture):
            cover = picture
        case .videoFrame(let seconds):
            // The frame is read from this container, which is then closed, and the audio from the
            // input opened afresh: a demuxer's index is megabytes on an hour of MP4, and a second
            // container open beside the first would hold it twice.
            cover = try videoFrameCover(at: seconds, from: container)
            try reopen()
        }
        let encoderSettings = LameEncoder.Configuration(sampleRate: Int32(outputRate), channels: Int32(channels.rawValue), encoding: options.encoding)
        let encoder: any MP3StreamEncoder = threads.count > 1
            ? try SegmentedMP3Encoder(encoderSettings, threads: threads.count, stop: stop, logger: logger)
            : try LameEncoder(encoderSettings)
        logger.debug("converting", metadata: [
            "input": "\(input.path)", "stream": "\(streamIndex)", "codec": "\(source.codec)",
            "sample_rate": "\(outputRate)", "channels": "\(channels.rawValue)", "encoding": "\(encoder.settings.encoding)",
            "threads": "\(threads.count)",
        ])

        let chapters = Chapter.placed(container.chapters, start: start, duration: options.duration, length: sourceDuration)
        let file: AtomicOutputFile
        if let descriptors {
            file = AtomicOutputFile(descriptor: descriptors.output, name: output.path, maxSize: limits.maxOutputBytes)
        } else {
            file = try AtomicOutputFile(destination: output.path, maxSize: limits.maxOutputBytes)
        }
        let id3 = ID3v2Tag(tags: tags, cover: cover, chapters: chapters).encoded()
        try file.append(id3)

        let packet: Packet
        let frame: Frame
        do {
            packet = try Packet()
            frame = try Frame()
        } catch {
            throw ConversionError(code: .encodingFailed, message: "FFmpeg could not allocate a buffer: \(error.message)")
        }
        func makeState(_ container: InputContainer) -> StreamState {
            StreamState(
                window: window,
                pcm: PCMBuffer(channels: channels, capacity: Self.bufferSamples),
                limiter: PeakLimiter(channels: channels.rawValue, sampleRate: outputRate),
                maxSamples: limits.maxAudioDuration.flatMap { CheckedConversion.int64($0.seconds * Double(outputRate)) },
                outputRate: outputRate,
                timeBase: container.timeBase(ofStream: streamIndex),
                streamStart: container.startTime(ofStream: streamIndex),
                placesFirstSampleByTimestamp: start > 0,
                expectedSeconds: expectedSeconds
            )
        }

        // Loudness normalisation: a first pass over the decoded audio measures; the second, on the
        // input opened afresh, applies the gain before the limiter.
        var loudness: LoudnessMeasurement?
        if let target = options.loudness {
            var pass = makeState(container)
            pass.meter = LoudnessMeter(channels: channels.rawValue, sampleRate: outputRate)
            pass.progressScale = 0.5
            try decode(container, try makeDecoder(container: container, streamIndex: streamIndex), streamIndex, &pass, packet, frame, encoder: encoder, file: file)
            try reopen()
            if let measured = pass.meter?.integratedLoudness {
                // At most ±40 dB: no real recording is further from any target, and silence with a
                // click must not be raised into noise.
                let gain = min(40, max(-40, target - measured))
                loudness = LoudnessMeasurement(source: measured, target: target, gain: gain)
            }
        }

        var state = makeState(container)
        if options.loudness != nil {
            state.gain = Float(pow(10, (loudness?.gain ?? 0) / 20))
            state.progressScale = 0.5
            state.progressOffset = (expectedSeconds ?? 0) / 2
        }
        try decode(container, decoder, streamIndex, &state, packet, frame, encoder: encoder, file: file)
        try encoder.encode(state.pcm, range: 0..<state.limiter.flush(into: state.pcm), to: file)
        if state.limiter.limitedFrames > 0 {
            logger.debug("limited peaks", metadata: ["frames": "\(state.limiter.limitedFrames)"])
        }

        try encoder.flush(to: file)
        try encoder.writeLameTag(to: file, at: Int64(id3.count))
        try file.commit()
        report(&state, force: true)

        var result = ConversionResult(
            output: output,
            duration: Double(state.window.kept) / Double(outputRate),
            byteCount: file.size,
            sampleRate: Int(encoder.settings.sampleRate),
            channels: channels,
            encoding: encoder.settings.encoding,
            tags: tags,
            sourceStreamIndex: streamIndex,
            sourceCodec: source.codec,
            elapsed: (clock.now - started).seconds
        )
        result.chapters = chapters
        result.coverType = cover?.mimeType
        result.loudness = loudness
        result.encoderThreads = (encoder as? SegmentedMP3Encoder).map { min($0.threads, $0.segmentsStarted) } ?? 1
        logger.debug("converted", metadata: [
            "output": "\(output.path)", "duration": "\(result.duration)", "bytes": "\(result.byteCount)",
            "speed": "\(result.speed)", "damaged_packets": "\(state.damagedPackets)",
        ])
        return result
    }

    // MARK: - Steps

    /// One pass over the chosen stream: from the start (or the trim's start) to the end of the
    /// input or of the trim window, every kept sample given to ``encode(_:_:encoder:file:)``.
    private func decode(
        _ container: InputContainer, _ decoder: StreamDecoder, _ streamIndex: Int, _ state: inout StreamState,
        _ packet: Packet, _ frame: Frame, encoder: any MP3StreamEncoder, file: AtomicOutputFile
    ) throws(ConversionError) {
        container.discardAllStreams(except: streamIndex)
        if state.placesFirstSampleByTimestamp, let start = options.start {
            // A failed seek is not fatal: decoding from the beginning and discarding reaches the same samples.
            try? container.seek(streamIndex: streamIndex, to: start)
        }
        // Read until the end of the input or of the trim window.
        reading: while !state.window.isComplete {
            try stop.check()
            let more: Bool
            do {
                more = try container.read(into: packet)
            } catch {
                throw readFailure(error, container: container, at: state)
            }
            guard more else { break }
            defer { packet.unref() }
            guard packet.streamIndex == streamIndex else { continue }
            state.packets += 1
            state.lastPacketWasCorrupt = packet.isCorrupt
            do {
                try decoder.send(packet)
            } catch {
                // A damaged packet is skipped, as the ffmpeg tool does; too many of them fail below.
                state.damagedPackets += 1
                continue
            }
            while try receive(decoder, frame) {
                try process(frame, &state, encoder: encoder, file: file)
                if state.window.isComplete { break reading }
                try stop.check()
            }
        }

        if !state.window.isComplete {
            decoder.finish()
            while try receive(decoder, frame) {
                try process(frame, &state, encoder: encoder, file: file)
                try stop.check()
            }
        }
        if let resampler = state.resampler {
            try drain(resampler, &state, encoder: encoder, file: file)
        }
        try stop.check()
        try verifyCompleteness(state, container: container, streamIndex: streamIndex)
    }

    /// Where the cover comes from: a picture at hand (the source's own, a file), or a frame of the
    /// source's video that ``videoFrameCover(at:from:)`` takes.
    private enum CoverSource {
        case picture(ID3v2Tag.Picture?)
        case videoFrame(at: Double)
    }

    /// The cover the options ask for: the source's own picture, else a frame of its video a tenth
    /// of the way into the part converted (`start`, `length` seconds); a frame at a given time;
    /// none; or the caller's file. Frames only if ``ConversionLimits/videoFrameCovers``.
    /// - Throws: `invalid_option` for a file that cannot be read or is not a JPEG or PNG of at
    ///   most ``CoverArt/maximumBytes``.
    private func coverSource(in container: InputContainer, start: Double, length: Double?) throws(ConversionError) -> CoverSource {
        func videoFrame(at seconds: Double) -> CoverSource {
            configuration.limits.videoFrameCovers && container.firstVideoStream() != nil ? .videoFrame(at: seconds) : .picture(nil)
        }
        switch options.cover ?? .automatic {
        case .none:
            return .picture(nil)
        case .frame(let seconds):
            return videoFrame(at: seconds)
        case .automatic:
            if let own = container.attachedPicture(maxBytes: CoverArt.maximumBytes) {
                return .picture(ID3v2Tag.Picture(mimeType: own.mimeType, bytes: own.bytes))
            }
            return videoFrame(at: start + (length ?? 0) / 10)
        case .file(let path):
            let allowed = "a JPEG or PNG file of at most \(CoverArt.maximumBytes >> 20) MiB"
            guard let file = try? OpenFile(path: path, mode: .read) else { throw .invalidOption("cover", value: path, allowed: allowed) }
            defer { file.close() }
            // One byte more than allowed tells a file that is too large without reading it all.
            guard let bytes = try? file.read(upTo: CoverArt.maximumBytes + 1), bytes.count <= CoverArt.maximumBytes,
                  let type = PictureType.of(bytes) else {
                throw .invalidOption("cover", value: path, allowed: allowed)
            }
            return .picture(ID3v2Tag.Picture(mimeType: type, bytes: bytes))
        }
    }

    private func videoFrameCover(at seconds: Double, from container: InputContainer) throws(ConversionError) -> ID3v2Tag.Picture? {
        defer { ProcessAllocator.returnFreedMemory() }
        return try VideoFrameCover(input: input, limits: configuration.limits, cancellation: stop.cancellation, logger: logger)
            .take(at: seconds, from: container)
    }

    /// Mutable state of one run: the trim window, the sample buffer and the counters.
    private struct StreamState {
        var window: SampleWindow
        var pcm: PCMBuffer
        /// On a loudness-measuring pass: where the samples go instead of LAME.
        var meter: LoudnessMeter?
        /// The loudness normalisation's gain, applied before the limiter.
        var gain: Float = 1
        /// How this pass's seconds count in the progress reported: two passes report half each.
        var progressScale = 1.0
        var progressOffset = 0.0
        /// Between the trim and LAME: what the downmix (or a float source) puts past full scale
        /// is brought under it, the rest passes unchanged.
        let limiter: PeakLimiter
        /// ``ConversionLimits/maxAudioDuration`` in output samples, or `nil` for no limit.
        let maxSamples: Int64?
        var resampler: Resampler?
        let outputRate: Int
        let timeBase: Double
        let streamStart: Double
        /// With a start offset, the first decoded frame is placed by its timestamp (the seek lands
        /// before the offset); without one, the stream starts at sample 0.
        let placesFirstSampleByTimestamp: Bool
        let expectedSeconds: Double?
        var packets = 0
        var damagedPackets = 0
        var lastPacketWasCorrupt = false
        var lastReportTime = ContinuousClock.now

        var processedSeconds: Double { Double(window.kept) / Double(outputRate) }
    }

    private func selectStream(in container: InputContainer) throws(ConversionError) -> Int {
        let audioStreams = (0..<container.streamCount).filter { container.streamInfo($0).kind == .audio }
        if let wanted = options.audioStreamIndex {
            guard audioStreams.contains(wanted) else {
                let allowed = audioStreams.isEmpty ? "none: the input has no audio stream" : "an audio stream: " + audioStreams.map(String.init).joined(separator: ", ")
                throw .invalidOption("audio-stream", value: "\(wanted)", allowed: allowed)
            }
            return wanted
        }
        switch container.bestAudioStream() {
        case .success(let index):
            return index
        case .failure:
            guard let first = audioStreams.first else {
                throw ConversionError(code: .noAudioStream, message: "\(input.path) has no audio stream")
            }
            return first
        }
    }

    private func makeDecoder(container: InputContainer, streamIndex: Int) throws(ConversionError) -> StreamDecoder {
        do {
            return try StreamDecoder.audio(container: container, streamIndex: streamIndex)
        } catch {
            let codec = container.streamInfo(streamIndex).codec
            if error == .decoderNotFound || error == .patchWelcome {
                throw ConversionError(code: .unsupportedCodec, message: "audio stream \(streamIndex) is \(codec), which this FFmpeg build cannot decode")
            }
            throw ConversionError(code: .damagedInput, message: "cannot open the \(codec) decoder for stream \(streamIndex): \(error.message)")
        }
    }

    /// Takes the next decoded frame; `false` when the decoder needs input or is drained.
    private func receive(_ decoder: StreamDecoder, _ frame: Frame) throws(ConversionError) -> Bool {
        do {
            return try decoder.receive(into: frame) == .frame
        } catch {
            throw ConversionError(code: .damagedInput, message: "decoding \(decoder.codecName) failed: \(error.message)")
        }
    }

    private func process(_ frame: Frame, _ state: inout StreamState, encoder: any MP3StreamEncoder, file: AtomicOutputFile) throws(ConversionError) {
        defer { frame.unref() }
        guard frame.sampleCount > 0 else { return }
        try checkFormat(of: frame)
        if let resampler = state.resampler, !resampler.accepts(frame) {
            // The stream changed format mid-way (a new sample rate or channel count): finish the old
            // conversion and start a matching one.
            try drain(resampler, &state, encoder: encoder, file: file)
            state.resampler = nil
        }
        if state.resampler == nil {
            do {
                state.resampler = try Resampler(
                    matching: frame, outputRate: Int32(state.outputRate), outputChannels: Int32(state.pcm.channelCount),
                    lfeMixLevel: configuration.lfeMixLevel
                )
            } catch {
                throw ConversionError(code: .damagedInput, message: "cannot resample the decoded audio: \(error.message)")
            }
        }
        if state.placesFirstSampleByTimestamp, let timestamp = frame.timestamp {
            let seconds = Double(timestamp) * state.timeBase - state.streamStart
            // A timestamp beyond any real position (a crafted file) places the samples far outside
            // the window instead of trapping; the "no audio" check then reports the file.
            state.window.begin(at: CheckedConversion.clampedInt64((seconds * Double(state.outputRate)).rounded()) ?? 0)
        } else {
            state.window.begin(at: 0)
        }
        let resampler = state.resampler!
        try resampler.convert(frame, into: state.pcm) { (count: Int) throws(ConversionError) in
            try encode(count, &state, encoder: encoder, file: file)
        }
        report(&state, force: false)
    }

    /// Encodes the part of the first `count` samples of the buffer that lies in the trim window.
    private func encode(_ count: Int, _ state: inout StreamState, encoder: any MP3StreamEncoder, file: AtomicOutputFile) throws(ConversionError) {
        let range = state.window.take(count)
        if let meter = state.meter {
            meter.add(state.pcm, range: range)
        } else {
            if state.gain != 1 {
                for plane in state.pcm.planes {
                    for index in range { plane[index] *= state.gain }
                }
            }
            try encoder.encode(state.pcm, range: state.limiter.process(state.pcm, range: range), to: file)
        }
        if let maxSamples = state.maxSamples, state.window.kept > maxSamples {
            throw Self.tooLong(Double(maxSamples) / Double(state.outputRate), declared: nil)
        }
    }

    /// Refuses a frame whose sample rate, channel count or size no audio codec produces.
    private func checkFormat(of frame: Frame) throws(ConversionError) {
        let problem: String? =
            if !ConversionLimits.sampleRates.contains(frame.sampleRate) {
                "a sample rate of \(frame.sampleRate) Hz (allowed: \(ConversionLimits.sampleRates.lowerBound)–\(ConversionLimits.sampleRates.upperBound) Hz)"
            } else if !ConversionLimits.channelCounts.contains(frame.channelCount) {
                "\(frame.channelCount) channels (allowed: \(ConversionLimits.channelCounts.lowerBound)–\(ConversionLimits.channelCounts.upperBound))"
            } else if frame.sampleCount > ConversionLimits.maxFrameSamples {
                "a frame of \(frame.sampleCount) samples (allowed: at most \(ConversionLimits.maxFrameSamples))"
            } else {
                nil
            }
        if let problem {
            throw ConversionError(code: .unsupportedAudioFormat, message: "the audio of \(input.path) has \(problem)")
        }
    }

    private static func tooLong(_ limit: Double, declared: Double?) -> ConversionError {
        let length = declared.map { "is \(seconds($0)) s long" } ?? "goes on"
        return ConversionError(code: .inputTooLong, message: "the audio \(length), longer than the limit of \(seconds(limit)) s")
    }

    private func drain(_ resampler: Resampler, _ state: inout StreamState, encoder: any MP3StreamEncoder, file: AtomicOutputFile) throws(ConversionError) {
        while !state.window.isComplete {
            let count: Int
            do {
                count = try resampler.drain(into: state.pcm)
            } catch {
                throw ConversionError(code: .damagedInput, message: "resampling failed: \(error.message)")
            }
            guard count > 0 else { return }
            try encode(count, &state, encoder: encoder, file: file)
        }
    }

    /// Refuses an output that would silently lack audio the input claims to have.
    private func verifyCompleteness(_ state: StreamState, container: InputContainer, streamIndex: Int) throws(ConversionError) {
        if state.window.kept == 0 {
            let reason = state.damagedPackets > 0 ? "all \(state.damagedPackets) audio packets are damaged" : "the audio stream holds no samples"
            throw ConversionError(code: .damagedInput, message: "no audio could be decoded from \(input.path): \(reason)")
        }
        if state.packets >= 10 && state.damagedPackets * 2 > state.packets {
            throw ConversionError(
                code: .damagedInput,
                message: "\(state.damagedPackets) of \(state.packets) audio packets in \(input.path) are damaged"
            )
        }
        // The checks below are for inputs read to their end.
        guard !state.window.isComplete else { return }
        if state.lastPacketWasCorrupt {
            throw truncated("it ends inside an audio packet")
        }
        // A container that indexes every packet (MP4, MOV, AVI) says exactly how many there are:
        // fewer at the end of the file means the file was cut short. (With a start offset the
        // packets before it were skipped, so only the length check below applies.)
        let indexed = container.indexedPacketCount(ofStream: streamIndex)
        if !state.placesFirstSampleByTimestamp && state.packets < indexed {
            throw truncated("it holds \(state.packets) of the \(indexed) audio packets its index lists")
        }
        // Otherwise, compare with the length the container declares for the stream. Lengths FFmpeg
        // only estimated from the bit rate are not trusted for this.
        guard !container.durationIsEstimatedFromBitRate,
              let streamDuration = container.duration(ofStream: streamIndex),
              let position = state.window.position else { return }
        let reached = Double(position) / Double(state.outputRate)
        if reached < streamDuration - max(1, streamDuration * 0.02) {
            throw truncated("its audio ends at \(Self.seconds(reached)) s of the \(Self.seconds(streamDuration)) s it declares")
        }
    }

    private func truncated(_ reason: String) -> ConversionError {
        ConversionError(code: .damagedInput, message: "\(input.path) is truncated: \(reason)")
    }

    private func readFailure(_ error: AVError, container: InputContainer, at state: StreamState) -> ConversionError {
        let at = Self.seconds(state.processedSeconds)
        if error == .exit, let reason = stop.reason {
            return stop.error(reason)
        }
        if let code = container.input.ioError {
            return ConversionError(code: .inputUnreadable, message: "reading \(input.path) failed at \(at) s: \(AVError(vmp3_averror_from_errno(code)).message)")
        }
        return ConversionError(code: .damagedInput, message: "\(input.path) is damaged at \(at) s: \(error.message)")
    }

    /// Calls the progress handler at most every `ConversionConfiguration.progressInterval`.
    private func report(_ state: inout StreamState, force: Bool) {
        guard let progress else { return }
        let now = ContinuousClock.now
        guard force || now - state.lastReportTime >= configuration.progressInterval else { return }
        state.lastReportTime = now
        progress(ConversionProgress(processedSeconds: state.progressOffset + state.processedSeconds * state.progressScale, totalSeconds: state.expectedSeconds))
    }

    /// Samples per channel of the pipeline's one sample buffer.
    static let bufferSamples = 8192

    static func seconds(_ value: Double) -> String {
        value.decimal(places: 2)
    }
}
