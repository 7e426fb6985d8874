import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import VMP3Core

/// A gateway's token verifier: the keys the auth service publishes (its JWK set), fetched at
/// start, again every ``Configuration/refreshInterval``, and when a token names a key it does
/// not know, so that a key rotation (``SigningKeyRing``) reaches the gateway without a restart
/// and a retired key stops verifying within one interval.
///
/// Run it as a `Service` (in the gateway's `ServiceGroup`) for the periodic refresh. A fetch that
/// fails keeps the keys it has: the auth service being down must not make every token fail.
public actor RemoteKeySet: TokenVerifier, Service {
    public struct Configuration: Sendable {
        /// How often the set is fetched again.
        public var refreshInterval: Duration
        /// At most one fetch for an unknown `kid` per this interval, so that tokens with
        /// made-up key ids cannot make the gateway fetch on every request.
        public var unknownKeyInterval: Duration
        public var tokenSettings: TokenSettings

        public init(refreshInterval: Duration = .seconds(300), unknownKeyInterval: Duration = .seconds(10), tokenSettings: TokenSettings = TokenSettings()) {
            self.refreshInterval = refreshInterval
            self.unknownKeyInterval = unknownKeyInterval
            self.tokenSettings = tokenSettings
        }

        /// `Setting.jwksRefresh` (1…86400, default 300) over the defaults.
        public init(settings: Settings) throws(ConfigurationError) {
            self.init()
            if settings.isGiven(.jwksRefresh), let seconds = try settings.wholeNumber(.jwksRefresh) {
                refreshInterval = .seconds(seconds)
                unknownKeyInterval = min(unknownKeyInterval, refreshInterval)
            }
        }
    }

    /// Fetches the published keys.
    public typealias Fetch = @Sendable () async throws -> [PublicSigningKey]

    public nonisolated let configuration: Configuration
    private let fetch: Fetch
    private let logger: Logger
    private var verifier: JWTTokenVerifier
    /// When a token with an unknown `kid` last made it fetch (not the periodic fetches: a key
    /// rotated in just after one must not wait for the interval).
    private var unknownKeyFetchedAt: ContinuousClock.Instant?
    private var fetching: Task<JWTTokenVerifier, Never>?

    /// A set that starts with `keys` (already fetched) and fetches with `fetch` from then on.
    public init(keys: [PublicSigningKey], configuration: Configuration = Configuration(), logger: Logger, fetch: @escaping Fetch) async {
        self.configuration = configuration
        self.fetch = fetch
        self.logger = logger
        verifier = await JWTTokenVerifier(publicKeys: keys, settings: configuration.tokenSettings)
    }

    /// The set of the auth service at `authURL` (its `v1/auth/jwks`), asked for once a second
    /// for up to `wait` (the auth service may start after the gateway).
    /// - Throws: `ConfigurationError` if no key came in that time.
    public static func fetching(
        from authURL: URL,
        client: HTTPClient = .shared,
        waitingUpTo wait: Duration = .seconds(60),
        configuration: Configuration = Configuration(),
        logger: Logger
    ) async throws -> RemoteKeySet {
        let fetch = jwksFetch(from: authURL, client: client)
        let deadline = ContinuousClock.now + wait
        var attempt = 0
        while true {
            attempt += 1
            do {
                let keys = try await fetch()
                if !keys.isEmpty { return await RemoteKeySet(keys: keys, configuration: configuration, logger: logger, fetch: fetch) }
                logger.notice("the auth service published no keys yet", metadata: ["attempt": "\(attempt)"])
            } catch {
                logger.notice("waiting for the auth service's keys", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
            guard ContinuousClock.now + .seconds(1) < deadline else { break }
            try await Task.sleep(for: .seconds(1))
        }
        throw ConfigurationError("no signing keys from \(authURL.appendingPathComponent("v1/auth/jwks").absoluteString)")
    }

    /// Fetches `v1/auth/jwks` of `authURL` (10 s timeout, 1 MiB at most).
    public static func jwksFetch(from authURL: URL, client: HTTPClient = .shared) -> Fetch {
        let url = authURL.appendingPathComponent("v1/auth/jwks").absoluteString
        return {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            guard response.status == .ok else { throw ConfigurationError("\(url) answered \(response.status.code)") }
            return try PublicSigningKey.keys(fromJWKS: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
        }
    }

    /// The `kid`s it trusts now.
    public var keyIDs: Set<String> { verifier.keyIDs }

    public nonisolated func verify(_ token: String) async throws(TokenError) -> AccessTokenClaims {
        let current = await verifier
        do {
            return try await current.verify(token)
        } catch where error.code == .invalidSignature {
            // A key it does not know may be one the auth service has just started signing with.
            guard let kid = JWTTokenVerifier.keyID(of: token), !current.keyIDs.contains(kid),
                  let refreshed = await refreshForUnknownKey(), refreshed.keyIDs.contains(kid)
            else { throw error }
            return try await refreshed.verify(token)
        }
    }

    /// Fetches the set now (or joins a fetch under way) and returns the verifier it makes.
    @discardableResult
    public func refresh() async -> JWTTokenVerifier {
        if let fetching { return await fetching.value }
        let current = verifier
        let task = Task { [fetch, logger, configuration] () -> JWTTokenVerifier in
            do {
                let keys = try await fetch()
                guard !keys.isEmpty else {
                    logger.warning("the auth service published no keys: keeping the ones it had")
                    return current
                }
                // A key id is a hash of the key: the same ids are the same keys.
                guard Set(keys.map(\.keyID)) != current.keyIDs else { return current }
                logger.info("signing keys changed", metadata: ["keys": "\(keys.map(\.keyID).joined(separator: ","))"])
                return await JWTTokenVerifier(publicKeys: keys, settings: configuration.tokenSettings)
            } catch {
                logger.warning("cannot fetch the signing keys: keeping the ones it had", metadata: ["error": "\(error)"])
                return current
            }
        }
        fetching = task
        let refreshed = await task.value
        fetching = nil
        verifier = refreshed
        return refreshed
    }

    private func refreshForUnknownKey() async -> JWTTokenVerifier? {
        if let fetching { return await fetching.value }
        let now = ContinuousClock.now
        if let last = unknownKeyFetchedAt, now - last < configuration.unknownKeyInterval { return nil }
        unknownKeyFetchedAt = now
        return await refresh()
    }

    /// Refreshes every ``Configuration/refreshInterval`` until graceful shutdown.
    public func run() async throws {
        let interval = configuration.refreshInterval
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            await refresh()
        }
    }
}
