import Foundation

/// Reads one numeric setting from environment variables, with the one-line error a service
/// exits with when it is wrong: the variable's name, what it must be, and what it was.
public enum EnvironmentValue {
    /// The whole number in `environment[name]`; `nil` when unset or empty.
    /// - Throws: ``ConfigurationError`` naming the variable, for anything but a whole number in `range`.
    public static func wholeNumber(_ name: String, in range: ClosedRange<Int>, from environment: [String: String]) throws(ConfigurationError) -> Int? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(text)")
        }
        return value
    }

    /// The number (decimals allowed) in `environment[name]`; `nil` when unset or empty.
    /// - Throws: ``ConfigurationError`` naming the variable, for anything but a number in `range`.
    public static func number(_ name: String, in range: ClosedRange<Double>, from environment: [String: String]) throws(ConfigurationError) -> Double? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Double(text), range.contains(value) else {
            throw ConfigurationError("\(name) must be a number from \(printed(range.lowerBound)) to \(printed(range.upperBound)), not \(text)")
        }
        return value
    }

    /// `86400`, not `86400.0`.
    private static func printed(_ value: Double) -> String {
        String(format: "%g", value)
    }
}
