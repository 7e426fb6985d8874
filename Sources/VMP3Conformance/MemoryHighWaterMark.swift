import Foundation

/// The process's peak resident memory (`VmHWM`), which Linux lets a process reset, so that a
/// check can measure the peak of one operation.
public enum MemoryHighWaterMark {
    /// Resets the peak to the current resident size (writes 5 to `/proc/self/clear_refs`).
    public static func reset() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// Peak resident bytes since the last reset.
    public static var peak: Int64 { value(of: "VmHWM") }

    /// Resident bytes now.
    public static var current: Int64 { value(of: "VmRSS") }

    /// How much `operation` raised the peak: measured again, up to `attempts` times, while it
    /// is over `budget`, and the smallest growth returned. The mark is the whole process's, so
    /// a test running alongside can add its own allocations to one measurement (seen: 257 MiB
    /// during a 512 MiB put that needs a few); an operation that itself holds more than the
    /// budget is over it on every attempt, so the check still fails for it.
    public static func smallestPeakGrowth(
        under budget: Int64,
        attempts: Int = 3,
        _ operation: () async throws -> Void
    ) async throws -> Int64 {
        var smallest = Int64.max
        for _ in 0..<max(1, attempts) {
            reset()
            let before = current
            try await operation()
            smallest = min(smallest, peak - before)
            if smallest < budget { break }
        }
        return smallest
    }

    private static func value(of field: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kilobytes = Int64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}

/// Deterministic pseudo-random bytes, made a chunk at a time (never held whole), with a
/// checksum to compare what comes back.
public struct GeneratedBytes: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public let totalSize: Int
    public let chunkSize: Int
    public let seed: UInt64

    public init(totalSize: Int, chunkSize: Int = 1 << 20, seed: UInt64 = 42) {
        self.totalSize = totalSize
        self.chunkSize = chunkSize
        self.seed = seed
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        let chunkSize: Int
        var state: UInt64

        public mutating func next() async throws -> [UInt8]? {
            guard remaining > 0 else { return nil }
            // Making bytes never suspends: yield, as real I/O would, so other tasks get the thread.
            await Task.yield()
            let count = Swift.min(chunkSize, remaining)
            remaining -= count
            // Eight bytes a step through a raw buffer: a byte at a time, the 512 MiB checks
            // took minutes in the unoptimised, sanitized test build.
            var chunk = [UInt8](repeating: 0, count: count)
            chunk.withUnsafeMutableBytes { bytes in
                var offset = 0
                while offset < count {
                    // xorshift64*
                    state ^= state >> 12
                    state ^= state << 25
                    state ^= state >> 27
                    let word = (state &* 0x2545_F491_4F6C_DD1D).littleEndian
                    let take = Swift.min(8, count - offset)
                    withUnsafeBytes(of: word) { source in
                        bytes.baseAddress!.advanced(by: offset).copyMemory(from: source.baseAddress!, byteCount: take)
                    }
                    offset += take
                }
            }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: totalSize, chunkSize: chunkSize, state: seed | 1)
    }

    /// A checksum over all the bytes: FNV-1a's step applied to each little-endian 8-byte word
    /// of the stream (the last one zero-padded, then the length), so that it does not depend on
    /// how the stream is cut into chunks.
    public func checksum() async throws -> UInt64 {
        try await Self.checksum(of: self)
    }

    public static func checksum<S: AsyncSequence>(of sequence: S) async throws -> UInt64 where S.Element == [UInt8] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var pending: UInt64 = 0
        var pendingCount = 0
        var length: UInt64 = 0
        for try await chunk in sequence {
            await Task.yield()
            length &+= UInt64(chunk.count)
            chunk.withUnsafeBytes { bytes in
                var offset = 0
                // Finish a word the previous chunk began.
                while pendingCount > 0, pendingCount < 8, offset < bytes.count {
                    pending |= UInt64(bytes[offset]) << (8 * pendingCount)
                    pendingCount += 1
                    offset += 1
                }
                if pendingCount == 8 {
                    hash = (hash ^ pending) &* 0x0000_0100_0000_01B3
                    pending = 0
                    pendingCount = 0
                }
                while bytes.count - offset >= 8 {
                    let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    hash = (hash ^ word) &* 0x0000_0100_0000_01B3
                    offset += 8
                }
                while offset < bytes.count {
                    pending |= UInt64(bytes[offset]) << (8 * pendingCount)
                    pendingCount += 1
                    offset += 1
                }
            }
        }
        if pendingCount > 0 { hash = (hash ^ pending) &* 0x0000_0100_0000_01B3 }
        return (hash ^ length) &* 0x0000_0100_0000_01B3
    }
}

/// Lets one memory measurement run at a time in the process: the high-water mark is
/// process-wide, so two large-object checks running at once would each count the other's memory.
public actor MemoryMeasurementLock {
    public static let shared = MemoryMeasurementLock()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` with no other measurement running.
    public func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
