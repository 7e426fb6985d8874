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
            var chunk = [UInt8](repeating: 0, count: count)
            for index in 0..<count {
                // xorshift64*
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                chunk[index] = UInt8(truncatingIfNeeded: (state &* 0x2545_F491_4F6C_DD1D) >> 56)
            }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: totalSize, chunkSize: chunkSize, state: seed | 1)
    }

    /// FNV-1a over all the bytes.
    public func checksum() async throws -> UInt64 {
        try await Self.checksum(of: self)
    }

    public static func checksum<S: AsyncSequence>(of sequence: S) async throws -> UInt64 where S.Element == [UInt8] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for try await chunk in sequence {
            await Task.yield()
            for byte in chunk {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        return hash
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
