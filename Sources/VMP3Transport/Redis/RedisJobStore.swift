import Foundation
import Logging
import Synchronization
import VMP3Core

/// A `JobStore` in Redis (`redis://host:6379/0`), on hiredis.
///
/// Layout, under a prefix (default `vmp3:`):
/// - `job:ID` — the job as JSON;
/// - `owner:OWNER` — a sorted set of the owner's job ids, scored by minus the creation time in
///   microseconds, so that ascending order is newest first;
/// - `idem:["OWNER","KEY"]` — the job id an idempotency key points at, expiring after the window;
///   `job-idem:ID` names it, so that deleting the job deletes the key;
/// - `usage:OWNER` — a hash of the owner's running ``usage(of:)`` (`active`, `bytes`), changed by
///   the same script as each job; counted from the owner's jobs, once, where a store written
///   before it existed has none;
/// - `status:STATUS` — a sorted set of the ids of the jobs in that status, scored by the time of
///   their last change in microseconds (for the maintenance sweeps);
/// - `unpublished` — a sorted set of the ids of the queued jobs whose message was never
///   published (`Job.awaitsMessage`), scored by the time of their last change;
/// - channel `events:ID` — the job's events.
///
/// Every write is one Lua script, so it is atomic: create checks the idempotency key and the id,
/// and compare-and-set compares the stored version, checks the status transition and publishes
/// the event, all in one step.
public struct RedisJobStore: JobStore {
    let client: RedisClient
    public let prefix: String
    public let idempotencyWindow: Duration
    private let logger: Logger
    /// Shared by the copies of this store: one subscription for all their event streams.
    let eventHub: RedisEventHub

    public init(endpoint: RedisEndpoint, prefix: String = "vmp3:", idempotencyWindow: Duration = .seconds(24 * 3600), logger: Logger = Logger(label: "vmp3.redis")) {
        client = RedisClient(endpoint: endpoint)
        eventHub = RedisEventHub(client: client, channelPrefix: Self.channelPrefix(prefix))
        self.prefix = prefix
        self.idempotencyWindow = idempotencyWindow
        self.logger = logger
    }

    // MARK: - Keys

    private func jobKey(_ id: JobID) -> String { "\(prefix)job:\(id.rawValue)" }
    private func ownerKey(_ owner: UserID) -> String { "\(prefix)owner:\(owner.rawValue)" }
    private func activeKey(_ owner: UserID) -> String { "\(prefix)active:\(owner.rawValue)" }
    private func usageKey(_ owner: UserID) -> String { "\(prefix)usage:\(owner.rawValue)" }
    private func jobIdempotencyKey(_ id: JobID) -> String { "\(prefix)job-idem:\(id.rawValue)" }
    private func channel(_ id: JobID) -> String { Self.channelPrefix(prefix) + id.rawValue }
    /// Where every job's event channel begins (``RedisEventHub`` subscribes to all of them).
    private static func channelPrefix(_ prefix: String) -> String { "\(prefix)events:" }
    private func idempotencyKey(_ key: String, owner: UserID) -> String {
        let pair = (try? JSONEncoder().encode([owner.rawValue, key])).map { String(decoding: $0, as: UTF8.self) } ?? key
        return "\(prefix)idem:\(pair)"
    }

    // MARK: - JobStore

    @discardableResult
    public func create(_ job: Job, idempotencyKey key: String?, activeLimit: Int?) async throws -> JobCreation {
        var stored = job
        stored.version = 1
        let reply = try await run(Scripts.create, keys: [
            jobKey(job.id), ownerKey(job.owner), key.map { idempotencyKey($0, owner: job.owner) } ?? "", jobIdempotencyKey(job.id),
            activeKey(job.owner), usageKey(job.owner),
        ], arguments: [
            .bytes(try encode(stored)), .text(String(Self.score(job.createdAt))), .text(job.id.rawValue),
            .text(String(Int(idempotencyWindow.seconds))), .bytes(try encode(JobEvent(kind: .created, job: stored))), .text(channel(job.id)),
            .text(prefix), .text(stored.status.rawValue), .text(String(Self.microseconds(stored.updatedAt))),
            .text(activeLimit.map { String(max(0, $0)) } ?? ""),
        ])
        switch reply.elements.first?.text {
        case "created": return JobCreation(job: stored, created: true)
        case "existing": return JobCreation(job: try decode(Job.self, reply.elements[1]), created: false)
        case "duplicate": throw JobStoreError(code: .duplicate, message: "job \(job.id) exists already")
        case "active_limit": throw JobStoreError.activeLimitReached(job.owner, limit: activeLimit ?? 0)
        default: throw unexpected(reply, "create")
        }
    }

    public func get(_ id: JobID) async throws -> Job? {
        let reply = try await send(["GET", .text(jobKey(id))])
        if reply == .null { return nil }
        return try decode(Job.self, reply)
    }

    public func job(forIdempotencyKey key: String, owner: UserID) async throws -> Job? {
        let reply = try await send(["GET", .text(idempotencyKey(key, owner: owner))])
        guard let id = reply.text.flatMap(JobID.init(rawValue:)) else { return nil }
        return try await get(id)
    }

    public func list(owner: UserID, limit: Int, cursor: String?) async throws -> JobPage {
        let limit = max(0, limit)
        let after = cursor.flatMap(JobListPosition.init(cursor:))
        let start = after.map { Self.score($0.createdAt) } ?? Int64.min
        var ids: [String] = []
        var offset = 0
        let batch = limit + 16
        // Collect limit + 1 ids after the cursor (one more, to know whether there is a next page).
        while ids.count <= limit {
            let reply = try await send([
                "ZRANGEBYSCORE", .text(ownerKey(owner)), .text(after == nil ? "-inf" : String(start)), "+inf",
                "WITHSCORES", "LIMIT", .text(String(offset)), .text(String(batch)),
            ])
            let elements = reply.elements
            for pair in stride(from: 0, to: elements.count - 1, by: 2) {
                guard let member = elements[pair].text, let score = elements[pair + 1].text.flatMap({ Int64($0) }) else { continue }
                // Equal scores sort by id: skip those up to and including the cursor's.
                if let after, score == start, member <= after.id.rawValue { continue }
                ids.append(member)
            }
            if elements.count < batch * 2 { break }
            offset += batch
        }
        let page = Array(ids.prefix(limit))
        var jobs: [Job] = []
        if !page.isEmpty {
            let reply = try await send(["MGET"] + page.compactMap(JobID.init(rawValue:)).map { .text(jobKey($0)) })
            jobs = try reply.elements.filter { $0 != .null }.map { try decode(Job.self, $0) }
        }
        let next = ids.count > limit ? jobs.last.map { JobListPosition($0).cursor } : nil
        return JobPage(jobs: jobs, nextCursor: next)
    }

    public func replace(_ expected: Job, with new: Job) async throws -> Job {
        var stored = new
        stored.version = expected.version + 1
        stored.updatedAt = Date()
        let event = JobEvent.change(from: expected, to: stored)
        let reply = try await run(Scripts.replace, keys: [jobKey(expected.id)], arguments: [
            .text(String(expected.version)), .bytes(try encode(stored)), .bytes(try event.map { try encode($0) } ?? []), .text(channel(expected.id)),
            .text(prefix), .text(String(Self.microseconds(stored.updatedAt))),
        ])
        switch reply.elements.first?.text {
        case "replaced":
            return stored
        case "missing":
            throw JobStoreError(code: .notFound, message: "no job \(expected.id)")
        case "conflict":
            throw JobStoreError(code: .conflict, message: "job \(expected.id) changed since version \(expected.version)")
        case "identity":
            throw JobStoreError(code: .invalidTransition, message: "a job's id, owner and creation time cannot change")
        case "transition":
            let from = reply.elements.count > 1 ? reply.elements[1].text ?? "?" : "?"
            throw JobStoreError(code: .invalidTransition, message: "job \(expected.id) cannot go from \(from) to \(new.status.rawValue)")
        default:
            throw unexpected(reply, "replace")
        }
    }

    public func usage(of owner: UserID) async throws -> JobUsage {
        let reply = try await run(Scripts.usage, keys: [usageKey(owner), ownerKey(owner)], arguments: [.text(prefix)])
        let numbers = reply.elements.map { element -> Int64? in
            switch element {
            case .integer(let value): value
            default: element.text.flatMap { Int64($0) }
            }
        }
        guard numbers.count == 2, let active = numbers[0], let bytes = numbers[1] else { throw unexpected(reply, "usage") }
        return JobUsage(activeJobs: Int(active), bytesHeld: bytes)
    }

    public func jobs(withStatus statuses: Set<JobStatus>, updatedBefore before: Date, limit: Int) async throws -> [Job] {
        guard limit > 0 else { return [] }
        var found: [Job] = []
        for status in statuses.sorted(by: { $0.rawValue < $1.rawValue }) {
            found += try await indexedJobs(in: "\(prefix)status:\(status.rawValue)", before: before, limit: limit).filter { $0.status == status }
        }
        return Array(found.sorted { $0.updatedAt < $1.updatedAt }.prefix(limit))
    }

    /// The jobs of the sorted set `set` (ids scored by their last change) changed before
    /// `before`, at most `limit`, in the set's order.
    private func indexedJobs(in set: String, before: Date, limit: Int) async throws -> [Job] {
        let ids = try await send([
            "ZRANGEBYSCORE", .text(set), "-inf", .text("(" + String(Self.microseconds(before))), "LIMIT", "0", .text(String(limit)),
        ]).elements.compactMap(\.text)
        guard !ids.isEmpty else { return [] }
        let records = try await send(["MGET"] + ids.compactMap(JobID.init(rawValue:)).map { .text(jobKey($0)) }).elements
        var jobs: [Job] = []
        for (id, record) in zip(ids, records) {
            if record == .null {
                // Deleted without its index entry (by an older version): tidy up.
                _ = try? await send(["ZREM", .text(set), .text(id)])
                continue
            }
            jobs.append(try decode(Job.self, record))
        }
        return jobs
    }

    public func unpublishedJobs(updatedBefore before: Date, limit: Int) async throws -> [Job] {
        guard limit > 0 else { return [] }
        // Once per store: the queued jobs a version before this index left, listed in it.
        _ = try await run(Scripts.indexUnpublished, keys: [], arguments: [.text(prefix)])
        return try await indexedJobs(in: "\(prefix)unpublished", before: before, limit: limit).filter(\.awaitsMessage)
    }

    public func delete(_ id: JobID) async throws {
        _ = try await run(Scripts.delete, keys: [jobKey(id), jobIdempotencyKey(id)], arguments: [.text(prefix), .text(id.rawValue)])
    }

    private func webhookSecretKey(_ owner: UserID) -> String { "\(prefix)webhook-secret:\(owner.rawValue)" }

    public func webhookSecretGeneration(of owner: UserID) async throws -> Int {
        switch try await send(["GET", .text(webhookSecretKey(owner))]) {
        case .null: return 0
        case let reply:
            guard let text = reply.text, let generation = Int(text) else {
                throw JobStoreError(code: .unavailable, message: "Redis holds no number at \(webhookSecretKey(owner))")
            }
            return generation
        }
    }

    public func rotateWebhookSecret(of owner: UserID) async throws -> Int {
        guard case .integer(let generation) = try await send(["INCR", .text(webhookSecretKey(owner))]) else {
            throw JobStoreError(code: .unavailable, message: "Redis did not count \(webhookSecretKey(owner))")
        }
        return Int(generation)
    }

    /// From the process's one subscription to all the store's event channels (`RedisEventHub`).
    public func events(for id: JobID) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        try await eventHub.events(for: id)
    }

    /// Closes the event subscription (its thread ends) and every connection the store opened,
    /// idle or in use (a command running now fails); commands after it fail as `unavailable`.
    public func shutdown() async {
        eventHub.close()
        client.shutdown()
    }

    // MARK: - Plumbing

    private func send(_ arguments: [RedisArgument]) async throws -> RedisReply {
        try await client.send(arguments) { JobStoreError(code: .unavailable, message: $0) }
    }

    private func run(_ script: String, keys: [String], arguments: [RedisArgument]) async throws -> RedisReply {
        try await send(["EVAL", .text(script), .text(String(keys.count))] + keys.map { .text($0) } + arguments)
    }

    private func encode(_ value: some Encodable) throws -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw JobStoreError(code: .corrupt, message: "cannot encode \(type(of: value)): \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ reply: RedisReply) throws -> T {
        guard case .string(let bytes) = reply else { throw unexpected(reply, "read \(T.self)") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw JobStoreError(code: .corrupt, message: "a stored \(T.self) cannot be read: \(error)")
        }
    }

    private func unexpected(_ reply: RedisReply, _ what: String) -> JobStoreError {
        JobStoreError(code: .unavailable, message: "unexpected reply from Redis to \(what): \(reply)")
    }

    /// Minus microseconds since 1970: ascending scores list newest first. Exact in a double up to
    /// the year 2255.
    static func score(_ date: Date) -> Int64 {
        -microseconds(date)
    }

    /// Microseconds since 1970.
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}

/// The Lua scripts behind the store's writes.
enum Scripts {
    /// The statuses of jobs not ended, as a Lua set, made from ``JobStatus/isFinal``.
    static let activeStatuses: String = {
        "{" + JobStatus.allCases.filter { !$0.isFinal }.map { "['\($0.rawValue)']=true" }.joined(separator: ",") + "}"
    }()

    /// The Lua functions the scripts share: `held(job)`, what one decoded job adds to its owner's
    /// usage (`active, bytes`: the rule of `JobUsage(of:)`), and `awaitsMessage(job)` (the rule
    /// of `Job.awaitsMessage`), written again in Lua; `JobStoreConformance` checks that both
    /// agree with the Swift rules after every kind of change.
    static let prelude = """
    local function held(job)
      local active = (\(activeStatuses))[job['status']] == true
      local bytes = 0
      if active and type(job['sourceSize']) == 'number' and job['sourceSize'] > 0 then bytes = bytes + job['sourceSize'] end
      local output = job['output']
      if job['status'] == 'succeeded' and type(output) == 'table' and type(output['byteCount']) == 'number' and output['byteCount'] > 0 then
        bytes = bytes + output['byteCount']
      end
      return active and 1 or 0, bytes
    end
    local function awaitsMessage(job)
      return job['status'] == 'queued' and job['messagePublished'] ~= true
    end
    local function addUsage(key, active, bytes)
      if active ~= 0 then redis.call('HINCRBY', key, 'active', string.format('%d', active)) end
      if bytes ~= 0 then redis.call('HINCRBY', key, 'bytes', string.format('%d', bytes)) end
    end
    """

    /// KEYS: the owner's usage, the owner's index. ARGV: prefix. Returns `{active, bytes}`; where
    /// there is no total yet (a store written before totals were kept) counts it from the
    /// owner's jobs and keeps it, in the same atomic step.
    static let usage = prelude + "\n" + """
    if redis.call('EXISTS', KEYS[1]) == 0 then
      local active, bytes = 0, 0
      for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
        local body = redis.call('GET', ARGV[1] .. 'job:' .. id)
        if body then
          local a, b = held(cjson.decode(body))
          active, bytes = active + a, bytes + b
        end
      end
      redis.call('HSET', KEYS[1], 'active', string.format('%d', active), 'bytes', string.format('%d', bytes))
    end
    local values = redis.call('HMGET', KEYS[1], 'active', 'bytes')
    return {tonumber(values[1]) or 0, tonumber(values[2]) or 0}
    """

    /// KEYS: none. ARGV: prefix. The first time it runs on a store (the marker
    /// `unpublished:indexed` is set with it), lists in `unpublished` the queued jobs awaiting
    /// their message that a version before that index left, with the scores of `status:queued`.
    static let indexUnpublished = prelude + "\n" + """
    if redis.call('SET', ARGV[1] .. 'unpublished:indexed', '1', 'NX') then
      local queued = redis.call('ZRANGE', ARGV[1] .. 'status:queued', 0, -1, 'WITHSCORES')
      for i = 1, #queued, 2 do
        local body = redis.call('GET', ARGV[1] .. 'job:' .. queued[i])
        if body and awaitsMessage(cjson.decode(body)) then
          redis.call('ZADD', ARGV[1] .. 'unpublished', queued[i + 1], queued[i])
        end
      end
    end
    return 1
    """

    /// KEYS: job, owner index, idempotency key ('' for none), job's idempotency-key name, the
    /// owner's set of active job ids, the owner's usage.
    /// ARGV: job JSON, score, id, window seconds, event JSON, channel, prefix, status, update
    /// time, active limit ('' for none).
    ///
    /// The active set gains a job here and loses it when it ends (replace) or goes (delete). At
    /// the limit, members that are gone or ended are pruned before the set is counted again, so
    /// that a set written before this index existed, or left behind, corrects itself.
    static let create = prelude + "\n" + """
    if KEYS[3] ~= '' then
      local existing = redis.call('GET', KEYS[3])
      if existing then
        local job = redis.call('GET', ARGV[7] .. 'job:' .. existing)
        if job then return {'existing', job} end
      end
    end
    if redis.call('EXISTS', KEYS[1]) == 1 then return {'duplicate'} end
    if ARGV[10] ~= '' then
      local limit = tonumber(ARGV[10])
      if redis.call('SCARD', KEYS[5]) >= limit then
        local active = \(activeStatuses)
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
          local body = redis.call('GET', ARGV[7] .. 'job:' .. id)
          if not body or not active[cjson.decode(body)['status']] then redis.call('SREM', KEYS[5], id) end
        end
        if redis.call('SCARD', KEYS[5]) >= limit then return {'active_limit'} end
      end
    end
    -- An owner with no jobs starts a total here; one with jobs but no total (written before
    -- totals were kept) gets it counted at its first read (the usage script).
    local job = cjson.decode(ARGV[1])
    if redis.call('EXISTS', KEYS[6]) == 1 or redis.call('ZCARD', KEYS[2]) == 0 then
      local active, bytes = held(job)
      redis.call('HSETNX', KEYS[6], 'active', '0')
      addUsage(KEYS[6], active, bytes)
    end
    if awaitsMessage(job) then redis.call('ZADD', ARGV[7] .. 'unpublished', ARGV[9], ARGV[3]) end
    redis.call('SET', KEYS[1], ARGV[1])
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
    redis.call('SADD', KEYS[5], ARGV[3])
    redis.call('ZADD', ARGV[7] .. 'status:' .. ARGV[8], ARGV[9], ARGV[3])
    if KEYS[3] ~= '' then
      redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
      redis.call('SET', KEYS[4], KEYS[3], 'EX', ARGV[4])
    end
    redis.call('PUBLISH', ARGV[6], ARGV[5])
    return {'created'}
    """

    /// The transitions of ``JobStatus/canTransition(to:)`` as a Lua table, made from the Swift
    /// definition so that the two cannot disagree.
    static let transitions: String = {
        let entries = JobStatus.allCases.flatMap { from in
            JobStatus.allCases.filter { from.canTransition(to: $0) }.map { "['\(from.rawValue)>\($0.rawValue)']=true" }
        }
        return "{" + entries.joined(separator: ",") + "}"
    }()

    /// KEYS: job. ARGV: expected version, new job JSON, event JSON ('' for none), channel,
    /// prefix, update time.
    static let replace = prelude + "\n" + """
    local current = redis.call('GET', KEYS[1])
    if not current then return {'missing'} end
    local old = cjson.decode(current)
    if tonumber(old['version']) ~= tonumber(ARGV[1]) then return {'conflict'} end
    local new = cjson.decode(ARGV[2])
    if new['id'] ~= old['id'] or new['owner'] ~= old['owner'] or new['createdAt'] ~= old['createdAt'] then return {'identity'} end
    local allowed = \(transitions)
    if not allowed[old['status'] .. '>' .. new['status']] then return {'transition', old['status']} end
    redis.call('SET', KEYS[1], ARGV[2])
    local usage = ARGV[5] .. 'usage:' .. new['owner']
    if redis.call('EXISTS', usage) == 1 then
      local oldActive, oldBytes = held(old)
      local newActive, newBytes = held(new)
      addUsage(usage, newActive - oldActive, newBytes - oldBytes)
    end
    if awaitsMessage(new) then
      redis.call('ZADD', ARGV[5] .. 'unpublished', ARGV[6], new['id'])
    else
      redis.call('ZREM', ARGV[5] .. 'unpublished', new['id'])
    end
    redis.call('ZREM', ARGV[5] .. 'status:' .. old['status'], old['id'])
    redis.call('ZADD', ARGV[5] .. 'status:' .. new['status'], ARGV[6], new['id'])
    if not (\(activeStatuses))[new['status']] then redis.call('SREM', ARGV[5] .. 'active:' .. new['owner'], new['id']) end
    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[3]) end
    return {'replaced'}
    """

    /// KEYS: job, job's idempotency-key name. ARGV: prefix, id.
    static let delete = prelude + "\n" + """
    local current = redis.call('GET', KEYS[1])
    if current then
      local job = cjson.decode(current)
      local usage = ARGV[1] .. 'usage:' .. job['owner']
      if redis.call('EXISTS', usage) == 1 then
        local active, bytes = held(job)
        addUsage(usage, -active, -bytes)
      end
      redis.call('ZREM', ARGV[1] .. 'owner:' .. job['owner'], ARGV[2])
      redis.call('ZREM', ARGV[1] .. 'status:' .. job['status'], ARGV[2])
      redis.call('ZREM', ARGV[1] .. 'unpublished', ARGV[2])
      redis.call('SREM', ARGV[1] .. 'active:' .. job['owner'], ARGV[2])
    end
    local idem = redis.call('GET', KEYS[2])
    if idem then redis.call('DEL', idem) end
    redis.call('DEL', KEYS[1], KEYS[2])
    return 1
    """
}
