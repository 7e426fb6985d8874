import Foundation

/// The conversion children (`vmp3-convert-child`) at work below the process `ancestor` (its
/// children, or its children's: `/usr/bin/env` starts the services for the tests): those that
/// have their request and are confined (a seccomp filter in place). A child started ahead of
/// need and waiting for a job is not one of them.
public func conversionChildren(of ancestor: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    func field(_ name: String, of pid: pid_t) -> String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }
    return entries.compactMap { pid_t($0) }.filter { pid in
        // The kernel's name is cut to 15 characters.
        guard field("Name", of: pid) == "vmp3-convert-ch", field("Seccomp", of: pid) == "2" else { return false }
        var current = pid
        for _ in 0..<3 {
            guard let parent = field("PPid", of: current).flatMap({ pid_t($0) }), parent > 1 else { return false }
            if parent == ancestor { return true }
            current = parent
        }
        return false
    }
}

/// Sends `signal` to the conversion children below `ancestor` once there is one (waiting up to
/// `timeout`), and returns how many it signalled.
public func signalConversionChildren(of ancestor: pid_t, _ signal: Int32, timeout: Duration = .seconds(120)) async throws -> Int {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let children = conversionChildren(of: ancestor)
        if !children.isEmpty {
            for child in children { kill(child, signal) }
            return children.count
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    return 0
}
