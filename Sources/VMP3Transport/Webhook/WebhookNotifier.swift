import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import VMP3Core

/// A `Notifier` for `NotificationDestination.webhook(_:)`: POSTs the event as JSON
/// (``WebhookEvent``), signed in the `VMP3-Signature` header (``WebhookSignature``) with the
/// job owner's own secret (`WebhookSigningSecrets`: derived from
/// ``WebhookConfiguration/secret`` and the owner's generation in the job store).
///
/// - Each attempt has ``WebhookConfiguration/timeout``; connection errors, timeouts and 5xx
///   answers are retried with exponential backoff up to ``WebhookConfiguration/maxAttempts``;
///   any other answer outside 2xx (4xx, and 3xx: redirects are not followed, a POST must not
///   turn into a GET elsewhere) gives up at once.
/// - A receiver (host and port) whose deliveries keep being given up that way is backed off
///   (``WebhookConfiguration/receiverBackoff``, `ReceiverBackoff`): while it is, a delivery makes
///   one attempt, and one that succeeds ends the backoff.
/// - Every attempt carries the same `VMP3-Delivery` id, and is signed anew with its own time.
/// - The outcome, delivered or given up, goes to the `NotificationLedger` if there is one.
public struct WebhookNotifier: Notifier {
    public let configuration: WebhookConfiguration
    private let client: HTTPClient
    private let ledger: (any NotificationLedger)?
    private let logger: Logger
    private let secrets: WebhookSigningSecrets
    private let generations: (any JobStore)?
    /// Shared by the copies of this notifier: the receivers that keep failing.
    private let backoff: ReceiverBackoff

    /// - Parameters:
    ///   - configuration: the master secret, retries and the egress policy.
    ///   - client: should not follow redirects (``makeHTTPClient()``); the caller shuts it down.
    ///   - ledger: where deliveries are recorded, so that none is sent twice.
    ///   - generations: where each owner's secret generation is read (the job store the
    ///     gateway rotates in); without one, every owner is at generation 0.
    ///   - logger: for deliveries, retries and refusals.
    public init(
        configuration: WebhookConfiguration, client: HTTPClient, ledger: (any NotificationLedger)? = nil,
        generations: (any JobStore)? = nil, logger: Logger = Logger(label: "vmp3.webhook")
    ) {
        self.configuration = configuration
        self.client = client
        self.ledger = ledger
        self.logger = logger
        secrets = WebhookSigningSecrets(master: configuration.secret)
        self.generations = generations
        backoff = ReceiverBackoff(policy: configuration.receiverBackoff)
    }

    /// An HTTP client for webhooks: redirects are answers, not instructions.
    public static func makeHTTPClient() -> HTTPClient {
        HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration(pinning: [:]))
    }

    /// Redirects off; connections to the hosts of `pinning` go to the address given for each
    /// (TLS still checks the host's own name). A refused connection fails its attempt at once:
    /// the notifier's own attempts, with their backoff and their count in the ledger, are the
    /// retry policy, where the client's hidden reconnecting made one attempt last its 10 s
    /// connect timeout.
    static func clientConfiguration(pinning: [String: String]) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = pinning
        return configuration
    }

    public func supports(_ destination: NotificationDestination) -> Bool {
        if case .webhook = destination { return true }
        return false
    }

    public func deliver(_ event: JobEvent, to destination: NotificationDestination) async throws {
        var logger = logger
        logger[metadataKey: "job_id"] = "\(event.job.id)"
        logger[metadataKey: "delivery_id"] = "\(event.deliveryID)"
        guard case .webhook(let url) = destination else {
            throw NotificationError(code: .unsupported, message: "the webhook notifier cannot deliver to \(destination)")
        }
        do {
            let attempts = try await post(event, to: url, logger: logger)
            await ledger?.recordOutcome(of: event, channel: destination.channel, attempts: attempts, error: nil, logger: logger)
        } catch let error as NotificationError {
            logger.error("webhook given up", metadata: ["code": "\(error.code)", "attempts": "\(error.attempts)", "error": "\(error.message)"])
            await ledger?.recordOutcome(of: event, channel: destination.channel, attempts: error.attempts, error: error, logger: logger)
            throw error
        }
    }

    /// Sends until a 2xx answer; returns the number of attempts it took.
    private func post(_ event: JobEvent, to url: URL, logger: Logger) async throws -> Int {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw NotificationError(code: .invalidDestination, message: "not an http(s) URL: \(url.redactingPassword)")
        }
        let body = try JobDocument.makeEncoder().encode(WebhookEvent(event))
        let receiver = NotificationDispatcher.receiverKey(url)
        let backedOff = await backoff.backedOff(receiver) != nil
        do {
            let attempts = try await post(body, event, to: url, host: host, attempts: backedOff ? 1 : configuration.maxAttempts, logger: logger)
            await backoff.recordSuccess(receiver)
            return attempts
        } catch let failure as AttemptsFailed {
            guard failure.receiversFault else { throw failure.error }
            // The receiver's own failure, every attempt: count it toward (a longer) backoff.
            await backoff.recordFailure(receiver)
            guard backedOff, let until = await backoff.backedOff(receiver) else { throw failure.error }
            let seconds = Int(((until - .now) / .seconds(1)).rounded(.up))
            throw NotificationError(
                code: failure.error.code,
                message: "\(failure.error.message); the receiver keeps failing, so it had one attempt (backed off for \(seconds) s more)",
                attempts: failure.error.attempts
            )
        }
    }

    /// The attempts ran out: the last one's error, and whether it was the receiver's (no answer
    /// in time, a 5xx, a refused connection) rather than VMP3's own.
    private struct AttemptsFailed: Error {
        var error: NotificationError
        var receiversFault: Bool
    }

    /// Sends until a 2xx answer, at most `attempts` times; returns the number of attempts it took.
    private func post(_ body: Data, _ event: JobEvent, to url: URL, host: String, attempts maxAttempts: Int, logger: Logger) async throws -> Int {
        var lastError = NotificationError(code: .unavailable, message: "not attempted")
        var receiversFault = false
        for attempt in 1...maxAttempts {
            if attempt > 1 {
                try await Task.sleep(for: configuration.backoff(before: attempt))
            }
            // Read at every attempt: an owner who rotates between attempts gets the new secret.
            let generation: Int
            do {
                generation = try await generations?.webhookSecretGeneration(of: event.job.owner) ?? 0
            } catch {
                lastError = NotificationError(code: .unavailable, message: "cannot read the owner's webhook secret: \(error)", attempts: attempt)
                receiversFault = false
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(lastError.message)"])
                continue
            }
            let key = secrets.signingKey(for: event.job.owner, generation: generation)
            let signature = WebhookSignature(body: body, secret: key, timestamp: Int64(Date().timeIntervalSince1970))
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            request.headers.add(name: WebhookSignature.headerName, value: signature.headerValue)
            request.headers.add(name: "VMP3-Delivery", value: event.deliveryID)
            request.headers.add(name: "VMP3-Event", value: event.name)
            request.headers.add(name: "VMP3-Attempt", value: "\(attempt)")
            request.body = .bytes(ByteBuffer(bytes: body))
            // Resolved and checked now, and connected to exactly the address checked.
            let address: IPAddress
            do {
                address = try await configuration.egress.address(for: host)
            } catch where error.code == .unavailable {
                lastError = NotificationError(code: .unavailable, message: error.message, attempts: attempt)
                receiversFault = false
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(error.message)"])
                continue
            } catch {
                throw NotificationError(code: error.code, message: error.message, attempts: attempt)
            }
            let status: UInt
            do {
                status = try await send(request, pinning: host, to: address)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let timedOut = (error as? HTTPClientError).map { $0 == .deadlineExceeded || $0 == .readTimeout || $0 == .connectTimeout } ?? false
                lastError = NotificationError(
                    code: timedOut ? .timedOut : .unavailable,
                    message: timedOut ? "no answer within \(configuration.timeout)" : "\(error)", attempts: attempt
                )
                receiversFault = true
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(lastError.message)"])
                continue
            }
            switch status {
            case 200..<300:
                logger.info("webhook delivered", metadata: ["attempt": "\(attempt)", "status": "\(status)"])
                return attempt
            case 500..<600:
                lastError = NotificationError(code: .unavailable, message: "the receiver answered \(status)", attempts: attempt)
                receiversFault = true
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "status": "\(status)"])
            default:
                throw NotificationError(code: .rejected, message: "the receiver answered \(status)", attempts: attempt)
            }
        }
        throw AttemptsFailed(error: lastError, receiversFault: receiversFault)
    }

    /// Sends one attempt and returns the answer's status. A host name is pinned to `address` on
    /// a client of this attempt's own (the shared one cannot be pinned per request); an address
    /// literal goes through the shared client as it is.
    private func send(_ request: HTTPClientRequest, pinning host: String, to address: IPAddress) async throws -> UInt {
        guard IPAddress(host) == nil else { return try await execute(request, on: client) }
        let pinned = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(pinning: [host: address.description]))
        do {
            let status = try await execute(request, on: pinned)
            try? await pinned.shutdown()
            return status
        } catch {
            try? await pinned.shutdown()
            throw error
        }
    }

    /// The answer's status, within the attempt's deadline (connection, request and the answer's
    /// head). Its body is not read: a receiver may send `200` with `Content-Length: 10` and then
    /// nothing, and reading, which no deadline bounds, held a delivery for ever. Dropping the
    /// body closes the connection, which costs a reuse and nothing else.
    private func execute(_ request: HTTPClientRequest, on client: HTTPClient) async throws -> UInt {
        let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
        return response.status.code
    }
}
