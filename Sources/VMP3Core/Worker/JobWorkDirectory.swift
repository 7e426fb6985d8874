#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The temporary folder a worker converts one job in (`vmp3-job-ID-RANDOM` under its temporary
/// directory), locked while in use so that a sweep can tell a dead run's folder from a live one.
///
/// The lock is an exclusive `flock` on `.lock` inside the folder, held until ``remove()`` or the
/// process's end: the kernel drops it whatever killed the process, so a folder whose lock can be
/// taken belongs to no running worker, on this machine or any other sharing the directory.
final class JobWorkDirectory: Sendable {
    static let prefix = "vmp3-job-"

    let url: URL
    private let lockDescriptor: Int32

    /// Creates and locks a new folder for `job` under `parent`.
    init(for job: JobID, in parent: URL) throws {
        url = parent.appendingPathComponent("\(Self.prefix)\(job)-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let descriptor = open(url.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = SystemCallError(call: descriptor >= 0 ? "flock" : "open", path: url.path, code: errno)
            if descriptor >= 0 { close(descriptor) }
            try? FileManager.default.removeItem(at: url)
            throw failure
        }
        lockDescriptor = descriptor
    }

    /// Deletes the folder and releases its lock.
    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    deinit {
        close(lockDescriptor)
    }

    /// Deletes the job folders under `parent` that no running worker holds: those left by a
    /// worker that crashed or was killed. A folder without a lock file is left alone for a
    /// minute (a worker may be creating it). Returns the names removed.
    @discardableResult
    static func sweep(_ parent: URL, now: Date = Date()) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let folder = parent.appendingPathComponent(name, isDirectory: true)
            let lockPath = folder.appendingPathComponent(".lock").path
            let descriptor = open(lockPath, O_RDWR | O_CLOEXEC)
            if descriptor < 0 {
                let created = (try? FileManager.default.attributesOfItem(atPath: folder.path)[.modificationDate] as? Date) ?? now
                guard now.timeIntervalSince(created) > 60 else { continue }
            } else {
                defer { close(descriptor) }
                guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { continue }
            }
            if (try? FileManager.default.removeItem(at: folder)) != nil { removed.append(name) }
        }
        return removed
    }
}
