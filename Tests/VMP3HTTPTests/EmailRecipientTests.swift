import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VMP3HTTP
import VMP3Kit

/// `notify_email=true` mails only the addresses the operator allows (``EmailRecipientPolicy``).
@Suite struct EmailRecipientTests {
    @Test("VMP3_EMAIL_ALLOWED_RECIPIENTS: addresses, domains with their subdomains, or everyone; nobody when unset; junk refused")
    func policy() throws {
        let policy = try EmailRecipientPolicy(settings: Settings(["VMP3_EMAIL_ALLOWED_RECIPIENTS": " Boss@Example.net , @corp.example.com"]))
        #expect(policy.allows("boss@example.net") && policy.allows("BOSS@example.NET"))
        #expect(policy.allows("ann@corp.example.com") && policy.allows("ann@eu.corp.example.com"))
        #expect(!policy.allows("ann@example.net") && !policy.allows("ann@evilcorp.example.com") && !policy.allows("ann@example.com"))
        #expect(!policy.allows("corp.example.com") && !policy.allows("ann@com"))
        #expect(try EmailRecipientPolicy(settings: Settings(["VMP3_EMAIL_ALLOWED_RECIPIENTS": "*"])).allows("anyone@anywhere.org"))
        let unset = try EmailRecipientPolicy(settings: Settings([:]))
        #expect(!unset.allowsAny && !unset.allows("ann@example.com"))
        for bad in ["ann", "@com", "a@b@c.d", "@", "@x@y.z", "ann@localhost"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try EmailRecipientPolicy(settings: Settings(["VMP3_EMAIL_ALLOWED_RECIPIENTS": bad])) }
        }
    }

    static func upload(_ client: some TestClientProtocol, token: String) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(
            uri: "/v1/jobs?notify_email=true", method: .post, headers: [.authorization: "Bearer \(token)"], body: try await Clip.bytes()
        ) { (response: TestResponse) async throws in (response.status, String(buffer: response.body)) }
    }

    @Test("notify_email=true is 422 email_not_allowed for an address not allowed (and by default), nothing stored; accepted for an allowed one")
    func uploadRefused() async throws {
        let gateway = try await TestGateway()
        try await gateway.run(converting: false) { client in
            let token = try await client.token(for: "ann@example.com")
            let (status, body) = try await Self.upload(client, token: token)
            #expect(status == .unprocessableContent && body.contains("email_not_allowed"), "\(body)")
        }
        #expect(gateway.storedFiles().isEmpty, "a refused upload leaves nothing")

        var configuration = JobRoutes.Configuration()
        configuration.emailRecipients = EmailRecipientPolicy(domains: ["example.com"])
        try await TestGateway(jobs: configuration).run(converting: false) { client in
            let (allowed, body) = try await Self.upload(client, token: try await client.token(for: "ann@example.com"))
            #expect(allowed == .accepted, "\(body)")
            let (other, _) = try await Self.upload(client, token: try await client.token(for: "ann@example.org"))
            #expect(other == .unprocessableContent)
        }
    }
}
