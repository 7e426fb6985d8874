// The Swift half of Benchmarks/transport_benchmark.py: measures VMP3Transport's backends against
// running servers and prints one JSON object per measurement on standard output.
//
//   vmp3-transport-bench amqp AMQP_URL MESSAGES
//   vmp3-transport-bench redis REDIS_URL JOBS CONCURRENCY
//   vmp3-transport-bench s3 S3_ENDPOINT FILE
//   vmp3-transport-bench s3-upload S3_ENDPOINT BUCKET FILE [TIMES]   (uploads into a bucket that exists)
import Foundation
import VMP3Core
import VMP3Transport

func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Peak resident memory of this process so far, in bytes.
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func time(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return seconds(ContinuousClock.now - start)
}

func benchmarkAMQP(url: URL, messages: Int) async throws {
    let queue = AMQPMessageQueue<JobMessage>(endpoint: try AMQPEndpoint(url: url), name: "bench.\(UUID().uuidString.prefix(8))")
    let sequential = try await time {
        for _ in 0..<messages { try await queue.publish(JobMessage(jobID: JobID())) }
    }
    emit(["metric": "amqp.publish_confirm.sequential", "count": messages, "seconds": sequential, "per_second": Double(messages) / sequential])
    let concurrency = 16
    let concurrent = try await time {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for _ in stride(from: worker, to: messages, by: concurrency) { try await queue.publish(JobMessage(jobID: JobID())) }
                }
            }
            try await group.waitForAll()
        }
    }
    emit(["metric": "amqp.publish_confirm.concurrent", "concurrency": concurrency, "count": messages, "seconds": concurrent, "per_second": Double(messages) / concurrent])
    let subscription = try await queue.subscribe(prefetch: 100)
    let total = 2 * messages
    let consumed = try await time {
        var received = 0
        for try await delivery in subscription {
            try await delivery.acknowledge()
            received += 1
            if received == total { break }
        }
    }
    await subscription.close()
    emit(["metric": "amqp.consume_ack", "prefetch": 100, "count": total, "seconds": consumed, "per_second": Double(total) / consumed])
}

func benchmarkRedis(url: URL, jobs: Int, concurrency: Int) async throws {
    let store = RedisJobStore(endpoint: try RedisEndpoint(url: url), prefix: "bench:\(UUID().uuidString.prefix(8)):")
    let output = JobOutput(key: ObjectKey("outputs/x.mp3"), result: ConversionResult(
        output: URL(fileURLWithPath: "/dev/null"), duration: 1, byteCount: 1000, sampleRate: 44100, channels: .stereo,
        encoding: .constantBitRate(kbps: 192), tags: AudioTags(), sourceStreamIndex: 1, sourceCodec: "aac", elapsed: 0.01
    ))
    // Five operations a job goes through: create, read, claim, progress, succeed.
    let elapsed = try await time {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for index in stride(from: worker, to: jobs, by: concurrency) {
                        let job = Job(owner: UserID(rawValue: "bench-\(index % 10)"), source: Job.sourceKey(for: JobID()))
                        _ = try await store.create(job, idempotencyKey: nil)
                        _ = try await store.get(job.id)
                        _ = try await store.claim(job.id, holder: "bench", leaseDuration: .seconds(60))
                        _ = try await store.recordProgress(job.id, holder: "bench", fraction: 0.5)
                        _ = try await store.succeed(job.id, holder: "bench", output: output)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let operations = jobs * 5
    emit(["metric": "redis.job_store", "concurrency": concurrency, "count": operations, "seconds": elapsed, "per_second": Double(operations) / elapsed])
}

func benchmarkS3(endpoint: URL, file: URL) async throws {
    let bucket = "bench-\(UUID().uuidString.prefix(8).lowercased())"
    let configuration = try S3Configuration(url: URL(string: "s3://\(bucket)?endpoint=\(endpoint.absoluteString)&region=us-east-1")!)
    let store = S3ObjectStore(configuration: configuration, credentials: AWSCredentials(accessKeyID: "bench", secretAccessKey: "bench-secret"))
    try await store.createBucketIfNeeded()
    let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
    let key = ObjectKey("bench/object.bin")
    let upload = try await time { _ = try await store.put(key, fromFile: file, contentType: "application/octet-stream") }
    emit(["metric": "s3.upload", "bytes": size, "seconds": upload, "mb_per_second": Double(size) / 1e6 / upload, "peak_rss": peakRSS()])
    let target = file.deletingLastPathComponent().appendingPathComponent("downloaded.bin")
    let download = try await time { _ = try await store.get(key, toFile: target) }
    emit(["metric": "s3.download", "bytes": size, "seconds": download, "mb_per_second": Double(size) / 1e6 / download, "peak_rss": peakRSS()])
    try? FileManager.default.removeItem(at: target)
    try await store.delete(key)
}

func benchmarkS3Upload(endpoint: URL, bucket: String, file: URL, times: Int) async throws {
    let configuration = try S3Configuration(url: URL(string: "s3://\(bucket)?endpoint=\(endpoint.absoluteString)&region=us-east-1")!)
    let store = S3ObjectStore(configuration: configuration, credentials: AWSCredentials(accessKeyID: "bench", secretAccessKey: "bench-secret"))
    let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
    for _ in 0..<times {
        let key = try ObjectKey("bench/\(UUID().uuidString).bin")
        let upload = try await time { _ = try await store.put(key, fromFile: file, contentType: "application/octet-stream") }
        emit(["metric": "s3.upload", "bytes": size, "seconds": upload, "mb_per_second": Double(size) / 1e6 / upload, "peak_rss": peakRSS()])
        try await store.delete(key)
    }
}

let arguments = CommandLine.arguments.dropFirst().map { $0 }
do {
    switch (arguments.first, arguments.count) {
    case ("amqp", 3): try await benchmarkAMQP(url: URL(string: arguments[1])!, messages: Int(arguments[2])!)
    case ("redis", 4): try await benchmarkRedis(url: URL(string: arguments[1])!, jobs: Int(arguments[2])!, concurrency: Int(arguments[3])!)
    case ("s3", 3): try await benchmarkS3(endpoint: URL(string: arguments[1])!, file: URL(fileURLWithPath: arguments[2]))
    case ("s3-upload", 4), ("s3-upload", 5):
        try await benchmarkS3Upload(endpoint: URL(string: arguments[1])!, bucket: arguments[2], file: URL(fileURLWithPath: arguments[3]), times: arguments.count == 5 ? Int(arguments[4]) ?? 1 : 1)
    default:
        FileHandle.standardError.write(Data("usage: vmp3-transport-bench amqp URL N | redis URL JOBS CONCURRENCY | s3 ENDPOINT FILE | s3-upload ENDPOINT BUCKET FILE [TIMES]\n".utf8))
        exit(64)
    }
} catch {
    FileHandle.standardError.write(Data("vmp3-transport-bench: \(error)\n".utf8))
    exit(1)
}
