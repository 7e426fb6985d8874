#if canImport(Glibc)
import Glibc
#endif
import VMP3Core

/// The planar float samples of one segment: filled by the pipeline's thread, then handed to the
/// thread that encodes them.
///
/// `@unchecked Sendable`: the producer writes it only before ``SegmentedMP3Encoder`` hands it to
/// an encoding thread and never touches it afterwards; the lock of ``EncodingWorkers``' queue
/// orders those writes before the encoding thread's reads. One owner at a time, so no lock of its own.
///
/// The samples live in a mapping of their own rather than on the heap: a segment is megabytes,
/// and glibc's allocator, once such a block is freed, serves the next ones from its heap (it raises
/// its mmap threshold) and keeps the freed memory resident, so a long input would hold several
/// segments' worth more than it uses. A mapping is returned whole when the segment is done, and
/// only the pages written are ever resident.
final class SegmentSamples: @unchecked Sendable {
    let capacity: Int
    private(set) var count = 0
    let planes: [UnsafeMutablePointer<Float>]
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    /// Samples (per plane) whose pages are already in place.
    private var populated = 0

    /// - Throws: `encoding_failed` if the memory cannot be mapped.
    init(channels: Int, capacity: Int) throws(ConversionError) {
        self.capacity = capacity
        mappingSize = max(1, channels * capacity * MemoryLayout<Float>.stride)
        guard let mapping = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapping != MAP_FAILED else {
            throw ConversionError(code: .encodingFailed, message: "cannot map \(mappingSize) bytes for a segment's samples: \(String(cString: strerror(errno)))")
        }
        self.mapping = mapping
        let floats = mapping.bindMemory(to: Float.self, capacity: channels * capacity)
        planes = (0..<channels).map { floats + $0 * capacity }
    }

    deinit {
        munmap(mapping, mappingSize)
    }

    var isFull: Bool { count == capacity }

    /// Samples a plane's pages are put in place for at once: 64 KiB.
    private static let populationStep = 16_384

    /// Puts the pages for samples up to `end` (and a step beyond) in place with one call a plane
    /// instead of one page fault a page: a 6 s segment is about 260 pages a channel, and each
    /// fault is a trap into the kernel (62,600 faults in a 10-minute conversion before, 7,700 after).
    private func populate(through end: Int) {
        let upTo = min(capacity, max(end, populated + Self.populationStep))
        // Best effort: on a kernel without MADV_POPULATE_WRITE (before 5.14) the writes fault the pages in.
        advise(MADV_POPULATE_WRITE, samples: populated..<upTo, wholePagesOnly: false)
        populated = upTo
    }

    /// Gives the memory of samples before `offset` back to the system (the encoder has read them):
    /// a segment being encoded holds only what is still to be encoded.
    func discard(upTo offset: Int) {
        advise(MADV_DONTNEED, samples: 0..<min(offset, capacity), wholePagesOnly: true)
    }

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// `madvise(advice)` for the pages of `samples` in every plane: only the pages wholly inside
    /// them if `wholePagesOnly` (a page shared with samples outside must keep its contents), else
    /// every page they touch.
    private func advise(_ advice: Int32, samples: Range<Int>, wholePagesOnly: Bool) {
        guard !samples.isEmpty else { return }
        let page = Self.pageSize
        for plane in planes {
            let first = Int(bitPattern: UnsafeRawPointer(plane + samples.lowerBound))
            let end = Int(bitPattern: UnsafeRawPointer(plane + samples.upperBound))
            let start = wholePagesOnly ? (first + page - 1) / page * page : first / page * page
            let stop = wholePagesOnly ? end / page * page : end
            if stop > start, let address = UnsafeMutableRawPointer(bitPattern: start) {
                _ = madvise(address, stop - start, advice)
            }
        }
    }

    /// Appends samples `range` of `pcm`, which must fit.
    func append(_ pcm: PCMBuffer, range: Range<Int>) {
        if count + range.count > populated { populate(through: count + range.count) }
        for (plane, source) in zip(planes, pcm.planes) {
            (plane + count).update(from: source + range.lowerBound, count: range.count)
        }
        count += range.count
    }
}
