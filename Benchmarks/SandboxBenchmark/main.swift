// The Swift half of Benchmarks/sandbox_benchmark.py: the per-job cost of the sandbox in a
// long-lived process, as a service pays it. Converts one clip RUNS times each way, alternating:
// in process (MediaConverter), in a child that was waiting (SandboxedConverter, one warm child)
// and in a child started for the job (no warm child). Prints one JSON object per way: the
// median and 90th percentile of the wall time, in seconds.
//
//   vmp3-sandbox-bench CLIP RUNS [--no-namespaces]   (the last adds a waiting child without namespaces)
//   vmp3-sandbox-bench VIDEO RUNS --long             (a long input: in process and waiting child only)
//   vmp3-sandbox-bench --convert-once VIDEO OUTPUT   (one conversion in this process, at 192 kbps,
//                                                     with the allocator as the conversion child
//                                                     sets it: the in-process baseline of the
//                                                     CLI's rows)
//
// On FoundationEssentials, as `vmp3` and the conversion child are, so that the baseline maps
// what they map.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import VMP3Kit

func emit(way: String, values: [Double]) {
    let mean = values.reduce(0, +) / Double(values.count)
    print(#"{"mean":\#(mean),"p50":\#(percentile(values, 0.5)),"p90":\#(percentile(values, 0.9)),"runs":\#(values.count),"way":"\#(way)"}"#)
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}

func usage() -> Never {
    let text = "usage: vmp3-sandbox-bench CLIP RUNS [--long] [--no-namespaces] | --convert-once VIDEO OUTPUT\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(64)
}

let arguments = CommandLine.arguments
if arguments.count == 4 && arguments[1] == "--convert-once" {
    ProcessAllocator.limitArenas()
    ProcessAllocator.mapLargeBlocks(from: 128 << 10)
    var options = ConversionOptions()
    options.encoding = .constantBitRate(kbps: 192)
    _ = try await MediaConverter().convert(URL(fileURLWithPath: arguments[2]), to: URL(fileURLWithPath: arguments[3]), options: options)
    exit(0)
}
guard arguments.count >= 3, let runs = Int(arguments[2]), runs > 0 else { usage() }
let clip = URL(fileURLWithPath: arguments[1])
let directory = URL(fileURLWithPath: "/tmp/vmp3-sandbox-bench-\(getpid())")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

let long = arguments.contains("--long")
let ways: [(name: String, converter: any AudioConverter)] = [
    ("in_process", MediaConverter()),
    ("sandbox_waiting_child", SandboxedConverter(configuration: .init(warmChildren: 1))),
]
    + (long ? [] : [("sandbox_child_per_job", SandboxedConverter(configuration: .init(warmChildren: 0)) as any AudioConverter)])
    + (arguments.contains("--no-namespaces")
        ? [("sandbox_waiting_child_no_namespaces", SandboxedConverter(configuration: .init(namespaces: false, warmChildren: 1)) as any AudioConverter)] : [])
var times: [String: [Double]] = [:]
// One unmeasured conversion each: the first one's page faults, and the pool's first child.
for way in ways where !long || way.name != "in_process" {
    _ = try await way.converter.convert(clip, to: directory.appendingPathComponent("\(way.name).mp3"))
}
for _ in 0..<runs {
    for way in ways {
        // A service's jobs come apart in time; the pause lets the pool start the next child, as
        // it would between jobs.
        try await Task.sleep(for: .milliseconds(150))
        let output = directory.appendingPathComponent("\(way.name).mp3")
        try? FileManager.default.removeItem(at: output)
        let start = ContinuousClock.now
        _ = try await way.converter.convert(clip, to: output)
        let elapsed = ContinuousClock.now - start
        times[way.name, default: []].append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
for way in ways {
    emit(way: way.name, values: times[way.name]!)
}
