import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import VMP3Auth
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Kit
import VMP3TestSupport

/// The auth and job routes in one application on embedded backends, with a conversion worker,
/// as `vmp3 serve` composes them; tests drive it over HTTP.
struct TestGateway: Sendable {
    let auth: AuthRoutes
    let jobs: JobRoutes
    let verifier: JWTTokenVerifier
    let signingKey: SigningKey
    let storageDirectory: URL
    let backends: Backends
    let webhookSecrets: WebhookSecretRoutes

    init(
        jobs configuration: JobRoutes.Configuration = JobRoutes.Configuration(),
        auth: AuthRoutes.Configuration = AuthRoutes.Configuration(registrationsPerAddress: 1000, registrationsPerClient: 1000),
        webhookMaster: String? = "test-webhook-master-secret"
    ) async throws {
        VMP3Metrics.bootstrap()
        storageDirectory = try makeScratchDirectory()
        backends = try Backends.embedded(storageDirectory: storageDirectory)
        // A cheap scrypt on a pool of its own: these tests are about HTTP, not password hashing,
        // and must not wait behind the costly hashes other tests run in the process's pool.
        let users = try UserDirectory(path: nil, hasher: ScryptPasswordHasher(logN: 8), hashingPool: PasswordHashingPool(width: 2))
        signingKey = try SigningKey.generate()
        let issuer = await JWTTokenIssuer(signingKey: signingKey)
        let verifier = await JWTTokenVerifier(publicKeys: [signingKey.publicKey])
        self.auth = AuthRoutes(authenticator: Authenticator(users: users, issuer: issuer), publicKeys: [signingKey.publicKey], configuration: auth)
        jobs = JobRoutes(service: backends.jobService, configuration: configuration)
        webhookSecrets = WebhookSecretRoutes(store: backends.store, secrets: webhookMaster.map { WebhookSigningSecrets(master: $0) })
        self.verifier = verifier
    }

    /// Runs `body` against the application served on a loopback port, with a worker converting
    /// (or, with `converting` false, none: jobs stay queued).
    func run<Value: Sendable>(converting: Bool = true, _ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let worker = ConversionWorker(storage: backends.storage, queue: backends.jobs, store: backends.store)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = converting ? [.init(service: worker)] : []
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: Logger(label: "test.worker")))
        let task = Task { try await group.run() }
        defer { task.cancel() }
        let app = Application(router: VMP3Router.make(auth: auth, jobs: jobs, webhookSecrets: webhookSecrets, verifier: verifier), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let value = try await app.test(.live) { client in try await body(client) }
        await group.triggerGracefulShutdown()
        try await task.value
        return value
    }

    /// Files under the storage directory (sources and outputs), hidden ones included.
    func storedFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: storageDirectory.path)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: storageDirectory.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files
    }
}

/// A short real clip made by the ffmpeg CLI (H.264 + AAC in MP4), once per test run.
actor Clip {
    static let shared = Clip()
    /// One making, awaited by every caller: a second caller arriving while ffmpeg runs (the
    /// actor is reentrant at the await) must not start another ffmpeg on the same file and read
    /// the first one's half-written output.
    private var making: Task<URL, any Error>?

    func mp4() async throws -> URL {
        if let making { return try await making.value }
        let task = Task { try await TestClip.make(at: testRoot.appendingPathComponent("clip.mp4")) }
        making = task
        return try await task.value
    }

    static func bytes() async throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: try await shared.mp4()))
    }
}

extension TestClientProtocol {
    /// Registers `email` and returns a bearer token for it.
    func token(for email: String, password: String = "correct horse battery") async throws -> String {
        let credentials = ByteBuffer(string: #"{"email":"\#(email)","password":"\#(password)"}"#)
        try await execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"], body: credentials)
        return try await execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"], body: credentials) { (response: TestResponse) async throws in
            try JSONDecoder().decode(IssuedAccessToken.self, from: response.body).access_token
        }
    }
}

struct IssuedAccessToken: Decodable {
    var access_token: String
}

extension JSONDecoder {
    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try decode(type, from: Data(buffer: buffer))
    }
}
