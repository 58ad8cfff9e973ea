// swift-tools-version: 6.1
import PackageDescription

/// The commit `scripts/package` stamps into the binary (`FORWARDER_BUILD_COMMIT`), kept to
/// characters that are safe inside a C string; plain builds leave it out and say "unknown".
let buildCommit = Context.environment["FORWARDER_BUILD_COMMIT"].map { commit in
    String(commit.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "-._+".contains($0)) }.prefix(64))
}.flatMap { $0.isEmpty ? nil : $0 }

let package = Package(
    name: "BlastwareEventForwarder",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "event-forwarder", targets: ["event-forwarder"]),
        .executable(name: "forwarder-sim", targets: ["forwarder-sim"]),
        .library(name: "ForwarderCore", targets: ["ForwarderCore"]),
        .library(name: "ForwarderIO", targets: ["ForwarderIO"]),
        .library(name: "ForwarderSimulation", targets: ["ForwarderSimulation"]),
        .library(name: "MockSFMServer", targets: ["MockSFMServer"]),
        .library(name: "BlastwareFixtures", targets: ["BlastwareFixtures"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Decisions only: no file system, no wall clock, no randomness, no network.
        .target(
            name: "ForwarderCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/ForwarderCore"
        ),
        // One C function returning the stamped commit: a new commit recompiles only this.
        .target(
            name: "CBuildStamp",
            path: "Sources/CBuildStamp",
            cSettings: buildCommit.map { [.define("FORWARDER_BUILD_COMMIT", to: "\"\($0)\"")] } ?? []
        ),
        // The only production code that touches the OS.
        .target(
            name: "ForwarderIO",
            dependencies: [
                "ForwarderCore",
                "CBuildStamp",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/ForwarderIO"
        ),
        .executableTarget(
            name: "event-forwarder",
            dependencies: [
                "ForwarderIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/event-forwarder"
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Simulator/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "ForwarderSimulation",
            dependencies: [
                "ForwarderCore",
                "ForwarderIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulator/ForwarderSimulation"
        ),
        .target(
            name: "MockSFMServer",
            dependencies: [
                "ForwarderSimulation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulator/MockSFMServer"
        ),
        .target(
            name: "BlastwareFixtures",
            dependencies: ["CZlib"],
            path: "Simulator/BlastwareFixtures"
        ),
        // The live world: the real forwarder on a real folder against the mock on a socket.
        .target(
            name: "SimulationHarness",
            dependencies: [
                "ForwarderCore",
                "ForwarderIO",
                "ForwarderSimulation",
                "MockSFMServer",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulator/SimulationHarness"
        ),
        .executableTarget(
            name: "forwarder-sim",
            dependencies: [
                "SimulationHarness",
                "ForwarderCore",
                "ForwarderIO",
                "ForwarderSimulation",
                "MockSFMServer",
                "BlastwareFixtures",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Simulator/forwarder-sim"
        ),
        .testTarget(
            name: "ForwarderCoreTests",
            dependencies: ["ForwarderCore"]
        ),
        .testTarget(
            name: "ForwarderIOTests",
            dependencies: [
                "ForwarderCore",
                "ForwarderIO",
                "event-forwarder",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "GeneratorTests",
            dependencies: [
                "ForwarderCore",
                "ForwarderSimulation",
                "BlastwareFixtures",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "MockServerTests",
            dependencies: [
                "ForwarderCore",
                "ForwarderSimulation",
                "MockSFMServer",
                // The reference MultipartFraming is held to (MultipartFramingDifferentialTests).
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: [
                "SimulationHarness",
                "event-forwarder",
                "ForwarderCore",
                "ForwarderIO",
                "ForwarderSimulation",
                "MockSFMServer",
                "BlastwareFixtures",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)
