import Foundation
import Synchronization
import VMP3Core

/// One Redis subscription for every event stream of a process: a `PSUBSCRIBE` to the store's
/// event channels on one connection and one thread, fanned out in memory to each job's
/// watchers, so that a thousand open event streams hold one Redis connection, not a thousand.
///
/// Opened with the first watcher and kept; if its connection fails, every watcher's stream ends
/// with an error (an event-stream client reconnects and gets the job's state first) and the next
/// watcher opens it anew. Each watcher keeps at most the newest 64 undelivered events, so a client
/// that reads slowly costs bounded memory and still sees the last state.
final class RedisEventHub: Sendable {
    typealias Continuation = AsyncThrowingStream<JobEvent, any Error>.Continuation

    private struct State {
        var watchers: [String: [UUID: Continuation]] = [:]
        var subscription: RedisSubscription?
        var opening: Task<Void, any Error>?
    }

    private let client: RedisClient
    /// The channels' common beginning (`PREFIX events:`); the job id follows it.
    private let channelPrefix: String
    private let state = Mutex(State())

    init(client: RedisClient, channelPrefix: String) {
        self.client = client
        self.channelPrefix = channelPrefix
    }

    /// The job's events from the moment this returns.
    func events(for id: JobID) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<JobEvent, any Error>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let token = UUID()
        // Registered only on an open subscription: one that failed meanwhile has finished its
        // watchers already and would never finish this one.
        while true {
            try await open()
            let registered = state.withLock { state -> Bool in
                guard state.subscription != nil else { return false }
                state.watchers[id.rawValue, default: [:]][token] = continuation
                return true
            }
            if registered { break }
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.watchers[id.rawValue]?[token] = nil
                if state.watchers[id.rawValue]?.isEmpty == true { state.watchers[id.rawValue] = nil }
            }
        }
        return stream
    }

    /// Watchers registered now (for tests).
    var watcherCount: Int { state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } } }

    /// Opens the subscription unless it is open, one opening at a time.
    private func open() async throws {
        let task = state.withLock { state -> Task<Void, any Error>? in
            if state.subscription != nil { return nil }
            if let opening = state.opening { return opening }
            let opening = Task { try await self.subscribe() }
            state.opening = opening
            return opening
        }
        guard let task else { return }
        do {
            try await task.value
        } catch {
            state.withLock { state in
                if state.opening == task { state.opening = nil }
            }
            throw error
        }
    }

    private func subscribe() async throws {
        let pattern = Self.escapedForPattern(channelPrefix) + "*"
        let subscription = try await RedisSubscription.open(client: client, pattern: pattern)
        state.withLock { state in
            state.subscription = subscription
            state.opening = nil
        }
        let prefix = channelPrefix
        subscription.start { [weak self] channel, payload in
            guard let self, channel.hasPrefix(prefix) else { return }
            let id = String(channel.dropFirst(prefix.count))
            let watchers = self.state.withLock { Array(($0.watchers[id] ?? [:]).values) }
            guard !watchers.isEmpty, let event = try? JSONDecoder().decode(JobEvent.self, from: Data(payload)) else { return }
            for watcher in watchers { watcher.yield(event) }
        } onEnd: { [weak self] error in
            guard let self else { return }
            let ended = self.state.withLock { state -> [Continuation] in
                defer {
                    state.watchers = [:]
                    state.subscription = nil
                }
                return state.watchers.values.flatMap(\.values)
            }
            let failure = JobStoreError(code: .unavailable, message: "the event subscription failed: \(error.map { "\($0)" } ?? "closed")")
            for watcher in ended { watcher.finish(throwing: failure) }
        }
    }

    /// `text` with the glob characters of Redis patterns escaped, so that a prefix holding them
    /// matches only itself.
    static func escapedForPattern(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\^".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Closes the subscription, ending its thread; open event streams end with `unavailable`.
    func close() {
        state.withLock { $0.subscription }?.close()
    }

    deinit {
        close()
    }
}
