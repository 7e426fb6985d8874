import CRabbitMQ
import Foundation

/// A message as it came from the broker.
struct AMQPMessage {
    var deliveryTag: UInt64
    var body: [UInt8]
    var redelivered: Bool
    /// String and integer headers.
    var headers: [String: String]
}

/// Owns one librabbitmq connection with one channel; closes and frees it in `deinit`.
///
/// Not thread-safe, like librabbitmq: each is used by the one thread of ``AMQPConnectionThread``.
final class AMQPConnection {
    private let state: amqp_connection_state_t
    private var open = false
    /// The next publish's sequence number under publisher confirms.
    private var nextPublishSequence: UInt64 = 1

    // Method ids (cast macros in amqp_framing.h, which Swift cannot import).
    private static let basicAck: UInt32 = 0x003C_0050
    private static let basicNack: UInt32 = 0x003C_0078
    private static let basicGetOk: UInt32 = 0x003C_0047
    private static let channelClose: UInt32 = 0x0014_0028
    private static let connectionClose: UInt32 = 0x000A_0032
    private static let replySuccess: Int32 = 200
    // Basic property flags.
    private static let contentTypeFlag: UInt32 = 1 << 15
    private static let headersFlag: UInt32 = 1 << 13
    private static let deliveryModeFlag: UInt32 = 1 << 12

    /// Connects, logs in and opens channel 1 (blocking).
    init(_ endpoint: AMQPEndpoint) throws {
        guard let state = amqp_new_connection() else { throw AMQPError("cannot allocate a connection") }
        self.state = state
        guard let socket = amqp_tcp_socket_new(state) else { throw AMQPError("cannot allocate a socket") }
        var timeout = timeval(tv_sec: Int(endpoint.connectTimeout.components.seconds), tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError("cannot connect to \(endpoint.host):\(endpoint.port): \(String(cString: amqp_error_string2(status)))")
        }
        try check(vmp3_amqp_login_plain(state, endpoint.virtualHost, 0, 131_072, Int32(endpoint.heartbeat), endpoint.user, endpoint.password), "login")
        amqp_channel_open(state, 1)
        try check(amqp_get_rpc_reply(state), "channel.open")
        open = true
    }

    deinit {
        if open {
            amqp_channel_close(state, 1, Self.replySuccess)
            amqp_connection_close(state, Self.replySuccess)
        }
        amqp_destroy_connection(state)
    }

    /// Declares `name` (a durable quorum queue dead-lettering to `name.dead`, with at most
    /// `deliveryLimit` deliveries of a message, if set) and `name.dead`.
    func declareQueues(_ name: String, deliveryLimit: Int? = nil) throws {
        let dead = name + ".dead"
        var arguments: [String: TableValue] = ["x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": .string(dead)]
        if let deliveryLimit { arguments["x-delivery-limit"] = .integer(Int64(deliveryLimit)) }
        try withTable(arguments) { arguments in
            try withBytes(name) { queue in
                _ = amqp_queue_declare(state, 1, queue, 0, 1, 0, 0, arguments)
                try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
            }
        }
        try withTable(["x-queue-type": "quorum"]) { arguments in
            try withBytes(dead) { queue in
                _ = amqp_queue_declare(state, 1, queue, 0, 1, 0, 0, arguments)
                try check(amqp_get_rpc_reply(state), "queue.declare \(dead)")
            }
        }
    }

    /// Puts the channel in confirm mode: the broker acknowledges every publish.
    func enableConfirms() throws {
        _ = amqp_confirm_select(state, 1)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    /// Publishes a persistent message to `queue` and waits until the broker confirms it.
    func publish(_ body: [UInt8], to queue: String, headers: [String: String] = [:], timeout: Duration) throws {
        let sequence = nextPublishSequence
        nextPublishSequence += 1
        try withTable(headers) { table in
            try withBytes("application/json") { contentType in
                var properties = amqp_basic_properties_t()
                properties._flags = Self.contentTypeFlag | Self.deliveryModeFlag | Self.headersFlag
                properties.content_type = contentType
                properties.delivery_mode = 2  // persistent
                properties.headers = table
                let status = try withBytes(queue) { routingKey in
                    try withBytes(body) { payload in
                        amqp_basic_publish(state, 1, amqp_empty_bytes, routingKey, 0, 0, &properties, payload)
                    }
                }
                guard status == AMQP_STATUS_OK.rawValue else {
                    throw AMQPError("publish failed: \(String(cString: amqp_error_string2(status)))")
                }
            }
        }
        try waitForConfirm(sequence, timeout: timeout)
    }

    private func waitForConfirm(_ sequence: UInt64, timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var frame = amqp_frame_t()
            var wait = timeval(tv_sec: 0, tv_usec: 100_000)
            let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
            if status == AMQP_STATUS_TIMEOUT.rawValue { continue }
            guard status == AMQP_STATUS_OK.rawValue else {
                throw AMQPError("waiting for the broker's confirmation failed: \(String(cString: amqp_error_string2(status)))")
            }
            guard frame.frame_type == AMQP_FRAME_METHOD else { continue }
            switch frame.payload.method.id {
            case Self.basicAck:
                let ack = frame.payload.method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                if ack.delivery_tag == sequence || (ack.multiple != 0 && ack.delivery_tag >= sequence) { return }
            case Self.basicNack:
                throw AMQPError("the broker refused the message (basic.nack)")
            case Self.channelClose, Self.connectionClose:
                throw AMQPError("the broker closed the channel")
            default:
                continue
            }
        }
        throw AMQPError("the broker did not confirm the message within \(timeout)")
    }

    /// Limits unacknowledged deliveries and starts consuming `queue`.
    func consume(_ queue: String, prefetch: Int) throws {
        _ = amqp_basic_qos(state, 1, 0, UInt16(clamping: prefetch), 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
        try withBytes(queue) { name in
            _ = amqp_basic_consume(state, 1, name, amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
            try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
        }
    }

    /// The next delivery, or `nil` if none arrives within `timeout`. Waiting services heartbeats.
    func nextDelivery(timeout: Duration) throws -> AMQPMessage? {
        var envelope = amqp_envelope_t()
        var wait = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        amqp_maybe_release_buffers(state)
        let reply = amqp_consume_message(state, &envelope, &wait, 0)
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT.rawValue {
            return nil
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
            // A frame other than a delivery: a close means the connection is lost.
            var frame = amqp_frame_t()
            guard amqp_simple_wait_frame(state, &frame) == AMQP_STATUS_OK.rawValue else { throw AMQPError("the connection failed") }
            if frame.frame_type == AMQP_FRAME_METHOD, [Self.channelClose, Self.connectionClose].contains(frame.payload.method.id) {
                throw AMQPError("the broker closed the channel")
            }
            return nil
        }
        try check(reply, "consume")
        defer { amqp_destroy_envelope(&envelope) }
        return AMQPMessage(
            deliveryTag: envelope.delivery_tag,
            body: Self.bytes(envelope.message.body),
            redelivered: envelope.redelivered != 0,
            headers: Self.headers(envelope.message.properties)
        )
    }

    func acknowledge(_ tag: UInt64) throws {
        let status = amqp_basic_ack(state, 1, tag, 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError("basic.ack failed: \(String(cString: amqp_error_string2(status)))") }
    }

    func reject(_ tag: UInt64, requeue: Bool) throws {
        let status = amqp_basic_reject(state, 1, tag, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError("basic.reject failed: \(String(cString: amqp_error_string2(status)))") }
    }

    /// Takes one message from `queue` (basic.get, then ack), or `nil` if it is empty.
    func take(from queue: String) throws -> AMQPMessage? {
        let reply = try withBytes(queue) { name in amqp_basic_get(state, 1, name, 0) }
        try check(reply, "basic.get \(queue)")
        guard reply.reply.id == Self.basicGetOk else { return nil }
        let tag = reply.reply.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee.delivery_tag
        var message = amqp_message_t()
        try check(amqp_read_message(state, 1, &message, 0), "reading a message")
        defer { amqp_destroy_message(&message) }
        let taken = AMQPMessage(deliveryTag: tag, body: Self.bytes(message.body), redelivered: false, headers: Self.headers(message.properties))
        try acknowledge(tag)
        return taken
    }

    /// Services heartbeats while idle: reads whatever frame arrives within `timeout`.
    /// Whether librabbitmq holds input not yet handed out (frames or bytes already read).
    var hasBufferedInput: Bool {
        amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    /// The socket, for `poll(2)`.
    var socketDescriptor: Int32 {
        amqp_get_sockfd(state)
    }

    func idle(timeout: Duration) throws {
        var frame = amqp_frame_t()
        var wait = timeval(tv_sec: 0, tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return }
        guard status == AMQP_STATUS_OK.rawValue else { throw AMQPError("the connection failed: \(String(cString: amqp_error_string2(status)))") }
        if frame.frame_type == AMQP_FRAME_METHOD, [Self.channelClose, Self.connectionClose].contains(frame.payload.method.id) {
            throw AMQPError("the broker closed the channel")
        }
    }

    // MARK: - C plumbing

    private func check(_ reply: amqp_rpc_reply_t, _ what: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError("\(what) failed: \(String(cString: amqp_error_string2(reply.library_error)))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            var text = "the broker refused it"
            if reply.reply.id == Self.channelClose {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                text = "\(close.reply_code) \(String(decoding: Self.bytes(close.reply_text), as: UTF8.self))"
            } else if reply.reply.id == Self.connectionClose {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                text = "\(close.reply_code) \(String(decoding: Self.bytes(close.reply_text), as: UTF8.self))"
            }
            throw AMQPError("\(what) failed: \(text)")
        default:
            throw AMQPError("\(what) failed: no reply")
        }
    }

    private static func bytes(_ value: amqp_bytes_t) -> [UInt8] {
        guard let pointer = value.bytes, value.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: value.len))
    }

    private static func headers(_ properties: amqp_basic_properties_t) -> [String: String] {
        guard properties._flags & headersFlag != 0, let entries = properties.headers.entries else { return [:] }
        var result: [String: String] = [:]
        for index in 0..<Int(properties.headers.num_entries) {
            let entry = entries[index]
            let key = String(decoding: bytes(entry.key), as: UTF8.self)
            switch UInt8(entry.value.kind) {
            case UInt8(ascii: "S"): result[key] = String(decoding: bytes(entry.value.value.bytes), as: UTF8.self)
            case UInt8(ascii: "l"): result[key] = String(entry.value.value.i64)
            case UInt8(ascii: "L"): result[key] = String(entry.value.value.u64)
            case UInt8(ascii: "I"): result[key] = String(entry.value.value.i32)
            default: break
            }
        }
        return result
    }

    /// Calls `body` with `text` as `amqp_bytes_t`, valid during the call.
    private func withBytes<T>(_ text: String, _ body: (amqp_bytes_t) throws -> T) throws -> T {
        try withBytes(Array(text.utf8), body)
    }

    private func withBytes<T>(_ data: [UInt8], _ body: (amqp_bytes_t) throws -> T) throws -> T {
        var copy = data
        return try copy.withUnsafeMutableBytes { buffer in
            try body(amqp_bytes_t(len: buffer.count, bytes: buffer.baseAddress))
        }
    }

    /// Calls `body` with a table of string fields, valid during the call.
    /// A value of an AMQP field table: the kinds VMP3 sends.
    enum TableValue: Hashable, ExpressibleByStringLiteral {
        case string(String)
        case integer(Int64)

        init(stringLiteral value: String) {
            self = .string(value)
        }
    }

    private func withTable<T>(_ fields: [String: String], _ body: (amqp_table_t) throws -> T) throws -> T {
        try withTable(fields.mapValues { TableValue.string($0) }, body)
    }

    private func withTable<T>(_ fields: [String: TableValue], _ body: (amqp_table_t) throws -> T) throws -> T {
        let keys = fields.keys.sorted()
        let storage: [[UInt8]] = keys.flatMap { key -> [[UInt8]] in
            if case .string(let text) = fields[key] { return [Array(key.utf8), Array(text.utf8)] }
            return [Array(key.utf8), []]
        }
        do {
            let entries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: max(1, keys.count))
            defer { entries.deallocate() }
            let buffers = storage.map { bytes -> UnsafeMutableRawPointer in
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
                bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
                return buffer
            }
            defer { buffers.forEach { $0.deallocate() } }
            for index in keys.indices {
                var value = amqp_field_value_t()
                switch fields[keys[index]] {
                case .integer(let number):
                    value.kind = UInt8(ascii: "l")
                    value.value.i64 = number
                case .string, nil:
                    value.kind = UInt8(ascii: "S")
                    value.value.bytes = amqp_bytes_t(len: storage[2 * index + 1].count, bytes: buffers[2 * index + 1])
                }
                entries[index] = amqp_table_entry_t(key: amqp_bytes_t(len: storage[2 * index].count, bytes: buffers[2 * index]), value: value)
            }
            return try body(amqp_table_t(num_entries: Int32(keys.count), entries: keys.isEmpty ? nil : entries))
        }
    }
}
