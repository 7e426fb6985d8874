/// The name of an object in an ``ObjectStore``: a relative, `/`-separated path.
///
/// Validated on creation, so that no backend ever sees a key that could escape its root
/// (`..`, an absolute path) or that S3 and a file system would treat differently.
public struct ObjectKey: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// Longest key in UTF-8 bytes (S3's limit).
    public static let maximumLength = 1024

    public let rawValue: String

    /// - Throws: ``StorageError/Code/invalidKey`` when `rawValue` is empty, longer than 1024 UTF-8
    ///   bytes, absolute, has an empty, `.` or `..` segment, or holds a backslash or control character.
    public init(_ rawValue: String) throws {
        if let problem = Self.problem(with: rawValue) {
            throw StorageError(code: .invalidKey, message: "invalid object key \"\(rawValue.prefix(80))\": \(problem)")
        }
        self.rawValue = rawValue
    }

    /// For keys written in code; a key literal that breaks the rules is a programming error.
    public init(stringLiteral value: String) {
        precondition(Self.problem(with: value) == nil, "invalid object key literal \(value)")
        rawValue = value
    }

    public var description: String { rawValue }

    /// The last segment, for example `abc.mp3` of `outputs/abc.mp3`.
    public var lastComponent: Substring {
        rawValue.split(separator: "/").last ?? Substring(rawValue)
    }

    static func problem(with key: String) -> String? {
        if key.isEmpty { return "it is empty" }
        if key.utf8.count > maximumLength { return "it is longer than \(maximumLength) bytes" }
        if key.hasPrefix("/") { return "it is absolute" }
        if key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) {
            return "it holds a control character or backslash"
        }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { return "it has an empty segment" }
            if segment == "." || segment == ".." { return "it has a \"\(segment)\" segment" }
        }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
