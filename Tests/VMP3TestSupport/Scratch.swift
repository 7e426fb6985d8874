import Foundation

/// The folder everything the tests write goes under; removed when the test process exits.
public let testRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-tests-\(getpid())")
        try? FileManager.default.removeItem(at: url)
    }
    return url
}()

/// A fresh empty folder for one test's outputs.
public func makeScratchDirectory() throws -> URL {
    let url = testRoot.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Names of the files in `directory` (hidden ones included: that is where partial outputs hide).
public func directoryContents(_ directory: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
}
