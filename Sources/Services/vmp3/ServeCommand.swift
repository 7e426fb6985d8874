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

    @Option(name: .customLong("data-dir"), help: "Where uploads, MP3s, jobs, users and the signing key are kept.")
    var dataDirectory = "vmp3-data"

    @Option(name: .customLong("max-upload-mb"), help: "The largest upload accepted, in MB.")
    var maxUploadMB = 2048

    @Option(help: "Conversions run at once (default: the number of cores).")
    var concurrency = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("shutdown-grace-seconds"), help: "On SIGTERM or Ctrl-C, how long running conversions may finish before they are stopped and kept for the next start.")
    var shutdownGraceSeconds = 3

    @Option(name: .customLong("storage-quota-mb"), help: "MiB a user's uploads and MP3s may hold (0: no quota; default: $VMP3_STORAGE_QUOTA_MB, or 10240).")
    var storageQuotaMB: String?

    @Option(name: .customLong("retention-days"), help: "Days an ended job and its MP3 are kept (0: for ever; default: $VMP3_RETENTION_DAYS, or 7).")
    var retentionDays: Double?

    @Option(help: "Send e-mail through this SMTP server (smtp[s]://host:port?from=ADDRESS; default: $VMP3_SMTP, or no e-mail).")
    var smtp: String?

    @Option(name: .customLong("example-video"), help: "The video the printed curl commands upload.")
    var exampleVideo = "video.mp4"

    @Flag(help: "Log every request and job step.")
    var verbose = false

    func run() async throws {
        let logger = CLILogging.logger(verbose: verbose)
        VMP3Metrics.bootstrap()
        let data = URL(fileURLWithPath: dataDirectory, isDirectory: true)
        let backends: Backends
        do {
            backends = try Backends.durable(dataDirectory: data)
        } catch let error as ConfigurationError {
            CLIFailure.exit(CLIFailure("data directory \(dataDirectory): \(error.message)", exitCode: 78))  // EX_CONFIG
        }
        let users = try UserDirectory(path: data.appendingPathComponent("users.sqlite").path, hasher: try ScryptPasswordHasher(environment: ProcessInfo.processInfo.environment))
        let key = try SigningKey.loadOrCreate(at: data.appendingPathComponent("signing-key.pem").path)
        // Each user's webhook secret is derived from $VMP3_WEBHOOK_SECRET, or from a master secret
        // kept in the data directory.
        var environment = ProcessInfo.processInfo.environment
        let limits = try ConversionLimits(environment: environment)
        var maintenance = try JobMaintenance.Configuration(environment: environment)
        if let retentionDays {
            guard (0...36_500).contains(retentionDays) else {
                CLIFailure.exit(CLIFailure("--retention-days must be from 0 to 36500, not \(retentionDays)", exitCode: 64))
            }
            maintenance.retention = retentionDays == 0 ? nil : .milliseconds(Int64((retentionDays * 86_400_000).rounded()))
        }
        if let smtp { environment["VMP3_SMTP"] = smtp }
        var channels = try NotificationChannels(environment: environment)
        let secretFile = data.appendingPathComponent("webhook-secret").path
        let egress = try WebhookEgressPolicy(environment: environment)
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
                configuration: try AuthRoutes.Configuration(environment: environment)
            ),
            jobs: JobRoutes(service: backends.jobService, configuration: try JobRoutes.Configuration(
                maxUploadBytes: Int64(maxUploadMB) << 20,
                storageQuotaBytes: try JobRoutes.Configuration.storageQuota(megabytes: storageQuotaMB ?? environment["VMP3_STORAGE_QUOTA_MB"]),
                webhookEgress: egress
            ).with(environment: environment)),
            webhookSecrets: WebhookSecretRoutes(store: backends.store, secrets: channels.webhook.map { WebhookSigningSecrets(master: $0.secret) }),
            verifier: await JWTTokenVerifier(publicKeys: [key.publicKey]),
            health: HealthRoutes(backends: backends),
            trustedProxies: try TrustedProxies(environment: environment)
        )
        let host = host
        let video = exampleVideo
        let signing = environment["VMP3_WEBHOOK_SECRET"] == nil ? "the secret in \(secretFile)" : "$VMP3_WEBHOOK_SECRET"
        let app = Application(
            router: router,
            server: try HTTPServerLimits(environment: environment).server,
            configuration: .init(address: .hostname(host, port: port), serverName: "vmp3"),
            onServerRunning: { channel in
                let base = "http://\(host):\(channel.localAddress?.port ?? 0)"
                Self.printInstructions(base: base, video: video, webhookSigning: signing)
            },
            logger: logger
        )
        var workerConfiguration = ConversionWorker.Configuration()
        workerConfiguration.concurrency = max(1, concurrency)
        workerConfiguration.shutdownGracePeriod = .seconds(max(0, shutdownGraceSeconds))
        workerConfiguration.temporaryDirectory = data.appendingPathComponent("work", isDirectory: true)
        let worker = ConversionWorker(
            converter: MediaConverter(configuration: .init(limits: limits)),
            storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
            configuration: workerConfiguration, logger: logger
        )
        let ledger = SQLiteNotificationLedger(database: try SQLiteDatabase.at(data.appendingPathComponent(Backends.databaseFileName).path))
        let client = WebhookNotifier.makeHTTPClient()
        let notifier = NotificationDispatcher(
            outcomes: backends.outcomes, notifiers: channels.makeNotifiers(client: client, ledger: ledger, store: backends.store, logger: logger),
            ledger: ledger, logger: logger
        )
        logger.info("notifying by \(channels.summary)")
        let sweeps = JobMaintenance(storage: backends.storage, store: backends.store, queue: backends.jobs, configuration: maintenance, logger: logger)
        let group = ServiceGroup(services: [BackendsService(backends), app, worker, sweeps, notifier], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func printInstructions(base: String, video: String, webhookSigning: String) {
        let upload = "'" + video.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        let text = """
        VMP3 is serving on \(base) (stop with Ctrl-C). Try it:

          curl -s \(base)/v1/auth/register -H 'Content-Type: application/json' -d '{"email":"you@example.com","password":"a long passphrase"}'
          TOKEN=$(curl -s \(base)/v1/auth/login -H 'Content-Type: application/json' -d '{"email":"you@example.com","password":"a long passphrase"}' | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
          JOB=$(curl -s "\(base)/v1/jobs?bitrate=192" -H "Authorization: Bearer $TOKEN" --data-binary @\(upload) | sed -E 's/.*"id":"([^"]+)".*/\\1/')
          curl -s -N \(base)/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN"
          curl -s \(base)/v1/jobs/$JOB/download -H "Authorization: Bearer $TOKEN" -o video.mp3

        Add webhook_url=URL to the upload's query for a webhook when the job ends, signed with your
        own secret: curl -s \(base)/v1/webhook-secret -H "Authorization: Bearer $TOKEN"
        (derived from \(webhookSigning)). The API: \(base)/openapi.json

        """
        // Written straight to the descriptor: a pipe (a test, a log collector) sees it at once.
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
