import VMP3Core

/// Number conversions that return `nil` where Swift's would trap.
///
/// Values read from a file or a request (timestamps, time bases, seconds) can be anything:
/// `Int64(Double)` traps on NaN, infinity or a value out of range, and one crafted upload must
/// not take a converter process down.
enum CheckedConversion {
    /// The largest magnitude returned: far beyond any real sample position or timestamp, and with
    /// room to add sample counts to it without overflow.
    static let bound: Int64 = 1 << 62

    /// `value` as an `Int64` (truncated toward zero), or `nil` if it is not finite or its
    /// magnitude exceeds ``bound``.
    static func int64(_ value: Double) -> Int64? {
        guard value.isFinite, value.magnitude < Double(bound) else { return nil }
        return Int64(value)
    }

    /// `value` as an `Int64`, clamped to ±``bound``; NaN is `nil`.
    static func clampedInt64(_ value: Double) -> Int64? {
        guard !value.isNaN else { return nil }
        return Int64(max(-Double(bound), min(Double(bound), value)))
    }
}
