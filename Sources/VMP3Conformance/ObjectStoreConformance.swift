import Foundation
import VMP3Core
import VMP3TestSupport

/// The `ObjectStore` contract, as checks every implementation must pass. Each check gets a
/// store of its own (empty, or at least without the keys it uses).
public enum ObjectStoreConformance {
    public typealias Check = ConformanceCheck<any ObjectStore>

    public static let checks: [Check] = [
        Check("a file put and read back is the same, with its size and content type") { store in
            let key = ObjectKey("conformance/round-trip.bin")
            let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let source = try temporaryFile(bytes)
            let put = try await store.put(key, fromFile: source, contentType: "video/mp4")
            try require(put.size == 100_000, "put reported \(put.size) bytes")
            let head = try await store.head(key)
            try require(head.size == 100_000 && head.contentType == "video/mp4", "head: \(head)")
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID())")
            defer { try? FileManager.default.removeItem(at: copy) }
            let got = try await store.get(key, toFile: copy)
            try require(got.size == 100_000, "get reported \(got.size) bytes")
            try require(try Data(contentsOf: copy) == Data(bytes), "the file read back differs")
            var streamed: [UInt8] = []
            for try await chunk in try await store.get(key).body { streamed += chunk }
            try require(streamed == bytes, "the stream read back differs")
        },

        Check("a ranged read returns exactly its slice, clipped at the end, and refuses one outside the object") { store in
            let key = ObjectKey("conformance/ranged.bin")
            // Larger than one read chunk of the stores VMP3 ships, so that ranges cross chunks.
            let size = 700_001
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 9)) }
            let source = try temporaryFile(bytes)
            defer { try? FileManager.default.removeItem(at: source) }
            try await store.put(key, fromFile: source, contentType: "audio/mpeg")
            let asked: [(Range<Int64>, Range<Int64>)] = [
                (0..<1, 0..<1), (0..<100, 0..<100), (300_000..<600_123, 300_000..<600_123),
                (699_872..<700_001, 699_872..<700_001), (699_990..<2_000_000, 699_990..<700_001),
                (1..<700_001, 1..<700_001), (0..<Int64.max, 0..<700_001),
            ]
            for (range, expected) in asked {
                let download = try await store.get(key, range: range)
                try require(download.info.size == Int64(size), "a read of \(range) says the object has \(download.info.size) bytes")
                try require(download.range == expected, "a read of \(range) says it carries \(download.range), not \(expected)")
                var got: [UInt8] = []
                for try await chunk in download.body { got += chunk }
                try require(got == Array(bytes[Int(expected.lowerBound)..<Int(expected.upperBound)]), "a read of \(range) returned other bytes (\(got.count))")
            }
            for outside: Range<Int64> in [700_001..<700_002, 900_000..<900_010, 5..<5] {
                try await requireError(StorageError.self, "a read of \(outside)", matching: { $0.code == .invalidRange }) {
                    _ = try await store.get(key, range: outside)
                }
            }
            try await requireError(StorageError.self, "a ranged read of a missing object", matching: { $0.code == .notFound }) {
                _ = try await store.get(ObjectKey("conformance/ranged-missing"), range: 0..<10)
            }
            try await store.delete(key)
        },

        Check("a stream of many chunks is stored whole") { store in
            let key = ObjectKey("conformance/chunks")
            let body = GeneratedBytes(totalSize: 3_000_017, chunkSize: 65_521)
            let info = try await store.put(key, body: body, contentType: "application/octet-stream")
            try require(info.size == 3_000_017, "stored \(info.size) bytes")
            let download = try await store.get(key)
            try require(download.info.size == 3_000_017, "download says \(download.info.size) bytes")
            try require(try await GeneratedBytes.checksum(of: download.body) == body.checksum(), "the bytes differ")
        },

        Check("an empty object is an object") { store in
            let key = ObjectKey("conformance/empty")
            try await store.put(key, body: GeneratedBytes(totalSize: 0), contentType: "text/plain")
            try require(try await store.head(key).size == 0, "size is not 0")
            try require(try await store.exists(key), "the empty object does not exist")
        },

        Check("a second put replaces the object") { store in
            let key = ObjectKey("conformance/replaced")
            try await store.put(key, body: GeneratedBytes(totalSize: 5000, seed: 1), contentType: "a/b")
            let second = GeneratedBytes(totalSize: 1234, seed: 2)
            try await store.put(key, body: second, contentType: "c/d")
            let head = try await store.head(key)
            try require(head.size == 1234 && head.contentType == "c/d", "head after replace: \(head)")
            try require(try await GeneratedBytes.checksum(of: store.get(key).body) == second.checksum(), "old bytes remain")
        },

        Check("a put whose body fails leaves no object and keeps the previous one") { store in
            let fresh = try ObjectKey("conformance/failed-put-\(UUID())")
            let existing = ObjectKey("conformance/failed-put-existing")
            let original = GeneratedBytes(totalSize: 10_000, seed: 7)
            try await store.put(existing, body: original, contentType: "a/b")
            for key in [fresh, existing] {
                try await requireError((any Error).self, "a put from a failing body") {
                    try await store.put(key, body: FailingBody(failAfter: 3, chunkSize: 100_000), contentType: "a/b")
                }
            }
            try require(try await !store.exists(fresh), "a failed put left an object")
            try require(try await GeneratedBytes.checksum(of: store.get(existing).body) == original.checksum(), "a failed put damaged the previous object")
        },

        Check("a missing key is notFound for head and get") { store in
            let key = try ObjectKey("conformance/missing-\(UUID())")
            for (what, operation) in [
                ("head", { _ = try await store.head(key) }),
                ("get", { _ = try await store.get(key) }),
                ("get to file", { _ = try await store.get(key, toFile: FileManager.default.temporaryDirectory.appendingPathComponent("x-\(UUID())")) }),
            ] as [(String, () async throws -> Void)] {
                try await requireError(StorageError.self, what, matching: { $0.code == .notFound }, operation)
            }
            try require(try await !store.exists(key), "exists says yes")
        },

        Check("delete removes the object, and deleting a missing key succeeds") { store in
            let key = ObjectKey("conformance/deleted")
            try await store.put(key, body: GeneratedBytes(totalSize: 10), contentType: "a/b")
            try await store.delete(key)
            try require(try await !store.exists(key), "the object is still there")
            try await store.delete(key)
        },

        Check("nested, unicode and long keys work; keys are independent") { store in
            let keys = try [
                ObjectKey("conformance/a/b/c/d.mp3"),
                ObjectKey("conformance/a/b"),  // a prefix of another key's path is itself a key
                ObjectKey("conformance/ünïcødé ♫.mp3"),
                ObjectKey("conformance/" + String(repeating: "k", count: 900)),
            ]
            for (index, key) in keys.enumerated() {
                try await store.put(key, body: GeneratedBytes(totalSize: 100 + index), contentType: "a/b")
            }
            for (index, key) in keys.enumerated() {
                try require(try await store.head(key).size == Int64(100 + index), "\(key) has the wrong size")
            }
        },

        Check("keys that could escape or confuse a store are rejected") { _ in
            let bad = ["", "/etc/passwd", "../escape", "a/../../b", "a/./b", ".", "..", "a//b", "a/", "back\\slash",
                       "nul\u{0}byte", "line\nfeed", String(repeating: "x", count: 1025)]
            for key in bad {
                try await requireError(StorageError.self, "key \(key.debugDescription)", matching: { $0.code == .invalidKey }) {
                    _ = try ObjectKey(key)
                }
            }
            _ = try ObjectKey(String(repeating: "x", count: 1024))
        },

        Check("concurrent puts to different keys all land") { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await store.put(try ObjectKey("conformance/concurrent/\(index)"), body: GeneratedBytes(totalSize: 50_000, seed: UInt64(index)), contentType: "a/b")
                    }
                }
                try await group.waitForAll()
            }
            for index in 0..<16 {
                let expected = try await GeneratedBytes(totalSize: 50_000, seed: UInt64(index)).checksum()
                try require(try await GeneratedBytes.checksum(of: store.get(ObjectKey("conformance/concurrent/\(index)")).body) == expected, "object \(index) differs")
            }
        },

        Check("a 512 MiB object is streamed in and out without being held in memory") { store in
            let key = ObjectKey("conformance/large")
            let size = 512 << 20
            let body = GeneratedBytes(totalSize: size)
            // The peak is the whole process's, so it includes what tests running alongside allocate:
            // the budget is half of the 512 MiB a store that held the object would need (more under
            // AddressSanitizer, whose shadow memory would add 64 MiB to that too), and a measurement
            // over it is taken again (`smallestPeakGrowth`): such a store is over it every time.
            try await MemoryMeasurementLock.shared.exclusively {
                let sanitized = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil
                let budget: Int64 = (sanitized ? 384 : 256) << 20
                let putPeak = try await MemoryHighWaterMark.smallestPeakGrowth(under: budget) {
                    try await store.put(key, body: body, contentType: "application/octet-stream")
                }
                try require(putPeak < budget, "the put raised peak memory by \(putPeak >> 20) MiB")

                var checksum: UInt64 = 0
                let getPeak = try await MemoryHighWaterMark.smallestPeakGrowth(under: budget) {
                    checksum = try await GeneratedBytes.checksum(of: store.get(key).body)
                }
                try require(getPeak < budget, "the get raised peak memory by \(getPeak >> 20) MiB")
                try require(checksum == (try await body.checksum()), "the large object came back different")
            }
            try await store.delete(key)
        },

        Check("a download URL, where the store makes one, serves the object with the asked Content-Disposition, and stops after its expiry") { store in
            let key = ObjectKey("conformance/presigned.mp3")
            let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0) }
            try await store.put(key, fromFile: try temporaryFile(bytes), contentType: "audio/mpeg")
            let disposition = "attachment; filename=\"caf_.mp3\"; filename*=UTF-8''caf%C3%A9.mp3"
            guard let url = try await store.downloadURL(for: key, expiresIn: .seconds(2), contentDisposition: disposition) else { return }
            let signedAt = ContinuousClock.now
            // Fetched by curl, as a client of the URL would (and keeping URLSession, whose libcurl
            // internals leak, out of the sanitized test process).
            let body = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID())")
            defer { try? FileManager.default.removeItem(at: body) }
            let fetched = try await ExternalTool.run("curl", ["-sS", "-D", "-", "-o", body.path, "-w", "%{http_code}", url.absoluteString])
            try require(fetched.status == 0 && fetched.text.hasSuffix("200"), "download URL answered \(fetched.text) \(fetched.stderr)")
            try require(fetched.text.lowercased().contains("content-disposition: \(disposition.lowercased())"), "download URL answered without the asked Content-Disposition: \(fetched.text)")
            try require(try Data(contentsOf: body) == Data(bytes), "download URL served other bytes")
            try await Task.sleep(until: signedAt + .seconds(3.5))
            let late = try await ExternalTool.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", url.absoluteString])
            try require(late.text == "403", "the download URL still answered \(late.text) after its expiry")
        },
    ]

    static func temporaryFile(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID())")
        try Data(bytes).write(to: url)
        return url
    }
}

/// A body that yields some chunks and then fails, like an upload cut off half-way.
struct FailingBody: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let failAfter: Int
    let chunkSize: Int

    struct Cut: Error {}

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        let chunkSize: Int

        mutating func next() async throws -> [UInt8]? {
            guard remaining > 0 else { throw Cut() }
            remaining -= 1
            return [UInt8](repeating: 0xAB, count: chunkSize)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: failAfter, chunkSize: chunkSize)
    }
}
