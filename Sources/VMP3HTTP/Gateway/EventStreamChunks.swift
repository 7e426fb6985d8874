import Logging
import ServiceLifecycle
import VMP3Core

/// The text of one job's server-sent event stream, in order: a `retry:` hint, then each event
/// (`id:` the job's version, `event: status|progress`, `data:` the job as JSON), a comment every
/// `heartbeat` while nothing happens, and the end — when the job has ended, or after `lifetime`
/// (the client then reconnects and starts again from the job's current state, which is always
/// the first event of a stream, so that nothing is missed).
struct EventStreamChunks: Sendable {
    let events: AsyncThrowingStream<JobEvent, any Error>
    let heartbeat: Duration
    let lifetime: Duration
    let logger: Logger

    /// The client's reconnection delay, sent first (`retry:`), in milliseconds.
    static let retryMilliseconds = 2000

    func stream() -> AsyncStream<String> {
        let (chunks, output) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(256))
        output.yield("retry: \(Self.retryMilliseconds)\n\n")
        let producer = Task {
            // A server shutting down gracefully waits for its requests: end the stream (the
            // client reconnects elsewhere, or later) instead of holding the shutdown up for the
            // rest of its lifetime.
            await withGracefulShutdownHandler {
                await produce(into: output)
            } onGracefulShutdown: {
                output.finish()
            }
            output.finish()
        }
        output.onTermination = { _ in producer.cancel() }
        return chunks
    }

    private func produce(into output: AsyncStream<String>.Continuation) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await event in events {
                        output.yield(try Self.text(of: event))
                    }
                } catch is CancellationError {
                } catch {
                    logger.warning("event stream ended early", metadata: ["error": "\(error)"])
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: heartbeat)) != nil {
                    output.yield(": keep-alive\n\n")
                }
            }
            group.addTask {
                try? await Task.sleep(for: lifetime)
            }
            // The first to end (the job's events, or the lifetime) ends the stream.
            _ = await group.next()
            group.cancelAll()
        }
    }

    static func text(of event: JobEvent) throws -> String {
        let data = try JobDocument.makeEncoder().encode(JobDocument(event.job))
        let kind = event.kind == .progress ? "progress" : "status"
        return "id: \(event.job.version)\nevent: \(kind)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
