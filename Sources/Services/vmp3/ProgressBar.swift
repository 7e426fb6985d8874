import Foundation
import Synchronization
import VMP3Kit

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
            line = "\(String(format: "%3d", percent))% [\(bar)] \(Summary.clock(progress.processedSeconds)) / \(Summary.clock(progress.totalSeconds ?? 0))"
        } else {
            line = "converted \(Summary.clock(progress.processedSeconds))"
        }
        try? FileHandle.standardError.write(contentsOf: Data("\r\u{1B}[2K\(line)".utf8))
    }

    func clear() {
        try? FileHandle.standardError.write(contentsOf: Data("\r\u{1B}[2K".utf8))
    }
}
