import Foundation

/// One named check of a protocol's contract, run against one implementation.
///
/// Test targets run every check of a suite against each backend, for example:
/// `@Test(arguments: ObjectStoreConformance.checks) func fileStore(_ check: ObjectStoreConformance.Check)`.
public struct ConformanceCheck<Subject>: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (Subject) async throws -> Void

    public init(_ name: String, _ run: @escaping @Sendable (Subject) async throws -> Void) {
        self.name = name
        self.run = run
    }

    public var description: String { name }
}

/// A broken promise of the contract.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// Fails the check with `message` unless `condition` holds.
public func require(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) throws {
    if !condition { throw ConformanceFailure(description: "\(file):\(line): \(message())") }
}

/// Runs `body`, which must throw an error of type `E` that satisfies `matches`; returns it.
@discardableResult
public func requireError<E: Error>(
    _ type: E.Type, _ what: String, file: StaticString = #fileID, line: UInt = #line,
    matching matches: (E) -> Bool = { _ in true }, _ body: () async throws -> Void
) async throws -> E {
    do {
        try await body()
    } catch let error as E where matches(error) {
        return error
    } catch {
        throw ConformanceFailure(description: "\(file):\(line): \(what): expected a matching \(E.self), got \(error)")
    }
    throw ConformanceFailure(description: "\(file):\(line): \(what): expected \(E.self), got no error")
}

/// Waits until `condition` holds, checking every 10 ms, for up to `timeout`.
public func eventually(
    // Generous: waiting costs nothing when the condition comes true, and the whole suite runs in
    // parallel (under ASan too) on two cores, where the first minute of the sanitized stage has
    // starved simple in-memory checks for over 30 s.
    _ what: String, timeout: Duration = .seconds(120), file: StaticString = #fileID, line: UInt = #line,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            throw ConformanceFailure(description: "\(file):\(line): timed out waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
