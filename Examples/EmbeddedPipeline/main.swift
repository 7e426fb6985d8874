// The whole VMP3 pipeline in one program, on embedded backends: no servers.
//
//     swift run EmbeddedPipeline VIDEO
//
// Wires file storage, the in-memory job store and queue, and a conversion worker; submits one
// video as a job, follows its progress, and prints the finished job as JSON. The services
// compose exactly these types, with networked backends in place of the embedded ones.
import Foundation
import Logging
import ServiceLifecycle
import VMP3Kit

func run(video: URL) async throws -> Job {
    let data = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-embedded-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: data) }

    // The backends and the worker that takes jobs from the queue.
    let backends = try Backends.embedded(storageDirectory: data)
    let worker = ConversionWorker(storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes)
    let services = ServiceGroup(services: [worker], logger: Logger(label: "embedded"))
    let running = Task { try await services.run() }
    defer { running.cancel() }

    // Submit the video, then follow the job until it ends.
    let jobs = backends.jobService
    let job = try await jobs.submit(.init(owner: "me", sourceName: video.lastPathComponent), sourceFile: video).job
    for try await event in try await jobs.watch(job.id, owner: "me") {
        if event.kind == .progress, let progress = event.job.progress {
            FileHandle.standardError.write(Data(String(format: "\rconverting %3.0f%%", progress * 100).utf8))
        }
    }
    FileHandle.standardError.write(Data("\n".utf8))

    // Fetch the MP3 from storage.
    let finished = try await jobs.job(job.id, owner: "me")
    if let output = finished.output {
        let mp3 = video.deletingPathExtension().appendingPathExtension("mp3")
        try await backends.storage.get(output.key, toFile: mp3)
        FileHandle.standardError.write(Data("wrote \(mp3.path)\n".utf8))
    }
    await services.triggerGracefulShutdown()
    try await running.value
    return finished
}

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: EmbeddedPipeline VIDEO\n".utf8))
    exit(64)
}
do {
    let job = try await run(video: URL(fileURLWithPath: CommandLine.arguments[1]))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(job), as: UTF8.self))
    exit(job.status == .succeeded ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("EmbeddedPipeline: \(error)\n".utf8))
    exit(1)
}
