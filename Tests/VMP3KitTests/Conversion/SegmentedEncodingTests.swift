import Foundation
import Logging
import Synchronization
import Testing
@testable import VMP3MediaConverter
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport

/// Segment-parallel encoding: one input encoded on two threads must decode like the same input
/// encoded on one, with no seam at the joins, the exact length, and a valid stream.
@Suite struct SegmentedEncodingTests {
    static let converter = MediaConverter()
    static let seconds = 40

    /// Lossless float WAV sources made by ffmpeg, so that the decoded source is the exact PCM.
    static let signals: [(name: String, expression: String)] = [
        // Sweeps from 50 Hz to 8 kHz, the channels a little apart.
        ("swept sine", "0.5*sin(2*PI*(50*t+99.4*t*t))|0.4*sin(2*PI*(60*t+99.4*t*t))"),
        // Voiced syllables four times a second on a gliding 120 Hz pitch with four harmonics,
        // and bursts of noise (fricatives) between them. (Commas escaped for the filter graph.)
        ("speech-like",
         "0.3*(sin(2*PI*120*t-30/PI*cos(PI*t))+0.5*sin(2*(2*PI*120*t-30/PI*cos(PI*t)))+0.3*sin(3*(2*PI*120*t-30/PI*cos(PI*t)))+0.2*sin(4*(2*PI*120*t-30/PI*cos(PI*t))))*pow(max(0\\,sin(2*PI*4*t))\\,2)+0.08*(random(0)-0.5)*pow(max(0\\,-sin(2*PI*4*t))\\,4)"),
    ]

    static func source(_ expression: String, in directory: URL, sampleRate: Int = 44_100, mono: Bool = false) async throws -> URL {
        let url = directory.appendingPathComponent("source.wav")
        let channels = mono || expression.contains("|") ? expression : expression + "|" + expression
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "aevalsrc=\(channels):s=\(sampleRate):d=\(seconds)", "-c:a", "pcm_f32le", url.path])
        return url
    }

    /// Signal-to-noise ratio of `decoded` against `reference` over samples `range`, in dB.
    static func snr(_ decoded: DecodedAudio, _ reference: DecodedAudio, _ range: Range<Int>) -> Double {
        var signal = 0.0, noise = 0.0
        for channel in 0..<reference.channels.count {
            for index in range {
                let expected = Double(reference.channels[channel][index])
                signal += expected * expected
                let error = Double(decoded.channels[channel][index]) - expected
                noise += error * error
            }
        }
        return 10 * log10(signal / max(noise, 1e-20))
    }

    @Test("two threads decode like one: same length to the sample, overall error within 0.5 dB, no worse at any join, clean for ffmpeg, valid frames",
          arguments: signals.map(\.name), ["cbr128", "vbr2"])
    func joinsAreSeamless(_ signal: String, _ mode: String) async throws {
        let directory = try makeScratchDirectory()
        let expression = try #require(Self.signals.first { $0.name == signal }).expression
        let input = try await Self.source(expression, in: directory)
        let encoding: ConversionOptions.Encoding = mode == "cbr128" ? .constantBitRate(kbps: 128) : .variableBitRate(quality: 2)
        let sequentialURL = directory.appendingPathComponent("sequential.mp3")
        let parallelURL = directory.appendingPathComponent("parallel.mp3")
        let sequentialResult = try await Self.converter.convert(input, to: sequentialURL, options: ConversionOptions(encoding: encoding, threads: 1))
        let parallelResult = try await Self.converter.convert(input, to: parallelURL, options: ConversionOptions(encoding: encoding, threads: 2))
        #expect(sequentialResult.encoderThreads == 1)
        #expect(parallelResult.encoderThreads == 2)

        let reference = try await DecodedAudio(input)
        let sequential = try await DecodedAudio(sequentialURL)
        let parallel = try await DecodedAudio(parallelURL)
        #expect(parallel.sampleCount == reference.sampleCount, "decoded \(parallel.sampleCount) samples of \(reference.sampleCount)")
        #expect(sequential.sampleCount == reference.sampleCount)
        guard parallel.sampleCount == reference.sampleCount, sequential.sampleCount == reference.sampleCount else { return }

        let all = 0..<reference.sampleCount
        let overall = (sequential: Self.snr(sequential, reference, all), parallel: Self.snr(parallel, reference, all))
        #expect(overall.parallel >= overall.sequential - 0.5, "SNR \(overall)")

        // Around each join: from two frames before the segment's nominal start to two after the
        // last frame the handover may choose, in decoded samples (LAME's 576-sample delay removed).
        let layout = SegmentLayout(frameSize: 1152, sampleRate: 44_100)
        var joins = 0
        for segment in 1... {
            let first = layout.nominalStartFrame(segment) * 1152 - 576 - 2 * 1152
            let last = (layout.nominalStartFrame(segment) + SegmentLayout.handover + 2) * 1152 - 576
            guard last < reference.sampleCount else { break }
            let window = first..<last
            let atJoin = (sequential: Self.snr(sequential, reference, window), parallel: Self.snr(parallel, reference, window))
            #expect(atJoin.parallel >= atJoin.sequential - 0.5, "join \(segment): SNR \(atJoin)")
            joins += 1
        }
        #expect(joins >= Self.seconds / Int(SegmentLayout.seconds))

        let check = try await ExternalTool.run("ffmpeg", ["-nostdin", "-v", "error", "-i", parallelURL.path, "-f", "null", "-"])
        #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")

        let parallelFrames = try MP3FrameWalk(Data(contentsOf: parallelURL))
        let sequentialFrames = try MP3FrameWalk(Data(contentsOf: sequentialURL))
        #expect(parallelFrames.problem == nil, "\(parallelFrames.problem ?? "")")
        #expect(parallelFrames.audioFrames == sequentialFrames.audioFrames)
        #expect(parallelFrames.xingFrameCount == parallelFrames.audioFrames)
        #expect(parallelFrames.xingByteCount == parallelFrames.streamBytes)
        #expect(parallelFrames.delayAndPadding == sequentialFrames.delayAndPadding)
        #expect(parallelFrames.lameTagCRCIsValid && parallelFrames.musicCRCIsValid)
        if mode == "cbr128" { #expect(parallelFrames.bitRates == [128]) }
    }

    @Test("MPEG-2 frames (22.05 kHz, 576 samples) in mono, VBR: two threads give the exact length, a clean decode and the sequential file's error within 0.5 dB")
    func mpeg2Mono() async throws {
        let directory = try makeScratchDirectory()
        let input = try await Self.source(Self.signals[1].expression, in: directory, sampleRate: 22_050, mono: true)
        var options = ConversionOptions(encoding: .variableBitRate(quality: 4))
        options.threads = 1
        let sequentialURL = directory.appendingPathComponent("sequential.mp3")
        _ = try await Self.converter.convert(input, to: sequentialURL, options: options)
        options.threads = 2
        let parallelURL = directory.appendingPathComponent("parallel.mp3")
        let result = try await Self.converter.convert(input, to: parallelURL, options: options)
        #expect(result.encoderThreads == 2 && result.channels == .mono && result.sampleRate == 22_050)
        let reference = try await DecodedAudio(input)
        let sequential = try await DecodedAudio(sequentialURL)
        let parallel = try await DecodedAudio(parallelURL)
        #expect(parallel.sampleCount == reference.sampleCount && sequential.sampleCount == reference.sampleCount)
        guard parallel.sampleCount == reference.sampleCount, sequential.sampleCount == reference.sampleCount else { return }
        let all = 0..<reference.sampleCount
        let overall = (sequential: Self.snr(sequential, reference, all), parallel: Self.snr(parallel, reference, all))
        #expect(overall.parallel >= overall.sequential - 0.5, "SNR \(overall)")
        let check = try await ExternalTool.run("ffmpeg", ["-nostdin", "-v", "error", "-i", parallelURL.path, "-f", "null", "-"])
        #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")
    }

    @Test("an input shorter than two segments, and one thread asked for, encode on one thread; threads out of 1–64 are an invalid option")
    func threadChoice() async throws {
        let directory = try makeScratchDirectory()
        let input = try await TestClip.make(at: directory.appendingPathComponent("short.mp4"), seconds: 3)
        let short = try await Self.converter.convert(input, to: directory.appendingPathComponent("short.mp3"), options: ConversionOptions())
        #expect(short.encoderThreads == 1)
        for threads in [0, 65, -1] {
            do {
                _ = try await Self.converter.convert(input, to: directory.appendingPathComponent("x.mp3"), options: ConversionOptions(threads: threads))
                Issue.record("threads \(threads) accepted")
            } catch {
                #expect(error.code == .invalidOption && error.message.contains("threads"), "\(error)")
            }
        }
    }

    @Test("a cancelled parallel conversion stops and leaves no file")
    func cancellation() async throws {
        let directory = try makeScratchDirectory()
        let input = try await Self.source(Self.signals[0].expression, in: directory)
        let output = directory.appendingPathComponent("cancelled.mp3")
        let canceller = CancelAtProgress(at: 0.1)
        let converter = MediaConverter(configuration: .init(progressInterval: .milliseconds(1)))
        let task = Task {
            try await converter.convert(input, to: output, options: ConversionOptions(threads: 2), progress: canceller.report)
        }
        canceller.cancels(task)
        let result = await task.result
        #expect(throws: ConversionError.self) { try result.get() }
        #expect((canceller.reports.values.last?.fraction ?? 1) < 1, "the conversion reported its end")
        #expect(!FileManager.default.fileExists(atPath: output.path))
        #expect(directoryContents(directory).filter { $0.hasSuffix(".partial") }.isEmpty)
    }
}

/// How conversions share the cores (a budget of its own, so that other tests do not interfere).
@Suite struct EncodingThreadBudgetTests {
    @Test("VMP3's choice takes the free threads and at least one; a named count is granted and counts against the others; releases give them back")
    func sharing() {
        let budget = EncodingThreadBudget(total: 4)
        let first = budget.take(nil)
        #expect(first.count == 4)
        let second = budget.take(nil)
        #expect(second.count == 1)
        budget.release(first)
        let named = budget.take(3)
        #expect(named.count == 3)
        #expect(budget.take(nil).count == 1 && budget.taken == 5)
        budget.release(named)
        budget.release(second)
        #expect(budget.taken == 1)
        #expect(budget.take(nil).count == 3)
    }
}

/// The threads a parallel conversion keeps for its segments.
@Suite struct EncodingWorkersTests {
    /// The threads of this process whose name starts with `prefix` (Linux names them in /proc).
    static func threads(named prefix: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix(prefix)
        }.count
    }

    /// The threads named `prefix…` left after up to 10 s: a joined thread can still be listed for
    /// the moment the kernel takes to remove it.
    static func threadsLeft(named prefix: String) -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while threads(named: prefix) > 0, ContinuousClock.now < deadline { usleep(1_000) }
        return threads(named: prefix)
    }

    @Test("work runs on the set's own threads, all of it; releasing the set waits for its threads to exit")
    func runsOnItsThreadsAndExits() throws {
        let ran = Mutex<(count: Int, elsewhere: Int)>((0, 0))
        let finished = DispatchSemaphore(value: 0)
        var workers: EncodingWorkers? = try EncodingWorkers(count: 3, name: "vmp3-wtest", stackSize: 1 << 20)
        // Three pieces of work that wait for each other can only be running on three threads at once.
        let entered = DispatchSemaphore(value: 0)
        let proceed = DispatchSemaphore(value: 0)
        for _ in 0..<3 {
            workers?.run {
                entered.signal()
                proceed.wait()
            }
        }
        for _ in 0..<3 { entered.wait() }
        #expect(Self.threads(named: "vmp3-wtest-") == 3)
        for _ in 0..<3 { proceed.signal() }
        for _ in 0..<50 {
            workers?.run {
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                ran.withLock { $0.count += 1; if !name.hasPrefix("vmp3-wtest-") { $0.elsewhere += 1 } }
                finished.signal()
            }
        }
        for _ in 0..<50 { finished.wait() }
        #expect(ran.withLock { $0.count } == 50 && ran.withLock { $0.elsewhere } == 0)
        workers = nil
        #expect(Self.threadsLeft(named: "vmp3-wtest-") == 0)
    }

    @Test("work starts in the order it was handed over; a set released with work still queued runs it first, then its threads exit")
    func releaseFinishesQueuedWorkInOrder() throws {
        let order = Mutex<[Int]>([])
        var workers: EncodingWorkers? = try EncodingWorkers(count: 1, name: "vmp3-wqueue", stackSize: 1 << 20)
        for index in 0..<5 {
            workers?.run {
                usleep(20_000)
                order.withLock { $0.append(index) }
            }
        }
        workers = nil
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(Self.threadsLeft(named: "vmp3-wqueue-") == 0)
    }
}

/// A segment's samples: written as they come into blocks from a pool, read back a block at a time,
/// and given back to the pool as they are read.
@Suite struct SegmentSamplesTests {
    static let blockSamples = SampleBlockPool.blockSamples

    /// Appends `capacity` samples (plane 0: the sample's number, plane 1: its negative) in blocks of
    /// growing, uneven sizes.
    static func filled(capacity: Int, pool: SampleBlockPool) throws -> SegmentSamples {
        let samples = SegmentSamples(capacity: capacity, pool: pool)
        let pcm = PCMBuffer(channels: .stereo, capacity: 8_192)
        var written = 0
        var block = 1
        while written < capacity {
            let count = min(block, capacity - written, 8_192)
            for offset in 0..<count {
                pcm.planes[0][offset] = Float(written + offset)
                pcm.planes[1][offset] = -Float(written + offset)
            }
            try samples.append(pcm, range: 0..<count)
            written += count
            block = block * 3 + 7
        }
        return samples
    }

    @Test("samples appended in pieces of any size read back exactly, a block at most at a time, across the blocks' ends; a full segment says so")
    func appendsReadBack() throws {
        let capacity = 100_000
        let pool = SampleBlockPool(channels: 2)
        let samples = try Self.filled(capacity: capacity, pool: pool)
        #expect(samples.isFull && samples.count == capacity)
        #expect(pool.blocksMapped == (capacity + Self.blockSamples - 1) / Self.blockSamples)
        var offset = 0
        var mismatches = 0
        var runs = 0
        while let run = samples.run(from: offset, maximum: 9_216) {
            // A run ends at a block's end at the latest.
            #expect(offset / Self.blockSamples == (offset + run.count - 1) / Self.blockSamples)
            for index in 0..<run.count where run.left[index] != Float(offset + index) || run.right[index] != -Float(offset + index) {
                mismatches += 1
            }
            offset += run.count
            runs += 1
        }
        #expect(offset == capacity && mismatches == 0)
        #expect(runs > capacity / 9_216)
        #expect(samples.run(from: capacity, maximum: 10) == nil)
    }

    @Test("a reader reads a segment while it is written, waits for all of each run it asks for, and stops where the writer ended it")
    func readsWhileWritten() async throws {
        let samples = SegmentSamples(capacity: 200_000, pool: SampleBlockPool(channels: 2))
        let written = 150_000
        // The reader on a thread of its own: it blocks while it waits, which must not hold up one
        // of the few threads that every test's tasks share. The writer is this task.
        let reading = AsyncStream<(count: Int, mismatches: Int, short: Int)> { continuation in
            Thread {
                continuation.yield(Self.readAll(samples, written: written))
                continuation.finish()
            }.start()
        }
        let pcm = PCMBuffer(channels: .stereo, capacity: 1_000)
        var position = 0
        while position < written {
            let count = min(1_000, written - position)
            for offset in 0..<count {
                pcm.planes[0][offset] = Float(position + offset)
                pcm.planes[1][offset] = -Float(position + offset)
            }
            try samples.append(pcm, range: 0..<count)
            position += count
            if position % 20_000 == 0 { try await Task.sleep(for: .milliseconds(2)) }
        }
        samples.end()
        var results = reading.makeAsyncIterator()
        let result = await results.next()
        #expect(result?.count == written && result?.mismatches == 0 && result?.short == 0, "\(String(describing: result))")
    }

    /// Reads `samples` to the end as an encoder does; returns the samples read, those that were
    /// not what the writer wrote, and the runs cut short of what was asked for no reason.
    static func readAll(_ samples: SegmentSamples, written: Int) -> (count: Int, mismatches: Int, short: Int) {
        var offset = 0, mismatches = 0, short = 0
        while let run = samples.run(from: offset, maximum: 9_216) {
            // A run stops short of what was asked only at a block's end or at the end.
            let blockEnd = (offset / Self.blockSamples + 1) * Self.blockSamples
            if run.count < 9_216, offset + run.count != blockEnd, offset + run.count != written { short += 1 }
            for index in 0..<run.count where run.left[index] != Float(offset + index) || run.right[index] != -Float(offset + index) {
                mismatches += 1
            }
            offset += run.count
            samples.discard(upTo: offset)
        }
        return (offset, mismatches, short)
    }

    @Test("blocks read are given back and taken again by the next segment, so the pool maps no more; samples given back cannot be read")
    func blocksAreReused() throws {
        let pool = SampleBlockPool(channels: 2)
        let first = try Self.filled(capacity: 100_000, pool: pool)
        let mapped = pool.blocksMapped
        first.discard(upTo: 3 * Self.blockSamples + 5)
        #expect(first.run(from: 3 * Self.blockSamples - 1, maximum: 10) == nil)
        #expect(first.run(from: 3 * Self.blockSamples, maximum: 10)?.left.pointee == Float(3 * Self.blockSamples))
        // Three blocks back in the pool: a segment needing three maps none.
        let second = try Self.filled(capacity: 3 * Self.blockSamples, pool: pool)
        #expect(pool.blocksMapped == mapped)
        #expect(second.run(from: 2 * Self.blockSamples + 7, maximum: 1)?.right.pointee == -Float(2 * Self.blockSamples + 7))
        // A fourth is mapped anew; a released segment gives back what it still holds.
        _ = try Self.filled(capacity: 1, pool: pool)
        #expect(pool.blocksMapped == mapped + 1)
    }

    @Test("the samples a parallel encode holds do not grow with the input: one segment and a few blocks at most, for 30 s or 3 minutes",
          arguments: [30, 180])
    func heldSamplesAreBounded(_ seconds: Int) async throws {
        // Megabytes of blocks: not while another test measures the process's peak memory. The
        // encode blocks its thread while it waits for the encoders, so it runs on a thread of its
        // own, not on one of the few that every test's tasks share (an event stream's heartbeats
        // starved beside it).
        let (mapped, perSegment, segments) = try await MemoryMeasurementLock.shared.exclusively {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int, Int, Int), any Error>) in
                Thread { continuation.resume(with: Result { try Self.encodeHoldingBlocks(seconds: seconds) }) }.start()
            }
        }
        #expect(segments >= seconds / Int(SegmentLayout.seconds))
        // The segment one encoder is still reading, which the pipeline must get through to reach
        // the next one's samples; the newest segment's lead; the last blocks of a finishing one;
        // and the blocks two segments share. Filling segments before handing them over held up to
        // three segments and more.
        let bound = perSegment + 3 * SegmentedMP3Encoder.paceAhead / Self.blockSamples + 3
        #expect(mapped <= bound, "\(mapped) blocks mapped, \(perSegment) a segment")
        #expect(mapped < 2 * perSegment)
    }

    /// Encodes `seconds` of a tone with noise on two threads; returns the sample blocks mapped, the
    /// blocks a segment needs, and the segments encoded.
    static func encodeHoldingBlocks(seconds: Int) throws -> (Int, Int, Int) {
        let settings = LameEncoder.Settings(sampleRate: 44_100, channels: 2, encoding: .constantBitRate(kbps: 128))
        let encoder = try SegmentedMP3Encoder(settings, threads: 2, stop: StopCondition(timeLimit: nil), logger: Logger(label: "test.segments"))
        let file = try AtomicOutputFile(destination: try makeScratchDirectory().appendingPathComponent("out.mp3").path)
        // Three seconds made once and given over and over, so that the samples come much faster
        // than two encoders take them (as from a decoder): a pipeline not held back would fill
        // segment after segment.
        let loop = 3 * 44_100 / 1_024 * 1_024
        let pcm = PCMBuffer(channels: .stereo, capacity: loop)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<loop {
            let time = Double(index) / 44_100
            pcm.planes[0][index] = Float(0.4 * sin(2 * .pi * 440 * time)) + Float.random(in: -0.05...0.05, using: &generator)
            pcm.planes[1][index] = Float(0.3 * sin(2 * .pi * 330 * time)) + Float.random(in: -0.05...0.05, using: &generator)
        }
        for block in 0..<(seconds * 44_100 / 1_024) {
            let start = block * 1_024 % loop
            try encoder.encode(pcm, range: start..<(start + 1_024), to: file)
        }
        try encoder.flush(to: file)
        let perSegment = (encoder.layout.capacity(1) + blockSamples - 1) / blockSamples
        return (encoder.sampleBlocksMapped, perSegment, encoder.segmentsStarted)
    }
}

/// The frame-level parts on LAME's real output: taking a stream apart and packing it again gives a
/// stream that decodes to the same samples; a join short of reservoir enlarges frames and stays valid.
@Suite struct BitReservoirPackingTests {
    /// A LAME stream of `seconds` of a tone with noise, without the LAME/Xing frame, and its frames.
    static func encoded(seconds: Double, kbps: Int) throws -> (stream: [UInt8], frames: [MP3Frame]) {
        let encoder = try LameEncoder(.init(sampleRate: 44_100, channels: 2, encoding: .constantBitRate(kbps: kbps)), writesLameTag: false)
        let count = Int(seconds * 44_100)
        var generator = SystemRandomNumberGenerator()
        let left = (0..<count).map { Float(0.4 * sin(Double($0) * 0.0628)) + Float.random(in: -0.05...0.05, using: &generator) }
        let right = (0..<count).map { Float(0.3 * sin(Double($0) * 0.0471)) + Float.random(in: -0.05...0.05, using: &generator) }
        var stream: [UInt8] = []
        try left.withUnsafeBufferPointer { l in
            try right.withUnsafeBufferPointer { r in
                try encoder.encode(left: l.baseAddress!, right: r.baseAddress!, count: count) { stream.append(contentsOf: $0) }
            }
        }
        try encoder.flush { stream.append(contentsOf: $0) }
        return (stream, try MP3FrameSplitter.frames(in: stream[...]))
    }

    static func decode(_ bytes: [UInt8], in directory: URL, name: String) async throws -> (samples: Data, errors: String) {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        let run = try await ExternalTool.run("ffmpeg", ["-nostdin", "-v", "error", "-f", "mp3", "-i", url.path, "-f", "f32le", "-"])
        return (run.stdout, run.stderr)
    }

    static func pack(_ frames: [MP3Frame], headers: [MP3FrameHeader?]? = nil, in directory: URL) throws -> [UInt8] {
        let url = directory.appendingPathComponent("packed-\(UUID().uuidString).mp3")
        let file = try AtomicOutputFile(destination: url.path)
        let packer = BitReservoirPacker(file: file, maxMainDataBegin: 511)
        for (index, frame) in frames.enumerated() {
            try packer.append(frame, header: headers?[index])
        }
        try packer.finish()
        #expect(packer.frameCount == frames.count)
        if headers == nil {
            #expect(packer.byteCount == Int64(frames.reduce(0) { $0 + $1.header.byteCount }))
        }
        try file.commit()
        return [UInt8](try Data(contentsOf: url))
    }

    @Test("LAME's frames taken apart and packed afresh decode to exactly the same samples, with main data placed no later than LAME placed it",
          arguments: [64, 128, 320])
    func repackingKeepsTheAudio(_ kbps: Int) async throws {
        let directory = try makeScratchDirectory()
        let (stream, frames) = try Self.encoded(seconds: 3, kbps: kbps)
        let packed = try Self.pack(frames, in: directory)
        #expect(packed.count == stream.count)
        let original = try await Self.decode(stream, in: directory, name: "original.mp3")
        let repacked = try await Self.decode(packed, in: directory, name: "repacked.mp3")
        #expect(original.errors.isEmpty && repacked.errors.isEmpty, "\(original.errors) \(repacked.errors)")
        #expect(original.samples.count > 44_100 * 8 && repacked.samples == original.samples)
        let again = try MP3FrameSplitter.frames(in: packed[...])
        #expect(zip(again, frames).allSatisfy { $0.mainData == $1.mainData && $0.mainDataBegin >= $1.mainDataBegin })
    }

    @Test("a join whose next encoder counted on more reservoir than the stream holds enlarges frames; the stream stays valid and decodes cleanly")
    func shortReservoirEnlargesFrames() async throws {
        let directory = try makeScratchDirectory()
        let (_, frames) = try Self.encoded(seconds: 2, kbps: 128)
        let layout = SegmentLayout(frameSize: 1152, segmentFrames: 40)
        // Segment 1 is segment 0's frames from its first frame on, but claims a full reservoir at
        // every candidate frame, so no handover fits and the joiner must make room.
        let first = EncodedSegment(index: 0, firstFrame: 0, frames: frames, lameTag: nil)
        var claimed = Array(frames[layout.firstFrame(1)...])
        for index in claimed.indices { claimed[index].mainDataBegin = 511 }
        let second = EncodedSegment(index: 1, firstFrame: layout.firstFrame(1), frames: claimed, lameTag: nil)
        let url = directory.appendingPathComponent("joined.mp3")
        let file = try AtomicOutputFile(destination: url.path)
        let joiner = SegmentJoiner(layout: layout)
        try joiner.join(first, to: file)
        try joiner.join(second, to: file)
        _ = try joiner.finish(inputSamples: 0, encoderDelay: 576)
        try file.commit()
        #expect(joiner.statistics.enlargedFrames > 0)
        #expect(joiner.statistics.identical + joiner.statistics.matchingWindows + joiner.statistics.reservoirOnly == 0)
        let joined = [UInt8](try Data(contentsOf: url))
        let again = try MP3FrameSplitter.frames(in: joined[...])
        #expect(again.count == frames.count)
        #expect(zip(again, frames).allSatisfy { $0.mainData == $1.mainData })
        let decoded = try await Self.decode(joined, in: directory, name: "check.mp3")
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
    }
}

/// The test's own reading of an MP3 file, independent of VMP3's: every frame header from the
/// first after the ID3v2 tag to the end of the file, and the LAME/Xing frame's fields.
struct MP3FrameWalk {
    var audioFrames = 0
    var bitRates: Set<Int> = []
    var problem: String?
    var xingFrameCount: Int?
    var xingByteCount: Int?
    var streamBytes = 0
    var delayAndPadding: [UInt8] = []
    var lameTagCRCIsValid = false
    var musicCRCIsValid = false

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        var offset = 0
        if bytes.starts(with: Array("ID3".utf8)) {
            offset = 10 + (Int(bytes[6]) << 21 | Int(bytes[7]) << 14 | Int(bytes[8]) << 7 | Int(bytes[9]))
        }
        let start = offset
        var tag: Range<Int>?
        var firstSampleRate: Int?
        while offset + 4 <= bytes.count {
            let header = bytes[offset..<(offset + 4)]
            let b1 = header[offset + 1], b2 = header[offset + 2], b3 = header[offset + 3]
            guard bytes[offset] == 0xFF, b1 & 0xE0 == 0xE0, (b1 >> 3) & 3 == 3, (b1 >> 1) & 3 == 1 else {
                problem = "no MPEG-1 Layer III frame header at byte \(offset)"; return
            }
            let rates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
            let index = Int(b2 >> 4), rateIndex = Int((b2 >> 2) & 3)
            guard (1...14).contains(index), rateIndex < 3 else { problem = "a reserved bit rate or sample rate at byte \(offset)"; return }
            let sampleRate = [44_100, 48_000, 32_000][rateIndex]
            if let firstSampleRate, firstSampleRate != sampleRate { problem = "the sample rate changes at byte \(offset)"; return }
            firstSampleRate = sampleRate
            guard b3 & 3 == 0 else { problem = "emphasis set at byte \(offset)"; return }
            let size = 144 * rates[index] * 1000 / sampleRate + Int((b2 >> 1) & 1)
            guard offset + size <= bytes.count else { problem = "a frame cut short at byte \(offset)"; return }
            let sideInfo = (b3 >> 6) == 3 ? 17 : 32
            let xing = offset + 4 + sideInfo
            if offset == start, xing + 4 <= bytes.count, ["Xing", "Info"].contains(String(decoding: bytes[xing..<(xing + 4)], as: UTF8.self)) {
                tag = offset..<(offset + size)
                xingFrameCount = Self.integer(bytes, xing + 8)
                xingByteCount = Self.integer(bytes, xing + 12)
                delayAndPadding = Array(bytes[(xing + 141)..<(xing + 144)])
                lameTagCRCIsValid = Self.crc(bytes[offset..<(xing + 154)]) == Int(bytes[xing + 154]) << 8 | Int(bytes[xing + 155])
            } else {
                audioFrames += 1
                bitRates.insert(rates[index])
            }
            offset += size
        }
        if offset != bytes.count { problem = "\(bytes.count - offset) bytes after the last frame" }
        streamBytes = offset - start
        if let tag {
            let xing = tag.lowerBound + 4 + ((bytes[tag.lowerBound + 3] >> 6) == 3 ? 17 : 32)
            musicCRCIsValid = Self.crc(bytes[tag.upperBound..<offset]) == Int(bytes[xing + 152]) << 8 | Int(bytes[xing + 153])
        }
    }

    private static func integer(_ bytes: [UInt8], _ at: Int) -> Int {
        bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
    }

    /// CRC-16, polynomial 0x8005 bit-reversed, as the LAME tag uses it.
    private static func crc(_ bytes: ArraySlice<UInt8>) -> Int {
        var crc = 0
        for byte in bytes {
            crc ^= Int(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return crc
    }
}
