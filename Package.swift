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

// Fuzzing (issue #12; see RELIABILITY.md and scripts/fuzz).
//
// The harnesses — what each fuzz target does with one input — are an ordinary library target,
// so the test suite replays every input the fuzzers ever crashed on (Fixtures/fuzz/<target>/)
// through exactly the code the fuzzer ran. The libFuzzer executables exist only when
// WEIGHTS_FUZZ is set, as scripts/fuzz sets it: each is one file defining
// LLVMFuzzerTestOneInput and no main (libFuzzer brings its own), which links only when the
// whole build uses `--sanitize=fuzzer` (scripts/fuzz has the exact command). Declared
// conditionally, they stay out of ordinary builds and need no unsafeFlags.
package.targets += [
    .target(name: "WeightsFuzzHarness", dependencies: ["Weights", "WeightsEngine"], path: "Fuzz/Harness"),
    .testTarget(name: "WeightsFuzzTests", dependencies: ["WeightsFuzzHarness", "Weights"]),
]
if Context.environment["WEIGHTS_FUZZ"] != nil {
    // A fuzzer build compiles every executable as a library (-parse-as-library), which the
    // benchmark's top-level main.swift is not; it needs neither the CLI nor the benchmarks.
    package.targets.removeAll { $0.name == "WeightsBench" || $0.name == "WeightsCLI" || $0.type == .test }
    package.products.removeAll { $0.name == "weights" }
    for name in ["safetensors", "shard-index", "compressed", "manifest", "model-directory"] {
        let module = "Fuzz" + name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        package.targets.append(.executableTarget(name: module, dependencies: ["WeightsFuzzHarness"], path: "Fuzz/\(name)"))
    }
}
