import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import VMP3Kit

/// A ``Notifier`` for ``NotificationDestination/webhook(_:)``: POSTs the event as JSON
/// (``WebhookEvent``), signed in the `VMP3-Signature` header (``WebhookSignature``).
///
/// - Each attempt has ``WebhookConfiguration/timeout``; connection errors, timeouts and 5xx
///   answers are retried with exponential backoff up to ``WebhookConfiguration/maxAttempts``;
///   any other answer outside 2xx (4xx, and 3xx: redirects are not followed, a POST must not
///   turn into a GET elsewhere) gives up at once.
/// - Every attempt carries the same `VMP3-Delivery` id, and is signed anew with its own time.
/// - The outcome, delivered or given up, goes to the ``NotificationLedger`` if there is one.
public struct WebhookNotifier: Notifier {
    public let configuration: WebhookConfiguration
    private let client: HTTPClient
    private let ledger: (any NotificationLedger)?
    private let logger: Logger

    /// - Parameter client: should not follow redirects (``makeHTTPClient()``); the caller shuts it down.
    public init(
        configuration: WebhookConfiguration, client: HTTPClient, ledger: (any NotificationLedger)? = nil,
        logger: Logger = Logger(label: "vmp3.webhook")
    ) {
        self.configuration = configuration
        self.client = client
        self.ledger = ledger
        self.logger = logger
    }

    /// An HTTP client for webhooks: redirects are answers, not instructions.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host?.isEmpty == false else {
            throw NotificationError(code: .invalidDestination, message: "not an http(s) URL: \(url.redactingPassword)")
        }
        let body = try JobDocument.makeEncoder().encode(WebhookEvent(event))
        var lastError = NotificationError(code: .unavailable, message: "not attempted")
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                try await Task.sleep(for: configuration.backoff(before: attempt))
            }
            let signature = WebhookSignature(body: body, secret: configuration.secret, timestamp: Int64(Date().timeIntervalSince1970))
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            request.headers.add(name: WebhookSignature.headerName, value: signature.headerValue)
            request.headers.add(name: "VMP3-Delivery", value: event.deliveryID)
            request.headers.add(name: "VMP3-Event", value: event.name)
            request.headers.add(name: "VMP3-Attempt", value: "\(attempt)")
            request.body = .bytes(ByteBuffer(bytes: body))
            let status: UInt
            do {
                let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
                status = response.status.code
                // The answer's body is not needed; read a little so the connection can be reused.
                _ = try? await response.body.collect(upTo: 64 * 1024)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let timedOut = (error as? HTTPClientError).map { $0 == .deadlineExceeded || $0 == .readTimeout || $0 == .connectTimeout } ?? false
                lastError = NotificationError(
                    code: timedOut ? .timedOut : .unavailable,
                    message: timedOut ? "no answer within \(configuration.timeout)" : "\(error)", attempts: attempt
                )
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(lastError.message)"])
                continue
            }
            switch status {
            case 200..<300:
                logger.info("webhook delivered", metadata: ["attempt": "\(attempt)", "status": "\(status)"])
                return attempt
            case 500..<600:
                lastError = NotificationError(code: .unavailable, message: "the receiver answered \(status)", attempts: attempt)
                logger.warning("webhook attempt failed", metadata: ["attempt": "\(attempt)", "status": "\(status)"])
            default:
                throw NotificationError(code: .rejected, message: "the receiver answered \(status)", attempts: attempt)
            }
        }
        throw lastError
    }
}
