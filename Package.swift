// swift-tools-version: 6.2
import PackageDescription

// Products by weight. `WeightsCore` reads and writes the formats, maps files, handles shards
// and converts precisions with nothing but the Swift toolchain: its closure holds no system
// library and no swift-crypto. Each heavier subsystem is its own product on top of it, and
// `Weights` re-exports them all, so `import Weights` gives the whole package.
// ARCHITECTURE.md says why these are modules rather than package traits.
// Every Swift target compiles under strict memory safety (SE-0458): each use of an unsafe
// construct is marked `unsafe` in the source, where a reader can check why it is safe.
let swiftSettings: [SwiftSetting] = [.strictMemorySafety()]

let package = Package(
    name: "Weights",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WeightsCore", targets: ["WeightsCore"]),
        .library(name: "WeightsIntegrity", targets: ["WeightsIntegrity"]),
        .library(name: "WeightsCompression", targets: ["WeightsCompression"]),
        .library(name: "WeightsEngine", targets: ["WeightsEngine"]),
        .library(name: "Weights", targets: ["Weights"]),
        .executable(name: "weights", targets: ["WeightsCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        // `swift package generate-documentation` builds the DocC catalogs; nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
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
        // AVX-512: the engine's GEMM). Plain C, built from source with the package.
        // They use per-function target attributes and runtime CPU checks, not compiler flags.
        .target(name: "CWeightsSIMD"),
        // System calls Swift's Glibc module does not declare (sync_file_range), the SIGBUS
        // guard of mappings and temporary files removed on a signal.
        .target(name: "CWeightsSystem"),
        // The platform layer: the one file that names the C library (Glibc, Musl or Darwin);
        // it re-exports it with CWeightsSystem to every target that calls the system.
        .target(name: "WeightsPlatform", dependencies: ["CWeightsSystem"], swiftSettings: swiftSettings),

        // The light core: formats, mapping, shards, conversion. Toolchain only.
        // Lifetimes: `span` properties whose RawSpan borrows the tensor or storage (`@_lifetime`),
        // as swift-system and swift-nio declare theirs; callers need no feature to use them.
        .target(name: "WeightsCore", dependencies: ["CWeightsSIMD", "WeightsPlatform"],
                swiftSettings: swiftSettings + [.enableExperimentalFeature("Lifetimes")]),
        // Digests, manifests, verification and diff (swift-crypto for SHA-256).
        .target(
            name: "WeightsIntegrity",
            dependencies: ["WeightsCore", "WeightsPlatform", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The compressed container (libzstd); its chunks carry SHA-256 digests.
        .target(
            name: "WeightsCompression",
            dependencies: ["WeightsCore", "WeightsIntegrity", "WeightsPlatform", "CZstd", "CWeightsSIMD"],
            swiftSettings: swiftSettings
        ),
        // The inference engine (OpenBLAS).
        .target(name: "WeightsEngine", dependencies: ["WeightsCore", "WeightsPlatform", "COpenBLAS", "CWeightsSIMD"], swiftSettings: swiftSettings),
        // The umbrella: `import Weights` re-exports every library module but the engine.
        .target(name: "Weights", dependencies: ["WeightsCore", "WeightsIntegrity", "WeightsCompression"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "WeightsCLI",
            dependencies: [
                "Weights",
                "WeightsEngine",
                "WeightsPlatform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WeightsBench",
            dependencies: ["Weights", "WeightsEngine", "WeightsPlatform"],
            path: "Benchmarks/WeightsBench",
            swiftSettings: swiftSettings
        ),
        // Model lookup, temporary directories and seeded generators, shared by every test target.
        .target(name: "WeightsTestSupport", path: "Tests/WeightsTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "WeightsPlatform", "WeightsTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "WeightsEngineTests", dependencies: ["WeightsEngine", "Weights", "WeightsTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "WeightsCLITests", dependencies: ["Weights", "WeightsPlatform", "WeightsTestSupport"], swiftSettings: swiftSettings),
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
// conditionally, they stay out of ordinary builds and need no compiler flags in this file.
package.targets += [
    .target(name: "WeightsFuzzHarness", dependencies: ["Weights", "WeightsEngine", "WeightsPlatform"], path: "Fuzz/Harness",
            swiftSettings: swiftSettings),
    .testTarget(name: "WeightsFuzzTests", dependencies: ["WeightsFuzzHarness", "Weights", "WeightsTestSupport"],
                swiftSettings: swiftSettings),
]
if Context.environment["WEIGHTS_FUZZ"] != nil {
    // A fuzzer build compiles every executable as a library (-parse-as-library), which the
    // benchmark's top-level main.swift is not; it needs neither the CLI nor the benchmarks.
    package.targets.removeAll { $0.name == "WeightsBench" || $0.name == "WeightsCLI" || $0.type == .test }
    package.products.removeAll { $0.name == "weights" }
    for name in ["safetensors", "shard-index", "compressed", "manifest", "model-directory", "gguf"] {
        let module = "Fuzz" + name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        package.targets.append(.executableTarget(name: module, dependencies: ["WeightsFuzzHarness", "WeightsPlatform"], path: "Fuzz/\(name)",
                                                 swiftSettings: swiftSettings))
    }
}
