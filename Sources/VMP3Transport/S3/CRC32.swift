import CZlib
import Foundation
import NIOCore

/// CRC-32 (ISO-HDLC, the polynomial of zlib, gzip and PNG), as S3's `x-amz-checksum-crc32`
/// carries it: the four bytes big-endian, in base64.
///
/// S3 recomputes it over the bytes it receives and refuses the request if they differ, so a part
/// damaged on the way is never stored. zlib computes it (several GB/s).
struct CRC32: Sendable, Hashable {
    private(set) var value: UInt32 = 0

    init() {}

    init(of buffer: ByteBuffer) {
        update(buffer)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = UInt32(truncatingIfNeeded: crc32_z(UInt(value), base.assumingMemoryBound(to: Bytef.self), bytes.count))
    }

    mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { update($0) }
    }

    /// The header's form: the value's four bytes, most significant first, in base64.
    var base64: String {
        Data([UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]).base64EncodedString()
    }
}
