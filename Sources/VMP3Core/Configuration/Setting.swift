/// One setting of the VMP3 programs: the environment variable that sets it, its default, what it
/// means and the form its value must have. ``Setting/all`` is the whole list, the table in
/// Docs/operations.md is made from it, and ``Settings`` is the one way any program reads them.
public struct Setting: Sendable, Hashable, CustomStringConvertible {
    /// A program that reads settings.
    public enum Program: String, Sendable, Hashable, CaseIterable, Comparable {
        case auth = "vmp3-auth"
        case gateway = "vmp3-gateway"
        case converter = "vmp3-converter"
        case notifier = "vmp3-notifier"
        case serve = "vmp3 serve"

        public static func < (lhs: Program, rhs: Program) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// What a value must look like. ``Settings/validate(for:)`` checks every set value against
    /// its form at start; settings of form ``text`` are checked by the type that reads them
    /// (an address list, a scrypt cost), which the programs build at start too.
    public enum Form: Sendable, Hashable {
        case wholeNumber(ClosedRange<Int>)
        case number(ClosedRange<Double>)
        /// A URL with one of these schemes (any scheme when empty).
        case url(schemes: [String])
        /// `HOST:PORT`.
        case hostAndPort
        /// A swift-log level: `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`.
        case logLevel
        /// A secret of at least this many bytes; never printed.
        case secret(minimumBytes: Int)
        /// One of these words.
        case oneOf([String])
        case text
    }

    /// The environment variable, `VMP3_…`.
    public let name: String
    /// The value when the variable is unset or empty, as text; `nil` when there is none or it is
    /// worked out at run time (``defaultDescription`` says how).
    public let defaultValue: String?
    /// Defaults that differ by program (`VMP3_HTTP_ADDRESS`'s port).
    public let programDefaults: [Program: String]
    /// The default as the documentation states it.
    public let defaultDescription: String
    /// What it means, in one sentence or two.
    public let meaning: String
    public let form: Form
    /// The programs that read it.
    public let programs: Set<Program>
    /// The `vmp3 serve` flag that sets it in place of the variable, if there is one.
    public let flag: String?

    public init(
        _ name: String, default defaultValue: String?, _ defaultDescription: String? = nil, programDefaults: [Program: String] = [:],
        form: Form, programs: Set<Program>, flag: String? = nil, meaning: String
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.programDefaults = programDefaults
        self.defaultDescription = defaultDescription ?? defaultValue.map { "`\($0)`" } ?? "none"
        self.meaning = meaning
        self.form = form
        self.programs = programs
        self.flag = flag
    }

    public var description: String { name }

    public static func == (lhs: Setting, rhs: Setting) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// What a value of this form must be, for error messages.
    var requirement: String {
        switch form {
        case .wholeNumber(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .number(let range): "a number from \(Self.printed(range.lowerBound)) to \(Self.printed(range.upperBound))"
        case .url(let schemes) where schemes.isEmpty: "a URL"
        case .url(let schemes): "a URL of scheme \(schemes.joined(separator: " or "))"
        case .hostAndPort: "HOST:PORT"
        case .logLevel: "one of \(Self.logLevels.joined(separator: ", "))"
        case .secret(let bytes): "at least \(bytes) bytes"
        case .oneOf(let words): "one of \(words.joined(separator: ", "))"
        case .text: "text"
        }
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `86400`, not `86400.0`.
    static func printed(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
