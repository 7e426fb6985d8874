#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folders and files that only their owner may read — the data directory, databases of password
/// hashes, key files — made so from their first moment: a folder by `mkdir(path, 0700)`, a file
/// by `open(O_CREAT | O_EXCL, 0600)`. A file written with the umask's mode and `chmod`-ed
/// afterwards could be opened by another local user in between, and stay open.
package enum PrivateFile {
    /// Makes the folder at `path` and its missing parents, each `0700`; folders that exist are
    /// left as they are.
    package static func makeDirectory(_ path: String) throws(SystemCallError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o700) != 0, errno != EEXIST {
                throw SystemCallError(call: "mkdir", path: partial, code: errno)
            }
        }
    }

    /// Writes `bytes` to a new file at `path`, `0600`, and syncs it; fails `EEXIST` if there is
    /// one (it is never overwritten) and leaves nothing on another failure.
    package static func create(_ path: String, contents bytes: [UInt8]) throws(SystemCallError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemCallError(call: "open", path: path, code: errno) }
        do throws(SystemCallError) {
            // `Array.withUnsafeBytes` rethrows untyped: the typed error comes out as a Result.
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(SystemCallError) in try OpenFile.write(buffer, toDescriptor: descriptor, path: path) }
            }.get()
            guard fsync(descriptor) == 0 else { throw SystemCallError(call: "fsync", path: path, code: errno) }
            close(descriptor)
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
    }

    /// Makes an empty `0600` file at `path` unless there is one, and its folder (`0700`) unless
    /// there is one: for a database that its library then opens (SQLite gives its journal and
    /// WAL the database file's mode).
    package static func createEmptyUnlessPresent(_ path: String) throws(SystemCallError) {
        let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !folder.isEmpty { try makeDirectory(folder) }
        do {
            try create(path, contents: [])
        } catch where error.code == EEXIST {}
    }
}
