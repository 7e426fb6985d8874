#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An ``ObjectStore`` whose objects are files on this machine, which a converter may read where
/// they lie and write into place, instead of copying each through a temporary file.
///
/// ``ConversionWorker`` uses it when its store conforms (``FileObjectStore`` does): the upload is
/// read in place and the MP3 is written beside the store's objects and renamed among them, so an
/// embedded job costs no copy of either file.
public protocol LocalObjectFiles: ObjectStore {
    /// The file that holds the object under `key`, to be read, never written.
    /// - Throws: ``StorageError/Code/notFound``.
    func localFile(for key: ObjectKey) async throws -> URL

    /// A path, on the store's file system, where a new object may be written before
    /// ``adopt(_:as:contentType:)`` (nothing is there yet).
    func stagingFile() -> URL

    /// Makes the file at `file`, a path from ``stagingFile()``, the object under `key` (replacing
    /// any object there) by renaming it: all or nothing, as a put.
    /// - Throws: ``StorageError/Code/localFile`` if `file` is not a staging file of this store or
    ///   cannot be moved.
    @discardableResult
    func adopt(_ file: URL, as key: ObjectKey, contentType: String) async throws -> ObjectInfo
}
