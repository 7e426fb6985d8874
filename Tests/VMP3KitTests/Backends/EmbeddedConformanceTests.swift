import Foundation
import VMP3TestSupport
import Testing
import VMP3Conformance
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// The conformance suites against the embedded backends. VMP3TransportTests runs the same
/// suites against RabbitMQ, Redis and S3.
@Suite struct EmbeddedConformanceTests {
    @Test("FileObjectStore", arguments: ObjectStoreConformance.checks)
    func fileObjectStore(_ check: ObjectStoreConformance.Check) async throws {
        try await check.run(try FileObjectStore(root: try makeScratchDirectory()))
    }

    @Test("InMemoryMessageQueue", arguments: MessageQueueConformance.checks)
    func inMemoryMessageQueue(_ check: MessageQueueConformance.Check) async throws {
        try await check.run(InMemoryMessageQueue<ConformanceMessage>())
    }

    @Test("InMemoryJobStore", arguments: JobStoreConformance.checks)
    func inMemoryJobStore(_ check: JobStoreConformance.Check) async throws {
        try await check.run(InMemoryJobStore())
    }

    @Test("InMemoryConversionCache", arguments: ConversionCacheConformance.checks)
    func inMemoryConversionCache(_ check: ConversionCacheConformance.Check) async throws {
        try await check.run { InMemoryConversionCache(lifetime: $0) }
    }
}

@Suite struct FileObjectStoreLayoutTests {
    @Test("keys map to distinct paths with short components", arguments: [
        ("a", "a.o"), ("a/b", "a.d/b.o"), ("a/b/c", "a.d/b.d/c.o"), ("a.d/b", "a.d.d/b.o"), ("a.o", "a.o.o"),
    ])
    func paths(_ key: String, _ path: String) throws {
        #expect(FileObjectStore.relativePath(for: try ObjectKey(key)) == path)
    }

    @Test("a long segment is split into pieces no longer than a file name allows")
    func longSegment() throws {
        let path = FileObjectStore.relativePath(for: try ObjectKey("x/" + String(repeating: "é", count: 400)))
        let components = path.split(separator: "/")
        #expect(components.count == 5)  // x.d, then 800 bytes in four 200-byte pieces, the last one .o
        #expect(components.last?.hasSuffix(".o") == true)
        #expect(components.allSatisfy { $0.utf8.count <= 202 })
        #expect(components.dropFirst().dropLast().allSatisfy { $0.hasSuffix(".c") })
    }
}
