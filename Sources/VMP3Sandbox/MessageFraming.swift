#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CSandbox

/// The framing of the messages between a conversion's parent and child on their socket: each a
/// 4-byte big-endian length, then that many bytes of JSON.
///
/// A frame is at most ``maxFrameBytes``: a probe's tags and chapters are bounded far below it, and
/// the parent reads nothing more from a child that claims a larger one.
package enum MessageFraming {
    package static let maxFrameBytes = 4 << 20

    package enum Failure: Error, Equatable {
        /// The peer closed the socket.
        case closed
        /// A frame longer than ``MessageFraming/maxFrameBytes``, or not the JSON expected.
        case malformed(String)
        /// `read` or `write` failed with this `errno`.
        case system(Int32)
    }

    package static func encode<Message: Encodable>(_ message: Message) throws(Failure) -> [UInt8] {
        let body: Data
        do {
            body = try JSONEncoder().encode(message)
        } catch {
            throw .malformed("cannot encode \(Message.self): \(error)")
        }
        guard body.count <= maxFrameBytes else { throw .malformed("a message of \(body.count) bytes") }
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + Array(body)
    }

    package static func decode<Message: Decodable>(_ type: Message.Type, from body: [UInt8]) throws(Failure) -> Message {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw .malformed("not a \(Message.self): \(error)")
        }
    }

    /// Writes all of `bytes` to `descriptor`, blocking. The parent sends with `MSG_NOSIGNAL`
    /// (`toSocket`): a child that died must not take the server down with SIGPIPE. The child
    /// writes (its filter has no `sendto`), and a parent that is gone has killed it.
    package static func writeAll(_ bytes: [UInt8], to descriptor: Int32, toSocket: Bool = false) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes {
                toSocket
                    ? send(descriptor, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
                    : write(descriptor, $0.baseAddress! + done, bytes.count - done)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system(errno)
            }
            done += written
        }
    }

    /// Sends `bytes` on `socket` with `descriptors` attached to the first of them (`SCM_RIGHTS`),
    /// blocking, with `MSG_NOSIGNAL`. The kernel gives the peer its own copies: the sender's stay
    /// open.
    static func sendAttaching(_ descriptors: [Int32], _ bytes: [UInt8], toSocket socket: Int32) throws(Failure) {
        precondition(descriptors.count <= Int(VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS))
        let sent = bytes.withUnsafeBytes { buffer in
            descriptors.withUnsafeBufferPointer {
                vmp3_sandbox_send_with_descriptors(socket, buffer.baseAddress, buffer.count, $0.baseAddress, Int32($0.count))
            }
        }
        guard sent >= 0 else { throw .system(Int32(-sent)) }
        if sent < bytes.count { try writeAll(Array(bytes[sent...]), to: socket, toSocket: true) }
    }

    /// Reads one whole frame from `socket`, blocking, and the descriptors that came with it: at
    /// most `capacity` (more are closed, and the frame is refused).
    package static func readFrame(fromSocket socket: Int32, descriptorCapacity capacity: Int) throws(Failure) -> (frame: [UInt8], descriptors: [Int32]) {
        var descriptors = [Int32](repeating: -1, count: Int(VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS))
        var received: Int32 = 0
        let header = try receiveExactly(4, from: socket, descriptors: &descriptors, received: &received)
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length <= maxFrameBytes else { throw .malformed("a frame of \(length) bytes") }
        let frame = try receiveExactly(length, from: socket, descriptors: &descriptors, received: &received)
        let passed = Array(descriptors[0..<Int(received)])
        guard passed.count <= capacity else {
            passed.forEach { close($0) }
            throw .malformed("\(passed.count) descriptors where \(capacity) at most were expected")
        }
        return (frame, passed)
    }

    /// Reads `count` bytes from `socket`, adding the descriptors that come with them to
    /// `descriptors` (from index `received`, which it advances).
    private static func receiveExactly(
        _ count: Int, from socket: Int32, descriptors: inout [Int32], received: inout Int32
    ) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        let capacity = Int32(descriptors.count)
        while done < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                vmp3_sandbox_receive_with_descriptors(socket, buffer.baseAddress! + done, count - done, &descriptors, capacity, &received)
            }
            if got < 0 { throw .system(Int32(-got)) }
            if got == 0 { throw .closed }
            done += got
        }
        return bytes
    }
}

/// Collects frames from bytes that arrive in pieces (the parent's non-blocking reads).
struct FrameAssembler {
    private var buffer: [UInt8] = []

    /// Appends `bytes` and returns the frames now complete, in order.
    mutating func append(_ bytes: some Collection<UInt8>) throws(MessageFraming.Failure) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var frames: [[UInt8]] = []
        while buffer.count >= 4 {
            let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
            guard length <= MessageFraming.maxFrameBytes else { throw .malformed("a frame of \(length) bytes") }
            guard buffer.count >= 4 + length else { break }
            frames.append(Array(buffer[4..<(4 + length)]))
            buffer.removeFirst(4 + length)
        }
        return frames
    }

    /// Whether part of a frame is waiting for the rest.
    var isEmpty: Bool { buffer.isEmpty }
}
