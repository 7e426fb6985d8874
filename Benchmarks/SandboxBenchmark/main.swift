// The Swift half of Benchmarks/sandbox_benchmark.py: the per-job cost of the sandbox in a
// long-lived process, as a service pays it. Converts one clip RUNS times each way, alternating:
// in process (MediaConverter), in a child that was waiting (SandboxedConverter, one warm child)
// and in a child started for the job (no warm child). Prints one JSON object per way: the
// median and 90th percentile of the wall time, in seconds.
//
//   vmp3-sandbox-bench CLIP RUNS [--no-namespaces]   (the last adds a waiting child without namespaces)
//   vmp3-sandbox-bench VIDEO RUNS --long             (a long input: in process and waiting child only)
import Foundation
import VMP3Kit

func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let runs = Int(arguments[2]), runs > 0 else {
    FileHandle.standardError.write(Data("usage: vmp3-sandbox-bench CLIP RUNS\n".utf8))
    exit(64)
}
let clip = URL(fileURLWithPath: arguments[1])
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmp3-sandbox-bench-\(getpid())")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

let long = CommandLine.arguments.contains("--long")
let ways: [(name: String, converter: any AudioConverter)] = [
    ("in_process", MediaConverter()),
    ("sandbox_waiting_child", SandboxedConverter(configuration: .init(warmChildren: 1))),
]
    + (long ? [] : [("sandbox_child_per_job", SandboxedConverter(configuration: .init(warmChildren: 0)) as any AudioConverter)])
    + (CommandLine.arguments.contains("--no-namespaces")
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
    let values = times[way.name]!
    emit(["way": way.name, "runs": values.count, "p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "mean": values.reduce(0, +) / Double(values.count)])
}
