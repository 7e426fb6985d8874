// Runs the SDK's ObjectStore conformance suite against a store of one's own: what a third-party
// backend does to show it keeps the contract the job service and the worker rely on.
//
//   swift run CustomObjectStore            # every check; exits 1 if any fails
import Foundation
import VMP3Conformance
import VMP3Core

var failures = 0
for check in ObjectStoreConformance.checks {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("sharded-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    do {
        try await check.run(try ShardedDirectoryStore(root: root))
        print("ok    \(check.name)")
    } catch {
        failures += 1
        print("FAIL  \(check.name): \(error)")
    }
}
print("\(ObjectStoreConformance.checks.count - failures) of \(ObjectStoreConformance.checks.count) checks passed")
exit(failures == 0 ? 0 : 1)
