// swift-tools-version: 6.1
import PackageDescription

/// The forwarder's package-benchmark suites, in a package of their own so that the benchmark
/// tooling (and its malloc interposer) never reaches the forwarder's users.
///
/// Run from this folder: `swift package --allow-writing-to-package-directory benchmark`.
let suiteDependencies: [Target.Dependency] = [
    .product(name: "Benchmark", package: "benchmark"),
    .product(name: "ForwarderCore", package: "BlastwareEventForwarder"),
    .product(name: "ForwarderIO", package: "BlastwareEventForwarder"),
    .product(name: "ForwarderSimulation", package: "BlastwareEventForwarder"),
    "BenchmarkGates",
]

let package = Package(
    name: "BlastwareEventForwarderBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "BlastwareEventForwarder", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "BenchmarkGates",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Sources/BenchmarkGates"
        ),
        .executableTarget(
            name: "Scanning",
            dependencies: suiteDependencies,
            path: "Benchmarks/Scanning",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Hashing",
            dependencies: suiteDependencies,
            path: "Benchmarks/Hashing",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StateStore",
            dependencies: suiteDependencies,
            path: "Benchmarks/StateStore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Uploads",
            dependencies: suiteDependencies + [
                .product(name: "MockSFMServer", package: "BlastwareEventForwarder"),
            ],
            path: "Benchmarks/Uploads",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
