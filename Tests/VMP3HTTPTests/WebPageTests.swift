import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VMP3HTTP
import VMP3Kit

/// The web page's server side: its files and their headers, the session cookie made from a
/// bearer token, and the CSRF check of requests that the cookie authenticates.
@Suite struct WebPageTests {
    struct Session: Decodable {
        var user_id: String
        var email: String?
        var csrf_token: String
    }

    /// The `name=value` of `Set-Cookie`, and its attributes, lower-cased.
    static func cookie(_ response: TestResponse) throws -> (value: String, attributes: Set<String>) {
        let header = try #require(response.headers[.setCookie])
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        return (String(parts[0].dropFirst("vmp3_session=".count)), Set(parts.dropFirst().map { $0.lowercased() }))
    }

    /// Logs `email` in and makes a session: the cookie's token and the CSRF token.
    static func session(_ client: some TestClientProtocol, _ email: String) async throws -> (cookie: String, csrf: String) {
        let token = try await client.token(for: email)
        return try await client.execute(uri: "/v1/session", method: .post, headers: [.authorization: "Bearer \(token)"]) { (response: TestResponse) async throws in
            #expect(response.status == .created)
            let (value, attributes) = try Self.cookie(response)
            #expect(value == token)
            #expect(attributes.isSuperset(of: ["httponly", "secure", "samesite=strict", "path=/"]), "\(attributes)")
            let maxAge = try #require(attributes.first { $0.hasPrefix("max-age=") }.flatMap { Int($0.dropFirst(8)) })
            #expect((3500...3600).contains(maxAge), "the cookie lasts as long as the token")
            #expect(response.headers[.cacheControl] == "no-store")
            let session = try JSONDecoder().decode(Session.self, from: response.body)
            #expect(session.email == email && session.csrf_token == SessionCookie.csrfToken(for: token))
            return (value, session.csrf_token)
        }
    }

    @Test("the page and its files: types, a strict CSP with no inline script, a validator and 304, HEAD")
    func assets() async throws {
        try await TestGateway().run(converting: false) { client in
            for (path, type) in ["/": "text/html", "/web/app.js": "text/javascript", "/web/app.css": "text/css", "/web/icon.svg": "image/svg+xml"] {
                let etag = try await client.execute(uri: path, method: .get) { (response: TestResponse) async throws in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    let policy = try #require(response.headers[.contentSecurityPolicy])
                    #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"))
                    #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                    #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                    #expect(response.body.readableBytes > 100)
                    return try #require(response.headers[.eTag])
                }
                try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: etag]) { (response: TestResponse) async throws in
                    #expect(response.status == .notModified && response.body.readableBytes == 0, "\(path)")
                }
                try await client.execute(uri: path, method: .head) { (response: TestResponse) async throws in
                    #expect(response.status == .ok && response.body.readableBytes == 0 && response.headers[.contentLength] != nil, "\(path)")
                }
            }
            // The page carries no inline script or style, and loads nothing from elsewhere.
            try await client.execute(uri: "/", method: .get) { (response: TestResponse) async throws in
                let html = String(buffer: response.body)
                #expect(html.contains(#"<script src="/web/app.js" defer></script>"#))
                #expect(html.ranges(of: "<script").count == 1 && !html.contains("style=") && html.firstMatch(of: /\son[a-z]+=/) == nil)
                #expect(!html.contains("http://") && !html.contains("https://"))
            }
        }
    }

    @Test("every response, an API error too, carries nosniff, no-referrer and frame-ancestors 'none'")
    func securityHeaders() async throws {
        try await TestGateway().run(converting: false) { client in
            for path in ["/healthz", "/v1/jobs", "/no-such-page", "/openapi.json"] {
                try await client.execute(uri: path, method: .get) { (response: TestResponse) async throws in
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                    #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(path)")
                }
            }
        }
    }

    @Test("a session from a bearer token: the cookie authenticates reads; writes need the CSRF token; logout clears it")
    func cookieSession() async throws {
        try await TestGateway().run(converting: false) { client in
            let (cookie, csrf) = try await Self.session(client, "cookie@example.com")
            let jar: HTTPFields = [.cookie: "vmp3_session=\(cookie)"]
            try await client.execute(uri: "/v1/session", method: .get, headers: jar) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try JSONDecoder().decode(Session.self, from: response.body).csrf_token == csrf)
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: jar) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
            }
            // An upload by cookie: refused without the CSRF token, or with a wrong one, before a byte is stored.
            // (The last character changed to another: one token in 64 already ends in "A".)
            let tampered = String(csrf.dropLast()) + (csrf.hasSuffix("A") ? "B" : "A")
            for headers: HTTPFields in [jar, jar + [SessionCookie.csrfHeader: "wrong"], jar + [SessionCookie.csrfHeader: tampered]] {
                try await client.execute(uri: "/v1/jobs?bitrate=128", method: .post, headers: headers, body: ByteBuffer(string: "not a video")) { (response: TestResponse) async throws in
                    #expect(response.status == .forbidden)
                    #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "csrf_failed")
                }
            }
            try await client.execute(uri: "/v1/jobs?bitrate=128", method: .post, headers: jar + [SessionCookie.csrfHeader: csrf], body: try await Clip.bytes()) { (response: TestResponse) async throws in
                #expect(response.status == .accepted)
            }
            // Another session's CSRF token does not fit this one.
            let (_, otherCSRF) = try await Self.session(client, "other@example.com")
            try await client.execute(uri: "/v1/jobs?bitrate=128", method: .post, headers: jar + [SessionCookie.csrfHeader: otherCSRF], body: ByteBuffer(string: "x")) { (response: TestResponse) async throws in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/session", method: .delete, headers: jar) { (response: TestResponse) async throws in
                #expect(response.status == .noContent)
                let (value, attributes) = try Self.cookie(response)
                #expect(value.isEmpty && attributes.contains("max-age=0"))
            }
        }
    }

    @Test("a session needs a valid bearer token; a tampered or missing cookie is 401; the header wins over the cookie")
    func refusals() async throws {
        try await TestGateway().run(converting: false) { client in
            try await client.execute(uri: "/v1/session", method: .post) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized && response.headers[.setCookie] == nil)
            }
            try await client.execute(uri: "/v1/session", method: .post, headers: [.authorization: "Bearer not.a.token"]) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized && response.headers[.setCookie] == nil)
            }
            // A session cannot be made from a cookie: only from a token the caller holds.
            let (cookie, _) = try await Self.session(client, "first@example.com")
            try await client.execute(uri: "/v1/session", method: .post, headers: [.cookie: "vmp3_session=\(cookie)"]) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/session", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized)
            }
            let tampered = String(cookie.dropLast(2)) + (cookie.hasSuffix("AA") ? "BB" : "AA")
            try await client.execute(uri: "/v1/jobs", method: .get, headers: [.cookie: "vmp3_session=\(tampered)"]) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized)
            }
            // A bearer client is not asked for a CSRF token, even when a cookie came along.
            let token = try await client.token(for: "bearer@example.com")
            try await client.execute(
                uri: "/v1/jobs", method: .get, headers: [.authorization: "Bearer \(token)", .cookie: "vmp3_session=\(tampered)"]
            ) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("the CSRF token is tied to the session's token and is no copy of it")
    func csrfToken() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
        let csrf = SessionCookie.csrfToken(for: token)
        #expect(csrf == SessionCookie.csrfToken(for: token) && csrf != SessionCookie.csrfToken(for: token + "x"))
        #expect(!csrf.contains(".") && !token.contains(csrf) && csrf.count == 43)
        #expect(SessionCookie.isValid(csrf: csrf, for: token))
        #expect(!SessionCookie.isValid(csrf: nil, for: token) && !SessionCookie.isValid(csrf: "", for: token))
        #expect(!SessionCookie.isValid(csrf: csrf + "A", for: token))
    }
}

private func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var fields = lhs
    fields.append(contentsOf: rhs)
    return fields
}
