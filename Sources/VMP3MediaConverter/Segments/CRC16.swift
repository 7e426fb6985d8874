/// The CRC-16 of the LAME tag (polynomial x¹⁶ + x¹⁵ + x² + 1, bit-reversed, initial value 0):
/// the tag's own CRC and the CRC of the audio frames ("music CRC") use it.
struct CRC16: Sendable, Equatable {
    private(set) var value: UInt16 = 0

    mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value = value >> 8 ^ Self.table[Int(UInt8(truncatingIfNeeded: value) ^ byte)]
        }
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? crc >> 1 ^ 0xA001 : crc >> 1
        }
        return crc
    }
}
