#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import VMP3Core

/// A one-line progress bar on standard error, redrawn in place.
final class ProgressBar: Sendable {
    private let lastPercent = Mutex<Int>(-1)

    func update(_ progress: ConversionProgress) {
        let line: String
        if let fraction = progress.fraction {
            let percent = Int(fraction * 100)
            guard lastPercent.withLock({ last in defer { last = percent }; return last != percent }) else { return }
            let filled = Int(fraction * 30)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: 30 - filled)
            line = "\(String(percent).padded(toWidth: 3))% [\(bar)] \(Summary.clock(progress.processedSeconds)) / \(Summary.clock(progress.totalSeconds ?? 0))"
        } else {
            line = "converted \(Summary.clock(progress.processedSeconds))"
        }
        StandardStream.error.write("\r\u{1B}[2K\(line)")
    }

    func clear() {
        StandardStream.error.write("\r\u{1B}[2K")
    }
}
