import CCurl
import Foundation
import VMP3Core

/// Sends ``EmailMessage``s over SMTP with libcurl: plain, STARTTLS or implicit TLS as
/// ``SMTPConfiguration/security`` says.
///
/// libcurl blocks its thread for the whole exchange, so each message is sent on a Dispatch
/// thread, never on the Swift concurrency pool; ``SMTPConfiguration/timeout`` bounds it.
public struct SMTPMailer: Sendable {
    public let configuration: SMTPConfiguration

    public init(configuration: SMTPConfiguration) {
        self.configuration = configuration
    }

    /// Sends one message to `message.to`.
    ///
    /// - Throws: `NotificationError`: `rejected` when the server refused it for good (an SMTP
    ///   5xx reply, refused credentials, no STARTTLS where it is required), `timedOut`, or
    ///   `unavailable` (no connection, a 4xx reply: worth trying again later).
    public func send(_ message: EmailMessage) async throws {
        guard EmailMessage.isPlausibleAddress(message.to) else {
            throw NotificationError(code: .invalidDestination, message: "not an e-mail address: \(message.to)")
        }
        let configuration = configuration
        try await BlockingThreadPool.shared.run { try Self.sendBlocking(message, configuration: configuration) }
    }

    private static func sendBlocking(_ message: EmailMessage, configuration: SMTPConfiguration) throws {
        let curl: CurlEasyHandle
        do { curl = try CurlEasyHandle() } catch {
            throw NotificationError(code: .unavailable, message: "\(error)")
        }
        curl.set(CURLOPT_URL, configuration.serverURL)
        curl.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        switch configuration.security {
        case .none: curl.set(CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue))
        case .opportunistic: curl.set(CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue))
        case .required, .implicit: curl.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
        }
        if let caFile = configuration.caFile { curl.set(CURLOPT_CAINFO, caFile) }
        if let username = configuration.username { curl.set(CURLOPT_USERNAME, username) }
        if let password = configuration.password { curl.set(CURLOPT_PASSWORD, password) }
        curl.set(CURLOPT_TIMEOUT_MS, Int(configuration.timeout.wholeMilliseconds))
        curl.set(CURLOPT_MAIL_FROM, "<\(configuration.from)>")
        curl.set(CURLOPT_MAIL_RCPT, list: ["<\(message.to)>"])
        curl.setUpload(message.rendered())
        do {
            try curl.perform()
        } catch {
            throw Self.notificationError(error)
        }
    }

    static func notificationError(_ failure: CurlEasyHandle.Failure) -> NotificationError {
        let reply = failure.responseCode > 0 ? " (SMTP \(failure.responseCode))" : ""
        let message = "\(failure.message)\(reply)"
        switch failure.code {
        case CURLE_OPERATION_TIMEDOUT:
            return NotificationError(code: .timedOut, message: message)
        case CURLE_LOGIN_DENIED, CURLE_USE_SSL_FAILED, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            return NotificationError(code: .rejected, message: message)
        default:
            // SMTP: 5xx is a permanent refusal, 4xx (and no reply at all) a transient one.
            return NotificationError(code: (500..<600).contains(failure.responseCode) ? .rejected : .unavailable, message: message)
        }
    }
}
