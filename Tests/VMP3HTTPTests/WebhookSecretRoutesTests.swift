import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VMP3HTTP
import VMP3Kit

/// `GET /v1/webhook-secret` and `POST /v1/webhook-secret/rotate`.
@Suite struct WebhookSecretRoutesTests {
    struct Secret: Decodable, Equatable {
        var secret: String
        var generation: Int
    }

    static func secret(_ client: some TestClientProtocol, _ token: String?, rotate: Bool = false) async throws -> (HTTPResponse.Status, Secret?, String?) {
        let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
        return try await client.execute(uri: rotate ? "/v1/webhook-secret/rotate" : "/v1/webhook-secret", method: rotate ? .post : .get, headers: headers) { (response: TestResponse) async throws in
            (response.status, try? JSONDecoder().decode(Secret.self, from: response.body), response.headers[.cacheControl])
        }
    }

    @Test("each user reads their own secret (not cached), different from everyone else's; rotating changes only theirs; no token is 401")
    func ownSecrets() async throws {
        try await TestGateway().run(converting: false) { client in
            let ann = try await client.token(for: "ann@example.com")
            let bob = try await client.token(for: "bob@example.com")
            let (status, annSecret, cache) = try await Self.secret(client, ann)
            #expect(status == .ok && cache == "no-store")
            let first = try #require(annSecret)
            #expect(first.generation == 0 && first.secret.count == 70 && first.secret.hasPrefix("whsec_"))
            #expect(try await Self.secret(client, ann).1 == first, "the same until rotated")
            let bobSecret = try #require(try await Self.secret(client, bob).1)
            #expect(bobSecret.secret != first.secret)

            let (rotatedStatus, rotated, _) = try await Self.secret(client, ann, rotate: true)
            #expect(rotatedStatus == .ok && rotated?.generation == 1 && rotated?.secret != first.secret)
            #expect(try await Self.secret(client, ann).1 == rotated)
            #expect(try await Self.secret(client, bob).1 == bobSecret, "bob's is untouched")
            #expect(try await Self.secret(client, nil).0 == .unauthorized)
            #expect(try await Self.secret(client, nil, rotate: true).0 == .unauthorized)
        }
    }

    @Test("a server without a master secret sends no webhooks: 404 webhooks_not_configured")
    func notConfigured() async throws {
        try await TestGateway(webhookMaster: nil).run(converting: false) { client in
            let token = try await client.token(for: "ann@example.com")
            try await client.execute(uri: "/v1/webhook-secret", method: .get, headers: [.authorization: "Bearer \(token)"]) { (response: TestResponse) async throws in
                #expect(response.status == .notFound)
                #expect(try JSONDecoder().decode(ProblemDetails.self, from: response.body).code == "webhooks_not_configured")
            }
        }
    }
}
