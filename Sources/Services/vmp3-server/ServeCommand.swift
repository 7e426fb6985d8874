import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VMP3Auth
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Kit
import VMP3SQLite
import VMP3Transport

/// `vmp3 serve`: the four services in one process — the auth routes, the gateway, a converter and
/// the notifier — on durable embedded backends under the data directory (files for uploads and
/// MP3s; jobs, both queues and the notification ledger in `vmp3.sqlite`; users in SQLite; a token
/// signing key and a webhook secret made on first start). Jobs survive a restart or `kill -9`:
/// those that were running start again. For trying VMP3 with nothing installed, and for one
/// machine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the VMP3 HTTP API on embedded backends, converting in this process."
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8080

    // The flags below are settings (`vmp3 settings`): a flag given wins over its variable,
    // which wins over the setting's default.
    @Option(name: .customLong("data-dir"), help: "Where uploads, MP3s, jobs, users and the signing key are kept (VMP3_DATA_DIR; default vmp3-data).")
    var dataDirectory: String?

    @Option(name: .customLong("max-upload-mb"), help: "The largest upload accepted, in MiB (VMP3_MAX_UPLOAD_MB; default 2048).")
    var maxUploadMB: String?

    @Option(help: "Conversions run at once (VMP3_CONCURRENCY; default: the number of cores).")
    var concurrency: String?

    @Option(name: .customLong("shutdown-grace-seconds"), help: "On SIGTERM or Ctrl-C, how long running conversions may finish before they are stopped and kept for the next start (VMP3_SHUTDOWN_GRACE_SECONDS; default 3).")
    var shutdownGraceSeconds: String?

    @Option(name: .customLong("storage-quota-mb"), help: "MiB a user's uploads and MP3s may hold (VMP3_STORAGE_QUOTA_MB; 0: no quota; default 10240).")
    var storageQuotaMB: String?

    @Option(name: .customLong("retention-days"), help: "Days an ended job and its MP3 are kept (VMP3_RETENTION_DAYS; 0: for ever; default 7).")
    var retentionDays: String?

    @Option(help: "Send e-mail through this SMTP server (VMP3_SMTP: smtp[s]://host:port?from=ADDRESS; default: no e-mail).")
    var smtp: String?

    @Option(name: .customLong("example-video"), help: "The video the printed curl commands upload.")
    var exampleVideo = "video.mp4"

    @Flag(help: "Log every request and job step.")
    var verbose = false

    /// The environment's settings with the flags given in their place.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> Settings {
        Settings(environment, program: .serve)
            .overriding(.dataDirectory, with: dataDirectory)
            .overriding(.maxUploadMB, with: maxUploadMB)
            .overriding(.concurrency, with: concurrency)
            .overriding(.shutdownGraceSeconds, with: shutdownGraceSeconds)
            .overriding(.storageQuotaMB, with: storageQuotaMB)
            .overriding(.retentionDays, with: retentionDays)
            .overriding(.smtp, with: smtp)
    }

    func run() async throws {
        // As the services do: uploads and transfers go through large buffers.
        ProcessAllocator.mapLargeBlocks()
        // Everything it makes in the data directory (password hashes, keys, uploads, MP3s) is
        // the owner's alone, from the moment it is created.
        umask(0o077)
        var logger = Logger(label: "vmp3") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        let settings = settings()
        do {
            try settings.validate(for: .serve)
            try await serve(settings: settings, logger: logger)
        } catch let error as ConfigurationError {
            ServerFailure.exit(error.message, status: 78)  // EX_CONFIG
        }
    }

    private func serve(settings: Settings, logger: Logger) async throws {
        VMP3Metrics.bootstrap()
        let data = settings.dataDirectory
        let cache = try BackendConfiguration(settings: settings)
        let backends: Backends
        do {
            backends = try Backends.durable(dataDirectory: data, cacheScope: cache.cacheScope, cacheLifetime: cache.cacheLifetime)
        } catch let error as ConfigurationError {
            throw ConfigurationError("data directory \(data.relativePath): \(error.message)")
        }
        let users = try UserDirectory(path: data.appendingPathComponent("users.sqlite").path, hasher: try ScryptPasswordHasher(settings: settings))
        let key = try SigningKey.loadOrCreate(at: data.appendingPathComponent("signing-key.pem").path)
        let limits = try ConversionLimits(settings: settings)
        let maintenance = try JobMaintenance.Configuration(settings: settings)
        var channels = try NotificationChannels(settings: settings)
        // Each user's webhook secret is derived from $VMP3_WEBHOOK_SECRET, or from a master secret
        // kept in the data directory.
        let secretFile = data.appendingPathComponent("webhook-secret").path
        let egress = try WebhookEgressPolicy(settings: settings)
        if channels.webhook == nil {
            channels.webhook = try WebhookConfiguration(secretFile: secretFile)
            channels.webhook?.egress = egress
        }
        if channels.email != nil && channels.email?.publicBaseURL == nil && port != 0 {
            channels.email?.publicBaseURL = URL(string: "http://\(host):\(port)")
        }

        let router = VMP3Router.make(
            auth: AuthRoutes(
                authenticator: Authenticator(users: users, issuer: await JWTTokenIssuer(signingKey: key)), publicKeys: [key.publicKey],
                configuration: try AuthRoutes.Configuration(settings: settings)
            ),
            jobs: JobRoutes(service: backends.jobService, configuration: try JobRoutes.Configuration(settings: settings)),
            webhookSecrets: WebhookSecretRoutes(store: backends.store, secrets: channels.webhook.map { WebhookSigningSecrets(master: $0.secret) }),
            verifier: await JWTTokenVerifier(publicKeys: [key.publicKey]),
            health: HealthRoutes(backends: backends),
            trustedProxies: try TrustedProxies(settings: settings),
            clientPrefixes: try ClientPrefixes(settings: settings)
        )
        let host = host
        let video = exampleVideo
        let signing = settings.isGiven(.webhookSecret) ? "$VMP3_WEBHOOK_SECRET" : "the secret in \(secretFile)"
        let app = Application(
            router: router,
            server: try HTTPServerLimits(settings: settings).server(logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "vmp3"),
            onServerRunning: { channel in
                let base = "http://\(host):\(channel.localAddress?.port ?? 0)"
                Self.printInstructions(base: base, video: video, webhookSigning: signing)
            },
            logger: logger
        )
        var workerConfiguration = try ConversionWorker.Configuration(settings: settings)
        workerConfiguration.temporaryDirectory = data.appendingPathComponent("work", isDirectory: true)
        let worker = ConversionWorker(
            converter: try ConverterChoice.make(settings: settings, limits: limits),
            storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
            caching: backends.caching, configuration: workerConfiguration, logger: logger
        )
        let ledger = SQLiteNotificationLedger(database: try SQLiteDatabase.at(data.appendingPathComponent(Backends.databaseFileName).path))
        let client = WebhookNotifier.makeHTTPClient()
        let notifier = NotificationDispatcher(
            outcomes: backends.outcomes, notifiers: channels.makeNotifiers(client: client, ledger: ledger, store: backends.store, logger: logger),
            ledger: ledger, logger: logger
        )
        logger.info("notifying by \(channels.summary)")
        let sweeps = JobMaintenance(storage: backends.storage, store: backends.store, queue: backends.jobs, configuration: maintenance, logger: logger)
        try await ServiceGroup(
            services: [BackendsService(backends), HTTPClientService(client), app, worker, sweeps, notifier],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ).run()
    }

    static func printInstructions(base: String, video: String, webhookSigning: String) {
        let upload = "'" + video.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        let text = """
        VMP3 is serving on \(base) (stop with Ctrl-C). From a terminal, as any API client:

          curl -s \(base)/v1/auth/register -H 'Content-Type: application/json' -d '{"email":"you@example.com","password":"a long passphrase"}'
          TOKEN=$(curl -s \(base)/v1/auth/login -H 'Content-Type: application/json' -d '{"email":"you@example.com","password":"a long passphrase"}' | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
          JOB=$(curl -s "\(base)/v1/jobs?bitrate=192" -H "Authorization: Bearer $TOKEN" --data-binary @\(upload) | sed -E 's/.*"id":"([^"]+)".*/\\1/')
          curl -s -N \(base)/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN"
          curl -s \(base)/v1/jobs/$JOB/download -H "Authorization: Bearer $TOKEN" -o video.mp3

        Add webhook_url=URL to the upload's query for a webhook when the job ends, signed with your
        own secret: curl -s \(base)/v1/webhook-secret -H "Authorization: Bearer $TOKEN"
        (derived from \(webhookSigning)). The API: \(base)/openapi.json

        In a browser, sign up, upload videos, play and download their MP3s at:

          \(base)/

        """
        // Written straight to the descriptor: a pipe (a test, a log collector) sees it at once.
        try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8))
    }
}
