import Crypto
import Foundation

/// The `VMP3-Signature` header of a webhook: `t=UNIX_SECONDS,v1=HEX`, where `v1` is
/// HMAC-SHA256 over `"\(t).\(body)"` keyed with the webhook secret.
///
/// Signing the timestamp with the body lets a receiver refuse replays: it recomputes `v1`
/// and checks that `t` is recent (``verify(header:body:secret:tolerance:now:)``).
public struct WebhookSignature: Sendable, Hashable {
    public static let headerName = "VMP3-Signature"

    /// Seconds since 1970 when the request was signed.
    public var timestamp: Int64
    /// The HMAC-SHA256, 32 bytes.
    public var mac: [UInt8]

    /// Signs `body` at `timestamp` with `secret`.
    public init(body: some DataProtocol, secret: SymmetricKey, timestamp: Int64) {
        self.timestamp = timestamp
        var hmac = HMAC<SHA256>(key: secret)
        hmac.update(data: Array("\(timestamp).".utf8))
        hmac.update(data: body)
        mac = Array(hmac.finalize())
    }

    /// The header's value.
    public var headerValue: String {
        "t=\(timestamp),v1=\(mac.hexEncoded)"
    }

    /// Whether `header` is a valid signature of `body` with `secret`, made no more than
    /// `tolerance` away from `now`. Any `v1` in the header may match (a sender rotating its
    /// secret may send two). The comparison takes the same time whatever the bytes.
    public static func verify(
        header: String, body: some DataProtocol, secret: SymmetricKey, tolerance: Duration = .seconds(300), now: Date = Date()
    ) -> Bool {
        var timestamp: Int64?
        var candidates: [[UInt8]] = []
        for field in header.split(separator: ",") {
            let parts = field.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "t": timestamp = Int64(parts[1])
            case "v1": if let bytes = hexBytes(parts[1]), bytes.count == 32 { candidates.append(bytes) }
            default: continue
            }
        }
        guard let timestamp, !candidates.isEmpty else { return false }
        guard abs(Double(timestamp) - now.timeIntervalSince1970) <= Double(tolerance.components.seconds) else { return false }
        let expected = WebhookSignature(body: body, secret: secret, timestamp: timestamp).mac
        return candidates.contains { candidate in
            zip(candidate, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
