// swift-tools-version: 6.0
import PackageDescription

// Dependencies point one way: Services -> (VMP3Auth, VMP3Transport) -> VMP3Kit -> C targets.
// VMP3Auth, VMP3Transport and the four services join this graph in later issues.
let package = Package(
    name: "VMP3",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VMP3Kit", targets: ["VMP3Kit"]),
        .executable(name: "vmp3", targets: ["vmp3"]),
        .executable(name: "ConvertFile", targets: ["ConvertFile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libswresample libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        .systemLibrary(
            name: "CLame",
            providers: [.apt(["libmp3lame-dev"])]
        ),

        .target(
            name: "VMP3Kit",
            dependencies: [
                "CFFmpeg",
                "CLame",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "vmp3",
            dependencies: [
                "VMP3Kit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Services/vmp3"
        ),
        .executableTarget(
            name: "ConvertFile",
            dependencies: ["VMP3Kit"],
            path: "Examples/ConvertFile"
        ),

        // Depends on the vmp3 executable only so that `swift test` builds it for the CLI tests.
        .testTarget(
            name: "VMP3KitTests",
            dependencies: ["VMP3Kit", "vmp3"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
