// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Weights",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Weights", targets: ["Weights"]),
        .library(name: "WeightsEngine", targets: ["WeightsEngine"]),
        .executable(name: "weights", targets: ["WeightsCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
    ],
    targets: [
        // System libraries, installed by scripts/setup (Debian: libzstd-dev, libopenblas-dev).
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        // SIMD kernels that need instruction sets beyond the x86-64 baseline (F16C, AVX2,
        // AVX-512: the engine's GEMM).
        // They use per-function target attributes and runtime CPU checks, not compiler flags.
        .target(name: "CWeightsSIMD"),
        // System calls Swift's Glibc module does not declare (sync_file_range).
        .target(name: "CWeightsSystem"),
        .target(
            name: "Weights",
            dependencies: [
                "CZstd",
                "CWeightsSIMD",
                "CWeightsSystem",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "WeightsEngine",
            dependencies: ["Weights", "COpenBLAS", "CWeightsSIMD"]
        ),
        .executableTarget(
            name: "WeightsCLI",
            dependencies: [
                "Weights",
                "WeightsEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "WeightsBench",
            dependencies: ["Weights", "WeightsEngine"],
            path: "Benchmarks/WeightsBench"
        ),
        .testTarget(name: "WeightsTests", dependencies: ["Weights"]),
        .testTarget(name: "WeightsEngineTests", dependencies: ["WeightsEngine", "Weights"]),
        .testTarget(name: "WeightsCLITests", dependencies: ["Weights"]),
    ]
)
