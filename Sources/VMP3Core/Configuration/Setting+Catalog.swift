/// Every setting of the VMP3 programs. Adding one here documents it (the table in
/// Docs/operations.md is `vmp3 settings --markdown`, checked by a test) and lets
/// ``Settings/validate(for:)`` check it at start.
extension Setting {
    private static let services: Set<Program> = [.auth, .gateway, .converter, .notifier]
    private static let backendUsers: Set<Program> = [.gateway, .converter, .notifier]
    private static let jobLimits: Set<Program> = [.converter, .serve]
    private static let gatewayRoutes: Set<Program> = [.gateway, .serve]

    // MARK: Backends and files

    public static let storage = Setting(
        "VMP3_STORAGE", default: nil, "`file://$VMP3_DATA_DIR/objects`", form: .url(schemes: []), programs: backendUsers,
        meaning: "Where uploads and MP3s are kept: `file:///DIR` or `s3://BUCKET?endpoint=…&region=…`."
    )
    public static let queue = Setting(
        "VMP3_QUEUE", default: "memory:", form: .url(schemes: []), programs: backendUsers,
        meaning: "The job and outcome queues: `memory:`, `sqlite:///PATH` or `amqp://USER:PASSWORD@HOST:5672/VHOST`."
    )
    public static let store = Setting(
        "VMP3_STORE", default: "memory:", form: .url(schemes: []), programs: backendUsers.union([.auth]),
        meaning: "The job store (and, when Redis, the shared rate-limit counts and notification ledger): `memory:`, `sqlite:///PATH` or `redis://HOST:6379/DB`."
    )
    public static let dataDirectory = Setting(
        "VMP3_DATA_DIR", default: "vmp3-data", form: .text, programs: [.auth, .gateway, .converter, .notifier, .serve], flag: "--data-dir",
        meaning: "The folder of the embedded files: the default file storage, the users' database and the signing keys, `vmp3 serve`'s everything."
    )
    public static let awsAccessKeyID = Setting(
        "AWS_ACCESS_KEY_ID", default: nil, form: .text, programs: backendUsers,
        meaning: "The S3 access key, when `VMP3_STORAGE` is `s3://`."
    )
    public static let awsSecretAccessKey = Setting(
        "AWS_SECRET_ACCESS_KEY", default: nil, form: .secret(minimumBytes: 1), programs: backendUsers,
        meaning: "The S3 secret key, when `VMP3_STORAGE` is `s3://`."
    )
    public static let awsSessionToken = Setting(
        "AWS_SESSION_TOKEN", default: nil, form: .secret(minimumBytes: 1), programs: backendUsers,
        meaning: "An S3 session token, for temporary credentials."
    )

    // MARK: HTTP and logs

    public static let httpAddress = Setting(
        "VMP3_HTTP_ADDRESS", default: nil, "`127.0.0.1:` and 8081 (auth), 8080 (gateway), 8083 (converter), 8084 (notifier)",
        programDefaults: [.auth: "127.0.0.1:8081", .gateway: "127.0.0.1:8080", .converter: "127.0.0.1:8083", .notifier: "127.0.0.1:8084"],
        form: .hostAndPort, programs: services,
        meaning: "Where the service listens (`HOST:PORT`; the converter and the notifier serve only `/healthz`, `/readyz` and `/metrics`). `vmp3 serve` takes `--host` and `--port`."
    )
    public static let logLevel = Setting(
        "VMP3_LOG_LEVEL", default: "info", form: .logLevel, programs: services,
        meaning: "The least severe log level written to standard error. `vmp3 serve` takes `--verbose`."
    )
    public static let httpHeaderTimeout = Setting(
        "VMP3_HTTP_HEADER_TIMEOUT_SECONDS", default: "10", form: .number(0.1...86_400), programs: services.union([.serve]),
        meaning: "A connection whose request head has not arrived within this many seconds is closed."
    )
    public static let httpIdleTimeout = Setting(
        "VMP3_HTTP_IDLE_TIMEOUT_SECONDS", default: "60", form: .number(0.1...86_400), programs: services.union([.serve]),
        meaning: "A connection that has been idle this many seconds is closed."
    )
    public static let httpBodyTimeout = Setting(
        "VMP3_HTTP_BODY_TIMEOUT_SECONDS", default: "3600", form: .number(0.1...86_400), programs: services.union([.serve]),
        meaning: "An upload's body that has not ended this many seconds after its head is cut off."
    )
    public static let httpSmallBodyTimeout = Setting(
        "VMP3_HTTP_SMALL_BODY_TIMEOUT_SECONDS", default: "10", form: .number(0.1...86_400), programs: services.union([.serve]),
        meaning: "The body of any other request (a login's, a registration's: small JSON) that has not ended this many seconds after its head is cut off."
    )
    public static let httpConnectionsPerClient = Setting(
        "VMP3_HTTP_CONNECTIONS_PER_CLIENT", default: "64", form: .wholeNumber(0...1_000_000), programs: services.union([.serve]),
        meaning: "Connections one client (its address, an IPv6 one by its prefix) may hold open at once; more are closed as they come. Trusted proxies are not counted. `0`: no cap."
    )
    public static let trustedProxies = Setting(
        "VMP3_TRUSTED_PROXIES", default: nil, "loopback", form: .text, programs: [.auth, .gateway, .serve],
        meaning: "Addresses and blocks (comma-separated, or `none`) whose `X-Forwarded-For` is believed when finding a request's client."
    )

    public static let clientPrefixIPv4 = Setting(
        "VMP3_CLIENT_PREFIX_IPV4", default: "32", form: .wholeNumber(8...32), programs: [.auth, .gateway, .serve],
        meaning: "How many leading bits of an IPv4 address name one client for the per-client limits."
    )
    public static let clientPrefixIPv6 = Setting(
        "VMP3_CLIENT_PREFIX_IPV6", default: "64", form: .wholeNumber(16...128), programs: [.auth, .gateway, .serve],
        meaning: "How many leading bits of an IPv6 address name one client for the per-client limits: a /64 is one subscriber's, who may use any address in it."
    )

    // MARK: Auth

    public static let authURL = Setting(
        "VMP3_AUTH_URL", default: "http://127.0.0.1:8081", form: .url(schemes: ["http", "https"]), programs: [.gateway],
        meaning: "The auth service the gateway forwards `/v1/auth/*` to and fetches the token keys from."
    )
    public static let usersDatabase = Setting(
        "VMP3_USERS_DB", default: nil, "`$VMP3_DATA_DIR/users.sqlite`", form: .text, programs: [.auth],
        meaning: "The SQLite database of users."
    )
    public static let signingKey = Setting(
        "VMP3_SIGNING_KEY", default: nil, "`$VMP3_DATA_DIR/signing-key.pem`", form: .text, programs: [.auth],
        meaning: "The Ed25519 key tokens are signed with (PEM; made on first start)."
    )
    public static let previousSigningKey = Setting(
        "VMP3_PREVIOUS_SIGNING_KEY", default: nil, "`$VMP3_DATA_DIR/signing-key.previous.pem`", form: .text, programs: [.auth],
        meaning: "During a key rotation, the retired key whose tokens still verify (published, never used to sign)."
    )
    public static let passwordHashCost = Setting(
        "VMP3_PASSWORD_HASH_COST", default: nil, "`ln=15,r=8,p=3`", form: .text, programs: [.auth, .serve],
        meaning: "The scrypt cost of new password hashes (`ln=10…20,r=1…32,p=1…16`); older hashes are redone at the next login."
    )
    public static let registrationsPerClientPerHour = Setting(
        "VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR", default: "20", form: .wholeNumber(1...1_000_000), programs: [.auth, .serve],
        meaning: "Accounts one client address may register in an hour."
    )
    public static let jwksRefresh = Setting(
        "VMP3_JWKS_REFRESH_SECONDS", default: "300", form: .wholeNumber(1...86_400), programs: [.gateway],
        meaning: "How often the gateway fetches the auth service's keys again (also on a token of a key it does not know, at most every 10 s)."
    )

    // MARK: Uploads and jobs

    public static let maxUploadMB = Setting(
        "VMP3_MAX_UPLOAD_MB", default: "2048", form: .wholeNumber(1...1_048_576), programs: gatewayRoutes, flag: "--max-upload-mb",
        meaning: "The largest upload accepted, in MiB."
    )
    public static let uploadsPerMinute = Setting(
        "VMP3_UPLOADS_PER_MINUTE", default: "60", form: .wholeNumber(1...1_000_000), programs: gatewayRoutes,
        meaning: "Uploads one user may make in a minute."
    )
    public static let maxActiveJobs = Setting(
        "VMP3_MAX_ACTIVE_JOBS", default: "20", form: .wholeNumber(1...1_000_000), programs: gatewayRoutes,
        meaning: "Jobs one user may have queued or running at once."
    )
    public static let maxUploadsInFlight = Setting(
        "VMP3_MAX_UPLOADS_IN_FLIGHT", default: "4", form: .wholeNumber(1...1_000), programs: gatewayRoutes,
        meaning: "Uploads one user may be sending to one gateway at once; each holds its place in the active jobs and the quota while it streams."
    )
    public static let storageQuotaMB = Setting(
        "VMP3_STORAGE_QUOTA_MB", default: "10240", form: .wholeNumber(0...(1 << 40)), programs: gatewayRoutes, flag: "--storage-quota-mb",
        meaning: "MiB a user's uploads and MP3s may hold; `0`: no quota."
    )
    public static let maxEventStreamsPerUser = Setting(
        "VMP3_MAX_EVENT_STREAMS_PER_USER", default: "10", form: .wholeNumber(1...1_000_000), programs: gatewayRoutes,
        meaning: "Event streams (`GET /v1/jobs/{id}/events`) one user may hold open."
    )
    public static let maxEventStreams = Setting(
        "VMP3_MAX_EVENT_STREAMS", default: "2000", form: .wholeNumber(1...1_000_000), programs: gatewayRoutes,
        meaning: "Event streams the server holds open in all."
    )
    public static let downloadURLSeconds = Setting(
        "VMP3_DOWNLOAD_URL_SECONDS", default: "300", form: .wholeNumber(1...604_800), programs: gatewayRoutes,
        meaning: "How long a presigned download URL (`GET /v1/jobs/ID/download?redirect=1`, on S3) stays valid."
    )

    // MARK: Conversion

    public static let concurrency = Setting(
        "VMP3_CONCURRENCY", default: nil, "the number of cores", form: .wholeNumber(1...1024), programs: jobLimits, flag: "--concurrency",
        meaning: "Conversions run at once."
    )
    public static let leaseSeconds = Setting(
        "VMP3_LEASE_SECONDS", default: "60", form: .wholeNumber(2...86_400), programs: jobLimits,
        meaning: "How long a job stays with a converter that stopped answering before another takes it over."
    )
    public static let maxAttempts = Setting(
        "VMP3_MAX_ATTEMPTS", default: "5", form: .wholeNumber(1...1000), programs: jobLimits,
        meaning: "Runs of a job, counted when a converter takes it, before it fails as `gave_up`."
    )
    public static let shutdownGraceSeconds = Setting(
        "VMP3_SHUTDOWN_GRACE_SECONDS", default: "30", "`30` (`vmp3 serve`: `3`)", programDefaults: [.serve: "3"],
        form: .wholeNumber(0...86_400), programs: jobLimits, flag: "--shutdown-grace-seconds",
        meaning: "On SIGTERM, how long running conversions may finish before they are stopped and returned to the queue."
    )
    public static let maxAudioSeconds = Setting(
        "VMP3_MAX_AUDIO_SECONDS", default: "21600", form: .wholeNumber(0...Int(Int32.max)), programs: jobLimits,
        meaning: "The longest audio a job converts, in seconds; `0`: no limit."
    )
    public static let maxOutputMB = Setting(
        "VMP3_MAX_OUTPUT_MB", default: "1024", form: .wholeNumber(0...Int(Int32.max)), programs: jobLimits,
        meaning: "The largest MP3 a job writes, in MiB; `0`: no limit."
    )
    public static let maxConversionSeconds = Setting(
        "VMP3_MAX_CONVERSION_SECONDS", default: "3600", form: .wholeNumber(0...Int(Int32.max)), programs: jobLimits,
        meaning: "The longest a conversion may run, in seconds of wall time; `0`: no limit."
    )
    public static let converterSandbox = Setting(
        "VMP3_CONVERTER_SANDBOX", default: "sandbox", form: .oneOf(["sandbox", "none"]), programs: jobLimits,
        meaning: "Where uploads are decoded: `sandbox`, in a confined child process per conversion (`vmp3-convert-child`, beside the program: no files, no network, no secrets, killed at its limits; Docs/security.md); `none`, in the service's own process."
    )
    public static let conversionMemoryMB = Setting(
        "VMP3_CONVERSION_MEMORY_MB", default: "1024", form: .wholeNumber(0...Int(Int32.max)), programs: jobLimits,
        meaning: "The most memory one sandboxed conversion may use, in MiB (its address space may be twice this); more fails the job `memory_limit`. `0`: no limit."
    )
    public static let conversionWarmChildren = Setting(
        "VMP3_CONVERSION_WARM_CHILDREN", default: "1", form: .wholeNumber(0...64), programs: jobLimits,
        meaning: "How many sandboxed conversion children to keep started, warmed up and waiting, so that a job does not wait about 30 ms for one to load its libraries and make its first conversion's set-up. A waiting child holds about 48 MB resident (9 MB of it its own memory, the rest its libraries' pages), nothing of the service's, and confines itself when it gets a job. `0`: each conversion starts its own."
    )
    public static let videoFrameCovers = Setting(
        "VMP3_VIDEO_FRAME_COVERS", default: "on", form: .oneOf(["on", "off"]), programs: jobLimits,
        meaning: "Whether a job whose video carries no picture gets a frame of the video as its cover (`cover=auto`, `cover=at:SECONDS`). `off` keeps every video decoder away from uploads; such jobs get no cover."
    )

    // MARK: Conversion cache

    public static let conversionCache = Setting(
        "VMP3_CONVERSION_CACHE", default: "user", form: .oneOf(["off", "user", "shared"]), programs: [.gateway, .converter, .serve],
        meaning: "Whether an upload converted before with the same options gets a copy of that MP3 instead of a conversion: `user` (its owner's conversions only), `shared` (anyone's: saves more, but tells a user someone converted the same file), `off`. Kept in the job store's backend; the gateway and the converters must agree."
    )
    public static let conversionCacheHours = Setting(
        "VMP3_CONVERSION_CACHE_HOURS", default: "168", form: .wholeNumber(1...87_600), programs: [.gateway, .converter, .serve],
        meaning: "Hours a conversion stays in the cache (an entry whose MP3 has been deleted with its job is a miss)."
    )

    // MARK: Maintenance

    public static let retentionDays = Setting(
        "VMP3_RETENTION_DAYS", default: "7", form: .number(0...36_500), programs: jobLimits, flag: "--retention-days",
        meaning: "Days an ended job and its MP3 are kept (decimals allowed); `0`: for ever."
    )
    public static let requeueAfterSeconds = Setting(
        "VMP3_REQUEUE_AFTER_SECONDS", default: "600", form: .number(1...86_400), programs: jobLimits,
        meaning: "A job queued this long whose message was never published (its creator stopped in between), or running this long without a lease renewal, has its message published; one waiting in the queue is left alone."
    )
    public static let maintenanceInterval = Setting(
        "VMP3_MAINTENANCE_INTERVAL_SECONDS", default: "60", form: .number(0.1...86_400), programs: jobLimits,
        meaning: "Seconds between two maintenance sweeps."
    )

    // MARK: Notifications

    public static let webhookSecret = Setting(
        "VMP3_WEBHOOK_SECRET", default: nil, "none (`vmp3 serve`: a secret made in its data folder)", form: .secret(minimumBytes: 16),
        programs: [.gateway, .notifier, .serve],
        meaning: "The master secret each user's webhook signing secret is derived from; without it the notifier sends no webhooks and the gateway shows no secrets."
    )
    public static let webhookAllowedNetworks = Setting(
        "VMP3_WEBHOOK_ALLOWED_NETWORKS", default: nil, form: .text, programs: [.gateway, .notifier, .serve],
        meaning: "Internal addresses and blocks (comma-separated) webhook URLs may name; others are refused."
    )
    public static let smtp = Setting(
        "VMP3_SMTP", default: nil, form: .url(schemes: ["smtp", "smtps"]), programs: [.notifier, .serve], flag: "--smtp",
        meaning: "The SMTP server e-mail goes through: `smtp[s]://[USER:PASSWORD@]HOST:PORT?from=ADDRESS`; without it no e-mail."
    )
    public static let publicURL = Setting(
        "VMP3_PUBLIC_URL", default: nil, "none (`vmp3 serve`: its own address)", form: .url(schemes: ["http", "https"]), programs: [.notifier, .serve],
        meaning: "The gateway's address as users reach it, for the links in e-mails."
    )
    public static let emailAllowedRecipients = Setting(
        "VMP3_EMAIL_ALLOWED_RECIPIENTS", default: nil, "none", form: .text, programs: [.gateway, .notifier, .serve],
        meaning: "Who may be e-mailed (comma-separated addresses, `@domain`, or `*`); others are refused at upload."
    )

    /// Every setting, in the order of the documentation.
    public static let all: [Setting] = [
        storage, queue, store, dataDirectory, awsAccessKeyID, awsSecretAccessKey, awsSessionToken,
        httpAddress, logLevel, httpHeaderTimeout, httpIdleTimeout, httpBodyTimeout, httpSmallBodyTimeout, httpConnectionsPerClient, trustedProxies, clientPrefixIPv4, clientPrefixIPv6,
        authURL, usersDatabase, signingKey, previousSigningKey, passwordHashCost, registrationsPerClientPerHour, jwksRefresh,
        maxUploadMB, uploadsPerMinute, maxActiveJobs, maxUploadsInFlight, storageQuotaMB, maxEventStreamsPerUser, maxEventStreams, downloadURLSeconds,
        concurrency, leaseSeconds, maxAttempts, shutdownGraceSeconds, maxAudioSeconds, maxOutputMB, maxConversionSeconds, converterSandbox, conversionMemoryMB, conversionWarmChildren, videoFrameCovers,
        conversionCache, conversionCacheHours, retentionDays, requeueAfterSeconds, maintenanceInterval,
        webhookSecret, webhookAllowedNetworks, smtp, publicURL, emailAllowedRecipients,
    ]

    /// The settings as the Markdown table of Docs/operations.md.
    public static var markdownTable: String {
        var lines = ["| setting | default | read by | meaning |", "|---|---|---|---|"]
        for setting in all {
            let name = "`\(setting.name)`" + (setting.flag.map { " (`\($0)`)" } ?? "")
            let programs = setting.programs.sorted().map { "`\($0.rawValue)`" }.joined(separator: ", ")
            lines.append("| \(name) | \(setting.defaultDescription) | \(programs) | \(setting.meaning) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
