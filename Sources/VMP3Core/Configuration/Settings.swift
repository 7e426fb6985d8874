#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The settings of one program, read one way: a flag given on the command line, else the
/// environment variable, else the setting's default (``Setting``).
///
/// Every program makes one at start and calls ``validate(for:)`` first, so that a malformed
/// value stops it at once with one line naming the setting, before it connects to anything;
/// the typed readers then give each value in the form it was checked in. An empty variable
/// counts as unset.
public struct Settings: Sendable {
    /// Who reads: picks the program's own defaults (``Setting/programDefaults``).
    public let program: Setting.Program?
    private let environment: [String: String]
    /// Values given by flags, by setting name: the flag's name and the value.
    private var flags: [String: (flag: String, value: String)] = [:]

    public init(_ environment: [String: String] = ProcessInfo.processInfo.environment, program: Setting.Program? = nil) {
        self.environment = environment
        self.program = program
    }

    /// These settings with `value`, given by the command-line flag `flag` (``Setting/flag`` by
    /// default), in place of the variable; `nil` (the flag not given) changes nothing.
    public func overriding(_ setting: Setting, with value: String?, flag: String? = nil) -> Settings {
        guard let value else { return self }
        var settings = self
        settings.flags[setting.name] = (flag ?? setting.flag ?? setting.name, value)
        return settings
    }

    /// The value as text, from a flag, the environment or the default; `nil` when there is none.
    public func text(_ setting: Setting) -> String? {
        if let given = flags[setting.name] { return given.value }
        if let value = environment[setting.name], !value.isEmpty { return value }
        return program.flatMap { setting.programDefaults[$0] } ?? setting.defaultValue
    }

    /// Whether the value was given (by a flag or the environment) rather than defaulted.
    public func isGiven(_ setting: Setting) -> Bool {
        flags[setting.name] != nil || !(environment[setting.name] ?? "").isEmpty
    }

    /// A whole-number setting, `nil` when it has no value.
    /// - Throws: ``ConfigurationError`` naming the setting, for a value outside its form.
    public func wholeNumber(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = text(setting) else { return nil }
        guard case .wholeNumber(let range) = setting.form, let value = Int(text.trimmingWhitespace()), range.contains(value) else {
            throw malformed(setting, text)
        }
        return value
    }

    /// A number setting (decimals allowed), `nil` when it has no value.
    /// - Throws: ``ConfigurationError`` naming the setting, for a value outside its form.
    public func number(_ setting: Setting) throws(ConfigurationError) -> Double? {
        guard let text = text(setting) else { return nil }
        let range: ClosedRange<Double>
        switch setting.form {
        case .number(let bounds): range = bounds
        case .wholeNumber(let bounds): range = Double(bounds.lowerBound)...Double(bounds.upperBound)
        default: throw malformed(setting, text)
        }
        guard let value = Double(text.trimmingWhitespace()), value.isFinite, range.contains(value) else {
            throw malformed(setting, text)
        }
        return value
    }

    /// A number of seconds as a duration (to the millisecond), `nil` when it has no value.
    public func seconds(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        try number(setting).map { .milliseconds(Int64(($0 * 1000).rounded())) }
    }

    /// A setting of one of a few words, `nil` when it has no value.
    /// - Throws: ``ConfigurationError`` naming the setting, for a word not among them.
    public func word(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let text = text(setting) else { return nil }
        let word = text.trimmingWhitespace().lowercased()
        guard case .oneOf(let words) = setting.form, words.contains(word) else { throw malformed(setting, text) }
        return word
    }

    /// A `HOST:PORT` setting, `nil` when it has no value.
    /// - Throws: ``ConfigurationError`` naming the setting, for anything but a host and a port
    ///   from 0 to 65535.
    public func hostAndPort(_ setting: Setting) throws(ConfigurationError) -> (host: String, port: Int)? {
        guard let text = text(setting) else { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
              !text[..<colon].isEmpty else { throw malformed(setting, text) }
        return (String(text[..<colon]), port)
    }

    /// ``Setting/dataDirectory``: where the embedded files go.
    public var dataDirectory: URL {
        URL(fileURLWithPath: text(.dataDirectory) ?? "vmp3-data", isDirectory: true)
    }

    /// A URL setting, `nil` when it has no value.
    /// - Throws: ``ConfigurationError`` naming the setting, for a value that is not a URL of its schemes.
    public func url(_ setting: Setting) throws(ConfigurationError) -> URL? {
        guard let text = text(setting) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { throw malformed(setting, text) }
        if case .url(let schemes) = setting.form, !schemes.isEmpty, !schemes.contains(scheme) { throw malformed(setting, text) }
        return url
    }

    /// Checks the value of every setting `program` reads against its form.
    /// - Throws: ``ConfigurationError`` naming the first malformed one.
    public func validate(for program: Setting.Program) throws(ConfigurationError) {
        for setting in Setting.all where setting.programs.contains(program) && isGiven(setting) {
            try validate(setting)
        }
    }

    private func validate(_ setting: Setting) throws(ConfigurationError) {
        guard let text = text(setting) else { return }
        switch setting.form {
        case .wholeNumber: _ = try wholeNumber(setting)
        case .number: _ = try number(setting)
        case .url: _ = try url(setting)
        case .hostAndPort: _ = try hostAndPort(setting)
        case .logLevel:
            guard Setting.logLevels.contains(text.lowercased()) else { throw malformed(setting, text) }
        case .oneOf:
            _ = try word(setting)
        case .secret(let bytes):
            guard text.utf8.count >= bytes else {
                throw ConfigurationError("\(source(of: setting)) must be \(setting.requirement), not \(text.utf8.count)")
            }
        case .text: break
        }
    }

    /// The error for a malformed value: the setting (and the flag, if one gave it), what it must
    /// be and what it was. A secret's value is never shown.
    public func malformed(_ setting: Setting, _ text: String, _ requirement: String? = nil) -> ConfigurationError {
        let shown: String
        if case .secret = setting.form { shown = "(\(text.utf8.count) bytes)" } else { shown = text.debugDescription }
        return ConfigurationError("\(source(of: setting)) must be \(requirement ?? setting.requirement), not \(shown)")
    }

    /// `VMP3_X`, or `--flag (VMP3_X)` for a value a flag gave.
    public func source(of setting: Setting) -> String {
        flags[setting.name].map { "\($0.flag) (\(setting.name))" } ?? setting.name
    }
}
