import Foundation
import VMP3Core

/// Where and how e-mail is sent, from a URL:
///
/// `smtp://[USER:PASSWORD@]HOST[:PORT]?from=ADDRESS[&tls=required|opportunistic|none][&ca_file=PATH][&timeout=SECONDS]`
/// or `smtps://…` for TLS from the first byte (port 465).
///
/// With `smtp://`, `tls` says what to do about STARTTLS: `required` (the default: never send
/// credentials or mail in clear), `opportunistic` (use it if the server offers it) or `none`.
public struct SMTPConfiguration: Sendable, Hashable {
    public enum Security: String, Sendable, Hashable {
        /// Plain SMTP.
        case none
        /// STARTTLS if the server offers it, plain otherwise.
        case opportunistic
        /// STARTTLS, or no mail at all.
        case required
        /// TLS from the start (`smtps://`).
        case implicit
    }

    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    /// The envelope and header sender.
    public var from: String
    public var security: Security
    /// A PEM bundle of the certificate authorities to trust instead of the system's.
    public var caFile: String?
    /// How long one message may take to send, connection included.
    public var timeout: Duration

    public init(
        host: String, port: Int = 587, username: String? = nil, password: String? = nil, from: String,
        security: Security = .required, caFile: String? = nil, timeout: Duration = .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.from = from
        self.security = security
        self.caFile = caFile
        self.timeout = timeout
    }

    /// Reads the URL form described above.
    ///
    /// - Throws: `ConfigurationError` for another scheme, no host, no or a malformed `from`, an
    ///   unknown `tls` value.
    public init(url: URL) throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "smtp" || scheme == "smtps" else {
            throw ConfigurationError("not an smtp:// or smtps:// URL: \(url.redactingPassword)")
        }
        guard let host = url.host, !host.isEmpty else {
            throw ConfigurationError("the SMTP URL has no host: \(url.redactingPassword)")
        }
        let query = Dictionary(
            (URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { $1 }
        )
        guard let from = query["from"], EmailMessage.isPlausibleAddress(from) else {
            throw ConfigurationError("the SMTP URL needs from=ADDRESS, a valid e-mail address: \(url.redactingPassword)")
        }
        let security: Security
        if scheme == "smtps" {
            security = .implicit
        } else if let tls = query["tls"] {
            guard let value = Security(rawValue: tls), value != .implicit else {
                throw ConfigurationError("tls must be required, opportunistic or none, not \(tls)")
            }
            security = value
        } else {
            security = .required
        }
        var timeout = Duration.seconds(30)
        if let text = query["timeout"] {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw ConfigurationError("timeout must be a number of seconds up to 3600, not \(text)")
            }
            timeout = .milliseconds(Int64(seconds * 1000))
        }
        self.init(
            host: host, port: url.port ?? (scheme == "smtps" ? 465 : 587),
            username: url.user.flatMap { $0.removingPercentEncoding }, password: url.password.flatMap { $0.removingPercentEncoding },
            from: from, security: security, caFile: query["ca_file"].flatMap { $0.isEmpty ? nil : $0 }, timeout: timeout
        )
    }

    /// The URL libcurl connects to (no credentials: they are set apart). Its path is the name
    /// libcurl greets the server with (`EHLO`): the sender's domain.
    var serverURL: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
        return "\(security == .implicit ? "smtps" : "smtp")://\(bracketed):\(port)/\(domain)"
    }
}
