extension Backends {
    /// A readiness check: returns if its backend answers now, throws (the backend's own error) if not.
    public typealias ReadinessCheck = @Sendable () async throws -> Void

    /// One check per backend, by name (`storage`, `store`, `queue`), for a service's `/readyz`.
    ///
    /// Each asks its backend something cheap that needs a round trip: the storage for an object
    /// that is never there, the job store for a job that does not exist, the queue to declare
    /// itself. A "not found" answer is an answer, so it counts as ready.
    public var readinessChecks: [String: ReadinessCheck] {
        let storage = storage
        let store = store
        let jobs = jobs
        return [
            "storage": { _ = try await storage.exists(".vmp3-readiness-probe") },
            "store": { _ = try await store.get(JobID()) },
            "queue": { try await jobs.checkReachable() },
        ]
    }
}
