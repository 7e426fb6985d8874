import Dispatch
import Synchronization
import VMP3Core

/// What one segment's encoder produced, taken apart into frames.
struct EncodedSegment: Sendable {
    let index: Int
    /// The stream's frame number of ``frames``' first.
    let firstFrame: Int
    let frames: [MP3Frame]
    /// The LAME/Xing frame the first segment's encoder wrote (`nil` for the others, and when LAME
    /// writes none).
    let lameTag: [UInt8]?

    /// The frame the stream numbers `number`.
    func frame(_ number: Int) throws(ConversionError) -> MP3Frame {
        let index = number - firstFrame
        guard frames.indices.contains(index) else {
            throw ConversionError(code: .encodingFailed, message: "segment \(self.index) has no frame \(number) to join at")
        }
        return frames[index]
    }

    /// The stream's frame number after the segment's last.
    var endFrame: Int { firstFrame + frames.count }
}

/// A segment handed to the encoding threads, and the way to wait for it.
final class SegmentJob: Sendable {
    let index: Int
    private let done = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<EncodedSegment, ConversionError>?>(nil)

    init(index: Int) {
        self.index = index
    }

    /// Called once, by the encoding thread.
    func complete(_ result: Result<EncodedSegment, ConversionError>) {
        outcome.withLock { $0 = result }
        done.signal()
    }

    var isFinished: Bool { outcome.withLock { $0 != nil } }

    /// Blocks until the segment is encoded.
    func wait() -> Result<EncodedSegment, ConversionError> {
        done.wait()
        done.signal() // a later wait returns at once
        return outcome.withLock { $0 } ?? .failure(ConversionError(code: .encodingFailed, message: "segment \(index) finished without a result"))
    }
}
