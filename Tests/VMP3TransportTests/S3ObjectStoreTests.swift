import Crypto
import Foundation
import NIOCore
import Testing
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The S3 store against an S3-compatible server (moto) on loopback.
@Suite struct S3ObjectStoreTests {
    /// The test server accepts any key; real deployments read them from the environment.
    static let credentials = AWSCredentials(accessKeyID: "vmp3-test", secretAccessKey: "vmp3-test-secret")

    static func store(_ adjust: (inout S3Configuration) -> Void = { _ in }) async throws -> S3ObjectStore {
        var configuration = try S3Configuration(url: URL(string: "s3://test-\(UUID().uuidString.prefix(8).lowercased())?endpoint=\(try TestServices.s3Endpoint.absoluteString)&region=us-east-1")!)
        adjust(&configuration)
        let store = S3ObjectStore(configuration: configuration, credentials: credentials)
        try await store.createBucketIfNeeded()
        return store
    }

    @Test("S3ObjectStore", arguments: ObjectStoreConformance.checks)
    func conformance(_ check: ObjectStoreConformance.Check) async throws {
        try await check.run(try await Self.store())
    }

    @Test("configuration from URLs: path style for a custom endpoint, virtual-hosted for AWS")
    func configuration() throws {
        let local = try S3Configuration(url: URL(string: "s3://media?endpoint=http://127.0.0.1:9000&region=eu-west-1")!)
        #expect(local.addressing == .path && local.region == "eu-west-1")
        #expect(local.url(for: ObjectKeyPath("a b/c.mp3")).absoluteString == "http://127.0.0.1:9000/media/a%20b/c.mp3")
        let aws = try S3Configuration(url: URL(string: "s3://media?region=eu-west-1")!)
        #expect(aws.addressing == .virtualHosted)
        #expect(aws.url(for: ObjectKeyPath("k")).absoluteString == "https://media.s3.eu-west-1.amazonaws.com/k")
        #expect(throws: (any Error).self) { try S3Configuration(url: URL(string: "s3://media?style=sideways")!) }
        #expect(throws: (any Error).self) { try S3Configuration(url: URL(string: "s3://media?endpoint=ftp://x")!) }
    }

    @Test("a large object is uploaded in parts and reads back whole; a presigned URL carries its expiry")
    func multipart() async throws {
        let store = try await Self.store { $0.multipartThreshold = 5 << 20; $0.partSize = 5 << 20; $0.uploadConcurrency = 2 }
        let body = GeneratedBytes(totalSize: 23 << 20)
        let info = try await store.put("big.bin", body: body, contentType: "video/mp4")
        #expect(info.size == 23 << 20)
        #expect(try await store.head("big.bin").size == 23 << 20)
        #expect(try await GeneratedBytes.checksum(of: store.get("big.bin").body) == body.checksum())
        let url = try #require(try await store.downloadURL(for: "big.bin", expiresIn: .seconds(600)))
        #expect(url.absoluteString.contains("X-Amz-Expires=600&"))
    }

    @Test("a large file is uploaded in parts from disk and downloads to an identical file")
    func multipartFromFile() async throws {
        let store = try await Self.store { $0.multipartThreshold = 5 << 20; $0.partSize = 5 << 20; $0.uploadConcurrency = 2 }
        let directory = try makeScratchDirectory()
        let source = directory.appendingPathComponent("source.bin")
        // 12 MiB and a bit: two full parts and a short last one.
        let bytes = (0..<(12 << 20) + 12345).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        try Data(bytes).write(to: source)
        let info = try await store.put("from-file.bin", fromFile: source, contentType: "video/mp4")
        #expect(info.size == Int64(bytes.count))
        let copy = directory.appendingPathComponent("copy.bin")
        _ = try await store.get("from-file.bin", toFile: copy)
        #expect(try Data(contentsOf: copy) == Data(bytes))
    }

    @Test("CRC-32 as S3's checksum headers carry it: the check value, the empty input, and in pieces")
    func crc32() {
        var check = CRC32()
        Array("123456789".utf8).withUnsafeBytes { check.update($0) }
        #expect(check.value == 0xCBF4_3926)
        #expect(check.base64 == "y/Q5Jg==")
        #expect(CRC32().base64 == "AAAAAA==")
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        var pieces = CRC32()
        bytes[..<33_333].withUnsafeBytes { pieces.update($0) }
        bytes[33_333...].withUnsafeBytes { pieces.update($0) }
        #expect(pieces == CRC32(of: ByteBuffer(bytes: bytes)))
    }

    @Test("the checksum setting: CRC-32 by default, checksum=none turns it off; payloads unsigned only over HTTPS with checksums")
    func checksumSettings() throws {
        let local = try S3Configuration(url: URL(string: "s3://media?endpoint=http://127.0.0.1:9000")!)
        #expect(local.sendsChecksums && local.signsPayloads)
        let aws = try S3Configuration(url: URL(string: "s3://media?region=eu-west-1")!)
        #expect(aws.sendsChecksums && !aws.signsPayloads)
        let plain = try S3Configuration(url: URL(string: "s3://media?region=eu-west-1&checksum=none")!)
        #expect(!plain.sendsChecksums && plain.signsPayloads)
        #expect(throws: (any Error).self) { try S3Configuration(url: URL(string: "s3://media?checksum=md5")!) }
        let body = ByteBuffer(string: "the bytes")
        #expect(RequestPayload(upload: body, aws).sha256 == SigV4Signer.unsignedPayload)
        #expect(RequestPayload(upload: body, aws).crc32 != nil)
        #expect(RequestPayload(upload: body, local).sha256 == SHA256.hash(data: Data("the bytes".utf8)).hexEncoded)
        #expect(RequestPayload(upload: body, plain).crc32 == nil)
    }

    @Test("uploads carry their CRC-32 and the server keeps it: one PUT's, and a multipart upload's of every part")
    func checksumsReachTheServer() async throws {
        // A threshold above the part size: the first read holds two parts and a piece of a third.
        let store = try await Self.store { $0.multipartThreshold = 12 << 20; $0.partSize = 5 << 20 }
        let directory = try makeScratchDirectory()
        let small = directory.appendingPathComponent("small.bin"), large = directory.appendingPathComponent("large.bin")
        try Data((0..<(1 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) }).write(to: small)
        try Data((0..<(23 << 20) + 5).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 11) }).write(to: large)
        try await store.put("small.bin", fromFile: small, contentType: "a/b")
        let info = try await store.put("large.bin", body: FileChunks(large, chunkSize: 300_001), contentType: "a/b")
        #expect(info.size == (23 << 20) + 5)
        // The server's record, read with boto3, against the CRC-32s computed by Python's zlib.
        let check = try await ExternalTool.run("python3", ["-c", """
            import base64, boto3, json, sys, zlib
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='x', aws_secret_access_key='x', region_name='us-east-1')
            def crc(data): return zlib.crc32(data).to_bytes(4, 'big')
            small, large = open(sys.argv[3], 'rb').read(), open(sys.argv[4], 'rb').read()
            parts = [large[i:i + (5 << 20)] for i in range(0, len(large), 5 << 20)]
            # A multipart object's is the CRC-32 of its parts' CRC-32s (S3's "composite" checksum).
            composite = base64.b64encode(crc(b''.join(crc(p) for p in parts))).decode()
            heads = {k: s3.head_object(Bucket=sys.argv[2], Key=k, ChecksumMode='ENABLED') for k in ('small.bin', 'large.bin')}
            got = {k: h.get('ChecksumCRC32') for k, h in heads.items()}
            want = {'small.bin': base64.b64encode(crc(small)).decode(), 'large.bin': composite}
            print(json.dumps({'got': got, 'want': want, 'parts': len(parts)}))
            """, try TestServices.s3Endpoint.absoluteString, store.configuration.bucket, small.path, large.path])
        let answer = try JSONSerialization.jsonObject(with: Data(check.text.utf8)) as? [String: Any]
        #expect(answer?["got"] as? [String: String] == answer?["want"] as? [String: String], "\(check.text) \(check.stderr)")
        #expect(answer?["parts"] as? Int == 5)
        #expect(try await GeneratedBytes.checksum(of: store.get("large.bin").body) == GeneratedBytes.checksum(of: FileChunks(large, chunkSize: 1 << 20)))
    }

    @Test("errors from S3 become typed storage errors")
    func errors() async throws {
        let store = try await Self.store()
        await #expect { _ = try await store.head("missing") } throws: { ($0 as? StorageError)?.code == .notFound }
        let gone = S3ObjectStore(configuration: try S3Configuration(url: URL(string: "s3://no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())?endpoint=\(try TestServices.s3Endpoint.absoluteString)")!), credentials: Self.credentials)
        await #expect { try await gone.put("k", body: GeneratedBytes(totalSize: 10), contentType: "a/b") } throws: { ($0 as? StorageError)?.code == .notFound }
        // With the default deadlines (60 s a request, 4 attempts): a refused connection is
        // reported after the retries' backoff, not after the deadlines.
        let down = S3ObjectStore(configuration: S3Configuration(bucket: "b", endpoint: URL(string: "http://127.0.0.1:1")!, addressing: .path), credentials: Self.credentials)
        let start = ContinuousClock.now
        await #expect { _ = try await down.head("k") } throws: { ($0 as? StorageError)?.code == .unavailable }
        // The retries take under a second; the deadlines would take 4 × 60 s. 120 s tells the two
        // apart on a loaded machine under AddressSanitizer (which has starved tests for 33 s).
        #expect(ContinuousClock.now - start < .seconds(120), "a refused connection must be reported after the retries, not after the request deadlines")
    }
}

/// S3 failures, injected by a proxy (Fixtures/fault_proxy.py) in front of the real test server.
@Suite struct S3FaultTests {
    /// Starts the proxy; returns its endpoint and the process (whose output logs each request).
    static func proxy(failures: Int, matching: String = "") async throws -> (URL, ExternalTool.Running) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fault_proxy.py").path
        // Port 0: the kernel picks a free one (a random pick could be taken by another proxy or a client).
        let process = try ExternalTool.start("python3", ["-u", script, "0", try TestServices.s3Endpoint.absoluteString, String(failures), matching])
        let port = try #require(try await process.waitForOutput(/ready on port ([0-9]+)/, timeout: .seconds(60)), "the fault proxy did not start")
        return (URL(string: "http://127.0.0.1:\(port)")!, process)
    }

    static func store(endpoint: URL, bucket: String, _ adjust: (inout S3Configuration) -> Void = { _ in }) -> S3ObjectStore {
        var configuration = S3Configuration(bucket: bucket, endpoint: endpoint, addressing: .path)
        adjust(&configuration)
        return S3ObjectStore(configuration: configuration, credentials: S3ObjectStoreTests.credentials)
    }

    @Test("S3 answering 500 twice, then 200: the request is retried and succeeds")
    func retriedAfterServerErrors() async throws {
        let direct = try await S3ObjectStoreTests.store()
        let (endpoint, proxy) = try await Self.proxy(failures: 2)
        defer { proxy.kill(SIGTERM) }
        let store = Self.store(endpoint: endpoint, bucket: direct.configuration.bucket)
        try await store.put("retried.bin", body: GeneratedBytes(totalSize: 1000), contentType: "a/b")
        #expect(try await direct.head("retried.bin").size == 1000)
        proxy.kill(SIGTERM)
        let log = try await proxy.finish().text
        #expect(log.components(separatedBy: "500 PUT").count - 1 == 2, "\(log)")
        #expect(log.contains("fwd PUT"))
    }

    @Test("a multipart upload that fails half-way is aborted: no object and no upload is left")
    func multipartAborted() async throws {
        let direct = try await S3ObjectStoreTests.store()
        // Part 2 always fails; the store retries it, gives up, and must abort the upload.
        let (endpoint, proxy) = try await Self.proxy(failures: 1000, matching: "partNumber=2&")
        defer { proxy.kill(SIGTERM) }
        let store = Self.store(endpoint: endpoint, bucket: direct.configuration.bucket) {
            $0.multipartThreshold = 5 << 20
            $0.partSize = 5 << 20
            $0.maxAttempts = 2
        }
        await #expect { try await store.put("half.bin", body: GeneratedBytes(totalSize: 16 << 20), contentType: "a/b") } throws: {
            ($0 as? StorageError)?.code == .unavailable
        }
        #expect(try await !direct.exists("half.bin"))
        proxy.kill(SIGTERM)
        let log = try await proxy.finish().text
        #expect(log.contains("fwd DELETE /\(direct.configuration.bucket)/half.bin?uploadId="), "the upload was not aborted: \(log)")
        // Ask the server itself, with boto3, whether any multipart upload is still open.
        let check = try await ExternalTool.run("python3", ["-c", """
            import boto3, sys
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='x', aws_secret_access_key='x', region_name='us-east-1')
            print(len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get('Uploads', [])))
            """, try TestServices.s3Endpoint.absoluteString, direct.configuration.bucket])
        #expect(check.text.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(check.text) \(check.stderr)")
    }
}

/// A file's bytes in chunks of a chosen size (an odd one, so that chunks straddle the parts).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let url: URL
    let chunkSize: Int

    init(_ url: URL, chunkSize: Int) {
        self.url = url
        self.chunkSize = chunkSize
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int

        mutating func next() async throws -> [UInt8]? {
            guard let handle, let data = try handle.read(upToCount: chunkSize), !data.isEmpty else { return nil }
            return [UInt8](data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: try? FileHandle(forReadingFrom: url), chunkSize: chunkSize)
    }
}
