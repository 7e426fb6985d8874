import Foundation
import VMP3TestSupport

/// An audio file decoded by the ffmpeg CLI, independently of VMP3's own code: the yardstick the
/// tests measure VMP3's output with.
struct DecodedAudio {
    let sampleRate: Int
    /// One array of samples per channel.
    let channels: [[Float]]

    var sampleCount: Int { channels.first?.count ?? 0 }
    var duration: Double { Double(sampleCount) / Double(sampleRate) }

    /// Decodes stream `stream` (default: the first audio stream) of `url` at its own rate and
    /// channel count. ffmpeg's MP3 decoder honours the LAME frame's delay and padding.
    init(_ url: URL, stream: String = "a:0") async throws {
        let info = try await ProbedFile(url).audioStream(stream)
        sampleRate = info.sampleRate
        let output = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-i", url.path, "-map", "0:\(stream)", "-f", "f32le", "-c:a", "pcm_f32le", "-",
        ])
        guard output.status == 0 else { throw ExternalTool.Failure(description: "decoding \(url.path): \(output.stderr)") }
        let count = info.channels
        let samples: [Float] = output.stdout.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        channels = (0..<count).map { channel in
            stride(from: channel, to: samples.count, by: count).map { samples[$0] }
        }
    }

    /// The amplitude of the `frequency` component of `channel` between `from` and `to` seconds
    /// (Goertzel filter over a Hann window): about 0.5 × the tone's amplitude for a steady tone.
    func level(of frequency: Double, channel: Int, from: Double = 0, to: Double? = nil) -> Double {
        let lower = max(0, Int(from * Double(sampleRate)))
        let upper = min(sampleCount, Int((to ?? duration) * Double(sampleRate)))
        let samples = channels[channel][lower..<upper]
        let n = samples.count
        guard n > 1 else { return 0 }
        let coefficient = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
        var (s1, s2) = (0.0, 0.0)
        for (i, sample) in samples.enumerated() {
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1))
            let s0 = Double(sample) * window + coefficient * s1 - s2
            (s2, s1) = (s1, s0)
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return sqrt(max(0, power)) / Double(n) * 2
    }

    /// The frequency of a pure tone in `channel`, from the rate of its upward zero crossings.
    func toneFrequency(channel: Int = 0, from: Double = 0.2, to: Double? = nil) -> Double {
        let lower = Int(from * Double(sampleRate))
        let upper = min(sampleCount, Int((to ?? (duration - 0.2)) * Double(sampleRate)))
        let samples = channels[channel]
        var crossings: [Double] = []
        for i in max(1, lower)..<upper where samples[i - 1] < 0 && samples[i] >= 0 {
            // Interpolate where the wave crosses zero between the two samples.
            let fraction = Double(-samples[i - 1]) / Double(samples[i] - samples[i - 1])
            crossings.append(Double(i - 1) + fraction)
        }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) / ((last - first) / Double(sampleRate))
    }
}

/// What ffprobe says about a file.
struct ProbedFile {
    struct AudioStream {
        var codec: String
        var sampleRate: Int
        var channels: Int
        var bitRate: Int?
    }

    let json: [String: Any]

    init(_ url: URL) async throws {
        let output = try await ExternalTool.run("ffprobe", [
            "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_chapters", url.path,
        ])
        guard output.status == 0, let json = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any] else {
            throw ExternalTool.Failure(description: "ffprobe \(url.path): \(output.stderr)")
        }
        self.json = json
    }

    var format: [String: Any] { json["format"] as? [String: Any] ?? [:] }
    /// The chapters: start and end in seconds, and the title.
    var chapters: [(start: Double, end: Double, title: String?)] {
        (json["chapters"] as? [[String: Any]] ?? []).map { chapter in
            (Double(chapter["start_time"] as? String ?? "") ?? -1, Double(chapter["end_time"] as? String ?? "") ?? -1,
             (chapter["tags"] as? [String: String])?["title"])
        }
    }
    /// The streams that are attached pictures, by codec.
    var attachedPictures: [String] {
        streams.filter { (($0["disposition"] as? [String: Any])?["attached_pic"] as? Int) == 1 }.compactMap { $0["codec_name"] as? String }
    }
    var formatName: String? { format["format_name"] as? String }
    var tags: [String: String] {
        ((format["tags"] as? [String: String]) ?? [:]).reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
    }
    var streams: [[String: Any]] { json["streams"] as? [[String: Any]] ?? [] }

    /// `selector` is `a:N` (the Nth audio stream) or a plain stream index.
    func audioStream(_ selector: String = "a:0") throws -> AudioStream {
        let audio = streams.filter { $0["codec_type"] as? String == "audio" }
        let stream: [String: Any]?
        if selector.hasPrefix("a:"), let n = Int(selector.dropFirst(2)), n < audio.count {
            stream = audio[n]
        } else {
            stream = streams.first { ($0["index"] as? Int).map(String.init) == selector }
        }
        guard let stream, let codec = stream["codec_name"] as? String,
              let rate = (stream["sample_rate"] as? String).flatMap(Int.init), let channels = stream["channels"] as? Int else {
            throw ExternalTool.Failure(description: "no audio stream \(selector)")
        }
        return AudioStream(codec: codec, sampleRate: rate, channels: channels, bitRate: (stream["bit_rate"] as? String).flatMap(Int.init))
    }
}

/// The bytes of the first MPEG audio frame after the ID3v2 tag: where the LAME/Xing frame lives.
func firstMP3Frame(of url: URL) throws -> [UInt8] {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }
    let head = [UInt8](try handle.read(upToCount: 64 * 1024) ?? Data())
    var offset = 0
    if head.count >= 10, head[0..<3] == [0x49, 0x44, 0x33] {
        let size = head[6..<10].reduce(0) { $0 << 7 | Int($1 & 0x7F) }
        offset = 10 + size
    }
    guard head.count > offset + 4, head[offset] == 0xFF, head[offset + 1] & 0xE0 == 0xE0 else { return [] }
    return Array(head[offset..<min(head.count, offset + 2048)])
}

extension Array where Element == UInt8 {
    func contains(ascii text: String) -> Bool {
        let needle = Array(text.utf8)
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
