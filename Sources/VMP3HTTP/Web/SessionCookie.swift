import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The web page's session: the caller's access token in an `HttpOnly; Secure; SameSite=Strict`
/// cookie, so that the browser can send it where it cannot set an `Authorization` header (an
/// `EventSource`, an `<audio>` element, a download link) and no script on the page can read it.
///
/// A cookie travels with every request the browser makes to this origin, so a request that
/// changes something (anything but `GET` and `HEAD`) authenticated by the cookie must also carry
/// ``csrfHeader`` with ``csrfToken(for:)`` of the cookie's token — a value another site can
/// neither read nor compute. `SameSite=Strict` already keeps the cookie off cross-site
/// requests in current browsers; the token is the defence that does not depend on that.
///
/// `Secure` is always set: browsers accept it on `https` and on `http://localhost` and
/// `http://127.0.0.1`, which they treat as secure. Plain `http` on any other host cannot keep
/// a session (the page says so).
public enum SessionCookie {
    /// The cookie's name.
    public static let name = "vmp3_session"
    /// The header a cookie-authenticated request that changes something carries.
    public static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The CSRF token that goes with a session's access token: SHA-256 over a label and the
    /// token, base64url. Whoever knows it cannot recover the token from it.
    public static func csrfToken(for token: String) -> String {
        let digest = SHA256.hash(data: Data(("vmp3-csrf\u{0}" + token).utf8))
        return Data(digest).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Whether `presented` is the CSRF token of `token`, compared in constant time.
    public static func isValid(csrf presented: String?, for token: String) -> Bool {
        guard let presented else { return false }
        let expected = Array(csrfToken(for: token).utf8), given = Array(presented.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The cookie that holds `token` until it expires at `expiresAt`.
    static func holding(_ token: String, expiresAt: Date, now: Date = Date()) -> Cookie {
        Cookie(
            // Clamped before the conversion to Int: a token's expiry is a number it carries.
            name: name, value: token, maxAge: Int(max(0, min(expiresAt.timeIntervalSince(now), 366 * 86_400))), path: "/",
            secure: true, httpOnly: true, sameSite: .strict
        )
    }

    /// The cookie that ends the session (the browser drops it at once).
    static var cleared: Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    /// The session's token in `request`, if it carries the cookie.
    static func token(in request: Request) -> String? {
        guard let value = request.cookies[name]?.value, !value.isEmpty else { return nil }
        return value
    }
}
