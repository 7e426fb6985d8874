#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A process's memory, from `/proc/PID/status`.
package struct ProcessMemory {
    var residentBytes: Int64
    package var peakResidentBytes: Int64
    package var peakVirtualBytes: Int64

    /// `nil` if the process is gone (or a zombie, which has no memory lines).
    init?(pid: pid_t) {
        let descriptor = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        self.init(statusDescriptor: descriptor)
    }

    /// From a descriptor of a `/proc/PID/status` opened earlier (the child keeps its own open
    /// through its confinement, which forbids opening it later).
    package init?(statusDescriptor descriptor: Int32) {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        var fields: [Substring: Int64] = [:]
        for line in String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            guard parts.count >= 2, parts[0].hasPrefix("Vm"), let kilobytes = Int64(parts[1]) else { continue }
            fields[parts[0]] = kilobytes * 1024
        }
        guard let rss = fields["VmRSS"], let hwm = fields["VmHWM"], let peak = fields["VmPeak"] else { return nil }
        residentBytes = rss
        peakResidentBytes = hwm
        peakVirtualBytes = peak
    }
}
