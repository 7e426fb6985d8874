import Foundation

/// What a `Range` header asks of a representation of known size (RFC 9110 §14.2).
///
/// Only single byte ranges are served as ranges: a header with several answers the whole file
/// (which RFC 9110 allows), as does one that cannot be parsed or names another unit.
enum ByteRangeRequest: Equatable {
    /// No range, or one to ignore: answer `200` with everything.
    case whole
    /// One satisfiable range, clipped to the representation: answer `206`.
    case range(Range<Int64>)
    /// A well-formed range that selects nothing (it starts at or after the end, or is `-0`):
    /// answer `416` with `Content-Range: bytes */SIZE`.
    case unsatisfiable

    /// - Parameters:
    ///   - header: the `Range` header's value, if any.
    ///   - size: the representation's length in bytes.
    init(_ header: String?, size: Int64) {
        guard let header else { self = .whole; return }
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes=") else { self = .whole; return }
        let specs = text.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard specs.count == 1, let spec = specs.first, let dash = spec.firstIndex(of: "-") else { self = .whole; return }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        func number(_ digits: Substring) -> Int64? {
            // Digits only (no sign, no spaces); too many to fit is as good as infinite.
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int64(digits) ?? .max
        }
        if first.isEmpty {
            // `-N`: the last N bytes.
            guard let suffix = number(last) else { self = .whole; return }
            guard suffix > 0, size > 0 else { self = .unsatisfiable; return }
            self = .range(max(0, size - suffix)..<size)
            return
        }
        guard let start = number(first) else { self = .whole; return }
        if last.isEmpty {
            self = start < size ? .range(start..<size) : .unsatisfiable
            return
        }
        guard let end = number(last), end >= start else { self = .whole; return }
        guard start < size else { self = .unsatisfiable; return }
        self = .range(start..<(end == .max ? size : min(end + 1, size)))
    }
}
