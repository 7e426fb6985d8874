#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How queue backends store messages: JSON, as a broker would hold them, with failures as
/// ``QueueError/Code/malformedMessage``.
public enum QueueMessageCoding {
    public static func encode<Message: Encodable>(_ message: Message) throws -> Data {
        do {
            return try JSONEncoder().encode(message)
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot encode \(Message.self): \(error)")
        }
    }

    public static func decode<Message: Decodable>(_ type: Message.Type, from body: Data) throws -> Message {
        do {
            return try JSONDecoder().decode(Message.self, from: body)
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot decode \(Message.self): \(error)")
        }
    }
}
