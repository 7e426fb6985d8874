// swift-tools-version: 6.0
import PackageDescription

// VMP3's own executables are linked by lld with packed relative relocations (DT_RELR; glibc 2.36,
// Debian 12): gold's 2 MB of relocation records, which the loader reads whole at every start and
// which stay resident, become 17 KB, and a conversion's peak memory is about 1 MB lower. They
// export no symbols: `--static-swift-stdlib` asks for `-export-dynamic`, which put the 12,000
// public symbols of the packages' modules in the dynamic symbol table, where the loader looks up
// every symbol of every shared library first (1 MB more resident; Docs/performance.md). The
// examples are linked as any embedder's program would be.
let executableLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(
        ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
        .when(platforms: [.linux])
    ),
]

// Dependencies point one way: Services -> (VMP3AuthHTTP, VMP3HTTP, VMP3Auth, VMP3Transport,
// VMP3SQLite) -> VMP3Core. Only VMP3MediaConverter reaches FFmpeg and LAME, only VMP3SQLite and
// VMP3Auth reach SQLite; VMP3Kit is the umbrella embedders import (VMP3Core, VMP3Sandbox and
// VMP3MediaConverter).
// Docs/architecture.md has the graph and which shared libraries each executable links.
let package = Package(
    name: "VMP3",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VMP3Kit", targets: ["VMP3Kit"]),
        .library(name: "VMP3Core", targets: ["VMP3Core"]),
        .library(name: "VMP3MediaConverter", targets: ["VMP3MediaConverter"]),
        .library(name: "VMP3Sandbox", targets: ["VMP3Sandbox"]),
        .library(name: "VMP3AuthHTTP", targets: ["VMP3AuthHTTP"]),
        .library(name: "VMP3Conformance", targets: ["VMP3Conformance"]),
        .library(name: "VMP3SQLite", targets: ["VMP3SQLite"]),
        .library(name: "VMP3Auth", targets: ["VMP3Auth"]),
        .library(name: "VMP3Transport", targets: ["VMP3Transport"]),
        .library(name: "VMP3HTTP", targets: ["VMP3HTTP"]),
        .executable(name: "vmp3", targets: ["vmp3"]),
        .executable(name: "vmp3-server", targets: ["vmp3-server"]),
        .executable(name: "vmp3-convert-child", targets: ["vmp3-convert-child"]),
        .executable(name: "ConvertFile", targets: ["ConvertFile"]),
        .executable(name: "EmbeddedPipeline", targets: ["EmbeddedPipeline"]),
        .executable(name: "GatewayClient", targets: ["GatewayClient"]),
        .executable(name: "CustomObjectStore", targets: ["CustomObjectStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        // `swift package generate-documentation`: scripts/docs.sh builds the DocC catalogues.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libswresample libswscale libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswresample-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        .systemLibrary(
            name: "CLame",
            providers: [.apt(["libmp3lame-dev"])]
        ),
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // The C-free core: models, the seam protocols, errors, JobService, the embedded
        // backends and the worker (against the AudioConverter protocol).
        .target(
            name: "VMP3Core",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The plumbing between a program and its conversion child: spawn, descriptor passing, pidfd.
        .target(name: "CSandbox"),
        // The conversion child's confinement: rlimits, namespaces, capabilities, seccomp (libseccomp).
        .target(
            name: "CConfinement",
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        // The sandboxed converter's parent side: starts, feeds, supervises and kills conversion
        // children. No FFmpeg: a program that converts only in children (the `vmp3` CLI) loads none.
        .target(
            name: "VMP3Sandbox",
            dependencies: [
                "VMP3Core",
                "CSandbox",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The in-process converter on FFmpeg's libraries and LAME: the one module that links them;
        // and the conversion child's side of the sandbox, which runs it.
        .target(
            name: "VMP3MediaConverter",
            dependencies: [
                "VMP3Core",
                "VMP3Sandbox",
                "CFFmpeg",
                "CLame",
                "CSandbox",
                "CConfinement",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The umbrella: `import VMP3Kit` gives an embedder the core and both converters.
        .target(
            name: "VMP3Kit",
            dependencies: ["VMP3Core", "VMP3Sandbox", "VMP3MediaConverter"]
        ),
        // The durable embedded backends (SQLite through GRDB): job store, queues, notification
        // ledger. Its own module, so that a program that keeps no state links no SQLite.
        .target(
            name: "VMP3SQLite",
            dependencies: [
                "VMP3Core",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "VMP3Auth",
            dependencies: [
                "VMP3Core",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "VMP3Transport",
            dependencies: [
                "VMP3Core",
                "CRabbitMQ",
                "CHiredis",
                "CCurl",
                "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The HTTP face of the SDK (Hummingbird 2): the gateway's routes, problem+json, bearer
        // tokens, rate limits, health and metrics. The services compose it; other programs can too.
        // It knows tokens only through VMP3Core's TokenVerifier, so that the converter and the
        // notifier, which serve /healthz with it, link no jwt-kit or SQLite.
        .target(
            name: "VMP3HTTP",
            dependencies: [
                "VMP3Core",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The web page, compiled into the module: a binary copied anywhere serves it.
            resources: [
                .embedInCode("Web/Assets/index.html"), .embedInCode("Web/Assets/app.js"),
                .embedInCode("Web/Assets/app.css"), .embedInCode("Web/Assets/icon.svg"),
                // And the API's description, served at /openapi.json.
                .embedInCode("Health/openapi.json"),
            ]
        ),
        // The auth service's routes (register, login, refresh, JWKS) on VMP3HTTP and VMP3Auth.
        .target(
            name: "VMP3AuthHTTP",
            dependencies: [
                "VMP3Core",
                "VMP3Auth",
                "VMP3HTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The conformance suites: one per protocol, written once, run against every backend
        // (ours in the test targets; a third party's as Examples/CustomObjectStore shows).
        .target(
            name: "VMP3Conformance",
            dependencies: ["VMP3Core", "VMP3TestSupport"]
        ),

        // Helpers the test targets share: scratch folders, running external programs.
        .target(
            name: "VMP3TestSupport",
            dependencies: [
                "VMP3Core",
                "CThreadSampler",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/VMP3TestSupport"
        ),
        // Starts VMP3TestSupport's cooperative pool watchdog before main in VMP3's test process
        // (each test target depends on it; VMP3Conformance's users do not get it).
        .target(name: "CTestWatchdog", dependencies: ["VMP3TestSupport"], path: "Tests/CTestWatchdog"),
        // The test traits the test targets share (Swift Testing is linked into tests alone).
        .target(name: "VMP3TestScoping", dependencies: ["VMP3Core"], path: "Tests/VMP3TestScoping"),
        // Takes a thread's stack from inside the process, for the watchdog's reports.
        .target(name: "CThreadSampler", path: "Tests/CThreadSampler"),

        // The `vmp3` command: convert and probe in conversion children, and settings. It links no
        // FFmpeg: its children load that. Its server commands (`serve`, `create-bucket`) run
        // `vmp3-server`, so that a conversion loads no HTTP server, SQLite or network clients
        // (Docs/architecture.md).
        .executableTarget(
            name: "vmp3",
            dependencies: [
                "VMP3Core",
                "VMP3Sandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/vmp3",
            linkerSettings: executableLinkerSettings
        ),
        // `vmp3 serve` and `vmp3 create-bucket`, which `vmp3` hands over to it.
        .executableTarget(
            name: "vmp3-convert-child",
            dependencies: ["VMP3MediaConverter"],
            path: "Sources/Services/vmp3-convert-child",
            linkerSettings: executableLinkerSettings
        ),
        .executableTarget(
            name: "vmp3-server",
            dependencies: [
                "VMP3Kit",
                "VMP3SQLite",
                "VMP3Auth",
                "VMP3HTTP",
                "VMP3AuthHTTP",
                "VMP3Transport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/vmp3-server",
            linkerSettings: executableLinkerSettings
        ),
        // The four services: configuration from the environment, SDK types composed, run under
        // ServiceLifecycle.
        .executableTarget(
            name: "vmp3-auth",
            dependencies: ["VMP3Core", "VMP3Auth", "VMP3HTTP", "VMP3AuthHTTP", "VMP3Transport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Sources/Services/vmp3-auth",
            linkerSettings: executableLinkerSettings
        ),
        .executableTarget(
            name: "vmp3-gateway",
            dependencies: [
                "VMP3Core", "VMP3Auth", "VMP3HTTP", "VMP3Transport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/vmp3-gateway",
            linkerSettings: executableLinkerSettings
        ),
        .executableTarget(
            name: "vmp3-converter",
            dependencies: ["VMP3Core", "VMP3MediaConverter", "VMP3HTTP", "VMP3Transport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Sources/Services/vmp3-converter",
            linkerSettings: executableLinkerSettings
        ),
        .executableTarget(
            name: "vmp3-notifier",
            dependencies: [
                "VMP3Core", "VMP3HTTP", "VMP3Transport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Services/vmp3-notifier",
            linkerSettings: executableLinkerSettings
        ),
        .executableTarget(
            name: "ConvertFile",
            dependencies: ["VMP3Kit"],
            path: "Examples/ConvertFile"
        ),
        .executableTarget(
            name: "EmbeddedPipeline",
            dependencies: [
                "VMP3Kit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/EmbeddedPipeline"
        ),
        .executableTarget(
            name: "GatewayClient",
            dependencies: [
                "VMP3Core",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            path: "Examples/GatewayClient"
        ),
        // A backend of someone else's, checked by the SDK's conformance suite.
        .executableTarget(
            name: "CustomObjectStore",
            dependencies: ["VMP3Core", "VMP3Conformance", .product(name: "Crypto", package: "swift-crypto")],
            path: "Examples/CustomObjectStore"
        ),

        // The conversion fuzzer (scripts/fuzz.sh builds it with libFuzzer); in an ordinary build,
        // a replayer of the inputs it is given.
        .executableTarget(
            name: "vmp3-fuzz-conversion",
            dependencies: ["VMP3Kit"],
            path: "Tests/Fuzz/ConversionFuzzer"
        ),

        // The Swift half of Benchmarks/transport_benchmark.py.
        .executableTarget(
            name: "vmp3-transport-bench",
            dependencies: ["VMP3Transport", "VMP3Core"],
            path: "Benchmarks/TransportBenchmark"
        ),

        // The Swift half of Benchmarks/sandbox_benchmark.py.
        .executableTarget(
            name: "vmp3-sandbox-bench",
            dependencies: ["VMP3Kit"],
            path: "Benchmarks/SandboxBenchmark"
        ),

        // Depends on the executables only so that `swift test` builds them for the CLI and
        // example tests.
        .testTarget(
            name: "VMP3KitTests",
            dependencies: [
                "CTestWatchdog",
                "VMP3TestScoping",
                "VMP3Kit",
                "VMP3Core",
                "VMP3MediaConverter",
                "VMP3Sandbox",
                "VMP3Conformance",
                "VMP3TestSupport",
                "vmp3",
                "vmp3-server",
                "vmp3-convert-child",
                "ConvertFile",
                "EmbeddedPipeline",
                "CustomObjectStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Inputs the fuzzer found bugs with, replayed by MutationCorpusTests.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "VMP3TransportTests",
            dependencies: [
                "CTestWatchdog",
                "VMP3TestScoping",
                "VMP3Transport",
                // Built for the end-to-end test, which runs them as processes.
                "vmp3-auth", "vmp3-gateway", "vmp3-converter", "vmp3-notifier", "vmp3", "vmp3-server", "GatewayClient",
                "VMP3Kit",
                "VMP3Auth",
                "VMP3HTTP",
                "VMP3AuthHTTP",
                "VMP3Conformance",
                "VMP3TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "VMP3SQLiteTests",
            dependencies: [
                "CTestWatchdog",
                "VMP3TestScoping",
                "VMP3SQLite",
                "VMP3Kit",
                "VMP3Conformance",
                "VMP3TestSupport",
                "vmp3",
                "vmp3-server",
            ]
        ),
        .testTarget(
            name: "VMP3HTTPTests",
            dependencies: [
                "CTestWatchdog",
                "VMP3TestScoping",
                "VMP3HTTP",
                "VMP3Auth",
                "VMP3AuthHTTP",
                "VMP3Kit",
                "VMP3TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "VMP3AuthTests",
            dependencies: [
                "CTestWatchdog",
                "VMP3TestScoping",
                "VMP3Auth",
                "VMP3Kit",
                "VMP3TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
