#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMP3Core

/// The memory for the samples of one parallel conversion's segments, in blocks that go from
/// segment to segment: the pipeline takes blocks as it fills a segment, and the encoding thread
/// gives each one back as soon as it has read it.
///
/// A segment's samples once had a mapping of their own, given back to the system page by page as
/// they were encoded. Every new segment then cost its pages afresh: a fault and the kernel zeroing
/// each page (about 2 % of a conversion's time). Blocks are kept instead, so the pages are faulted
/// in once, up to the most the conversion ever holds, and reused until the pool goes.
///
/// Blocks are mappings of their own, not heap memory: they are all unmapped when the pool is
/// released (its segments hold it, so it outlives them), and nothing stays resident in glibc's
/// heap after the conversion.
final class SampleBlockPool: Sendable {
    /// Samples of each plane a block holds: 16,384, 64 KiB of `Float`, 0.37 s at 44.1 kHz.
    static let blockSamples = 16_384

    let channels: Int
    private let blockBytes: Int
    /// Blocks given back and not yet taken again, by address (an `Int`, which is `Sendable`).
    private let free = Mutex<[Int]>([])
    private let mapped = Atomic<Int>(0)

    init(channels: Int) {
        self.channels = max(1, channels)
        blockBytes = self.channels * Self.blockSamples * MemoryLayout<Float>.stride
    }

    deinit {
        free.withLock { blocks in
            for address in blocks {
                munmap(UnsafeMutableRawPointer(bitPattern: address), blockBytes)
            }
        }
    }

    /// Blocks mapped so far: the most that were ever in use at once.
    var blocksMapped: Int { mapped.load(ordering: .relaxed) }

    /// A block: plane `p` at `p · blockSamples`. One given back before, else a new mapping with
    /// its pages already in place (`MAP_POPULATE`: one call instead of a fault a page).
    ///
    /// - Throws: `encoding_failed` if the memory cannot be mapped.
    func take() throws(ConversionError) -> UnsafeMutablePointer<Float> {
        if let address = free.withLock({ $0.popLast() }), let block = UnsafeMutablePointer<Float>(bitPattern: address) {
            return block
        }
        guard let mapping = mmap(nil, blockBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
              mapping != MAP_FAILED else {
            throw ConversionError(code: .encodingFailed, message: "cannot map \(blockBytes) bytes for samples: \(String(cString: strerror(errno)))")
        }
        mapped.add(1, ordering: .relaxed)
        return mapping.bindMemory(to: Float.self, capacity: channels * Self.blockSamples)
    }

    /// Takes back a block from ``take()``; it must not be used afterwards.
    func give(_ block: UnsafeMutablePointer<Float>) {
        let address = Int(bitPattern: block)
        free.withLock { $0.append(address) }
    }
}
