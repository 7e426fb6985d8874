import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VMP3AuthHTTP
import VMP3HTTP

@Suite struct AuthRoutesTests {
    static let json: HTTPFields = [.contentType: "application/json"]

    @Test("register: 201, then 409 for the same address, 422 for a weak password, a bad address or a bad body")
    func register() async throws {
        try await TestGateway().run { client in
            let body = ByteBuffer(string: #"{"email":"Ann@Example.com","password":"correct horse battery"}"#)
            try await client.execute(uri: "/v1/auth/register", method: .post, headers: Self.json, body: body) { (response: TestResponse) async throws in
                #expect(response.status == .created)
                let user = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(user?["email"] as? String == "ann@example.com")
                #expect((user?["id"] as? String)?.isEmpty == false)
            }
            try await client.execute(uri: "/v1/auth/register", method: .post, headers: Self.json, body: body) { (response: TestResponse) async throws in
                #expect(response.status == .conflict)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONDecoder().decode(ProblemDetails.self, from: response.body)
                #expect(problem.code == "email_taken" && problem.status == .conflict)
            }
            for (payload, code) in [
                (#"{"email":"bob@example.com","password":"short"}"#, "weak_password"),
                (#"{"email":"not-an-address","password":"correct horse battery"}"#, "invalid_email"),
                (#"{"email":"bob@example.com"}"#, "invalid_body"),
                ("not json", "invalid_body"),
            ] {
                try await client.execute(uri: "/v1/auth/register", method: .post, headers: Self.json, body: ByteBuffer(string: payload)) { (response: TestResponse) async throws in
                    #expect(response.status == .unprocessableContent, "\(payload)")
                    #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == code)
                }
            }
        }
    }

    @Test("login: a bearer token for good credentials, 401 for bad ones, 429 with Retry-After past the limit of wrong passwords")
    func login() async throws {
        try await TestGateway(auth: AuthRoutes.Configuration(failuresPerAddressAndClient: 2, attemptsPerClient: 100)).run { client in
            _ = try await client.token(for: "cy@example.com")  // a login that succeeds counts no failure
            let wrong = ByteBuffer(string: #"{"email":"cy@example.com","password":"wrong password!"}"#)
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: Self.json, body: wrong) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized)
                #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "invalid_credentials")
            }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: Self.json, body: wrong) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: Self.json, body: wrong) { (response: TestResponse) async throws in
                #expect(response.status == .tooManyRequests)
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            // The same address written otherwise is the same bucket.
            for variant in [#"CY@Example.com\n"#, #" cy@example.com\t"#] {
                let body = ByteBuffer(string: #"{"email":"\#(variant)","password":"wrong password!"}"#)
                try await client.execute(uri: "/v1/auth/login", method: .post, headers: Self.json, body: body) { #expect($0.status == .tooManyRequests, "\(variant)") }
            }
            // Another address is not limited by cy's attempts.
            let other = try await client.token(for: "dee@example.com")
            #expect(other.split(separator: ".").count == 3)
        }
    }

    @Test("the JWK set holds the signing key's public half")
    func jwks() async throws {
        let gateway = try await TestGateway()
        try await gateway.run { client in
            try await client.execute(uri: "/v1/auth/jwks", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                let document = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: [[String: String]]]
                #expect(document?["keys"]?.first?["kid"] == gateway.signingKey.keyID)
                #expect(document?["keys"]?.first?["d"] == nil)
            }
        }
    }
}

@Suite struct OpenAPIRouteTests {
    @Test("GET /openapi.json serves Sources/VMP3HTTP/Health/openapi.json as it is in the repository: an OpenAPI 3.1 document")
    func servesTheDocument() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let onDisk = try String(contentsOf: repository.appendingPathComponent("Sources/VMP3HTTP/Health/openapi.json"), encoding: .utf8)
        let parsed = try JSONSerialization.jsonObject(with: Data(onDisk.utf8)) as? [String: Any]
        #expect(parsed?["openapi"] as? String == "3.1.0")
        #expect((parsed?["paths"] as? [String: Any])?["/v1/jobs"] != nil)
        try await TestGateway().run { client in
            try await client.execute(uri: "/openapi.json", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok && response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == onDisk)
            }
        }
    }
}

@Suite struct MetricsRouteTests {
    @Test("GET /metrics serves Prometheus text with the requests counted so far")
    func countsRequests() async throws {
        try await TestGateway().run { client in
            for _ in 0..<3 { try await client.execute(uri: "/healthz", method: .get) }
            try await client.execute(uri: "/metrics", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains("# TYPE hb_requests counter"), "\(text.prefix(2000))")
                #expect(text.contains(#"http_route="/healthz""#), "\(text.prefix(2000))")
            }
        }
    }
}
