import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Hashes the bytes of an upload as they stream past, on their way to storage: the content hash
/// of ``ConversionCacheKey`` without reading the upload again.
final class SHA256Digest: Sendable {
    private struct State {
        var hash = SHA256()
        var iterations = 0
    }

    private let state = Mutex(State())

    /// `body`, hashing each chunk as it is read.
    func hashing<Body: AsyncSequence & Sendable>(_ body: Body) -> HashingSequence<Body> where Body.Element == [UInt8] {
        HashingSequence(base: body, digest: self)
    }

    fileprivate func started() {
        state.withLock { $0.iterations += 1 }
    }

    fileprivate func update(_ chunk: [UInt8]) {
        state.withLock { $0.hash.update(data: chunk) }
    }

    /// The hex SHA-256 of what was read, or `nil` if the body was read more than once (the hash
    /// would then describe no one reading of it).
    func finalize() -> String? {
        state.withLock { state in
            guard state.iterations == 1 else { return nil }
            return state.hash.finalize().hexEncoded
        }
    }
}

/// An upload's chunks, hashed by a ``SHA256Digest`` as they are read.
struct HashingSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == [UInt8] {
    typealias Element = [UInt8]
    let base: Base
    let digest: SHA256Digest

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let digest: SHA256Digest

        mutating func next() async throws -> [UInt8]? {
            guard let chunk = try await base.next() else { return nil }
            digest.update(chunk)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        digest.started()
        return AsyncIterator(base: base.makeAsyncIterator(), digest: digest)
    }
}
