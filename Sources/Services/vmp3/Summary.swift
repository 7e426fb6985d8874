#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Core

/// The one line `vmp3 convert` prints when it is done.
struct Summary {
    let line: String

    init(_ result: ConversionResult) {
        let encoding = switch result.encoding {
        case .constantBitRate(let kbps): "\(kbps) kbps"
        case .variableBitRate(let quality): "VBR q\(quality)"
        }
        let channels = result.channels == .mono ? "mono" : "stereo"
        line = "\(result.output.path): \(Self.clock(result.duration)), \(Self.size(result.byteCount)), "
            + "\(encoding), \(result.sampleRate) Hz \(channels)"
            + (result.chapters.isEmpty ? "" : ", \(result.chapters.count) chapter\(result.chapters.count == 1 ? "" : "s")")
            + (result.coverType == nil ? "" : ", cover")
            + (result.loudness.map { ", \($0.source.decimal(places: 1)) LUFS \($0.gain.decimal(places: 1, plusSign: true)) dB" } ?? "")
            + ", \(result.speed.decimal(places: 1))× real time"
    }

    /// `m:ss.cc`, or `h:mm:ss.cc` from an hour on.
    static func clock(_ seconds: Double) -> String {
        // A length a file declares can be anything: show at most 999 hours rather than trap.
        let hundredths = Int((min(max(0, seconds.isNaN ? 0 : seconds), 3_600_000) * 100).rounded())
        let (h, m, s, cs) = (hundredths / 360_000, hundredths / 6000 % 60, hundredths / 100 % 60, hundredths % 100)
        let tail = "\(String(s).padded(toWidth: 2, with: "0")).\(String(cs).padded(toWidth: 2, with: "0"))"
        return h > 0 ? "\(h):\(String(m).padded(toWidth: 2, with: "0")):\(tail)" : "\(m):\(tail)"
    }

    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\(value.decimal(places: 1)) \(units[unit])"
    }
}
