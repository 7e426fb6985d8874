/// A reply from Redis, copied out of hiredis's `redisReply`.
enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let status): status
        default: nil
        }
    }

    var elements: [RedisReply] {
        if case .array(let elements) = self { return elements }
        return []
    }
}

/// Why talking to Redis failed.
struct RedisError: Error, CustomStringConvertible {
    var description: String
}
