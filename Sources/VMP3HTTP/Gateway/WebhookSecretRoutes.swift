import Foundation
import Hummingbird
import VMP3Core

/// `GET /v1/webhook-secret` and `POST /v1/webhook-secret/rotate`: the caller's own webhook
/// signing secret (`WebhookSigningSecrets`), to verify the `VMP3-Signature` of the webhooks of
/// their jobs, and a new one when it may have leaked (the old one stops signing at once).
/// Behind bearer tokens; `Cache-Control: no-store`.
public struct WebhookSecretRoutes: Sendable {
    struct Secret: Encodable {
        var secret: String
        var generation: Int
    }

    let store: any JobStore
    /// `nil` when this deployment has no master secret: both routes are 404 `webhooks_not_configured`.
    let secrets: WebhookSigningSecrets?

    public init(store: any JobStore, secrets: WebhookSigningSecrets?) {
        self.store = store
        self.secrets = secrets
    }

    public func add(to group: RouterGroup<VMP3RequestContext>) {
        group.get("v1/webhook-secret") { _, context in
            let owner = try context.requireCaller()
            return try respond(owner, generation: try await store.webhookSecretGeneration(of: owner))
        }
        group.post("v1/webhook-secret/rotate") { _, context in
            let owner = try context.requireCaller()
            return try respond(owner, generation: try await store.rotateWebhookSecret(of: owner))
        }
    }

    private func respond(_ owner: UserID, generation: Int) throws -> Response {
        guard let secrets else {
            throw ProblemDetails(.notFound, code: "webhooks_not_configured", title: "Webhooks not configured", detail: "this server sends no webhooks")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = try encoder.encode(Secret(secret: secrets.secret(for: owner, generation: generation), generation: generation))
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
