// weights-bench: the Swift side of the side-by-side benchmarks. Each mode times one operation
// in-process and prints one JSON object, {"mode": ..., "seconds": [...]}, for the Python
// drivers in Benchmarks/*/ to compare with their anchors in the same run.
//
// Usage: WeightsBench <mode> [arguments...]

import WeightsPlatform

let modes: [String: ([String]) throws -> Void] = [
    "open": CoreBench.open,
    "scan": CoreBench.scan,
    "scan-memory": CoreBench.scanMemory,
    "write": CoreBench.write,
    "compress": CompressionBench.compress,
    "decompress": CompressionBench.decompress,
    "zstd-decompress": CompressionBench.zstdDecompress,
    "convert-memory": ConversionBench.memory,
    "engine-throughput": EngineBench.throughput,
    "engine-memory": EngineBench.memory,
    "gguf-open": GGUFBench.open,
    "gguf-dequantize": GGUFBench.dequantize,
    "decoder-kernels": DecoderBench.kernels,
    "tokenizer-load": DecoderBench.tokenizerLoad,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first, let run = modes[mode] else {
    print("usage: WeightsBench <\(modes.keys.sorted().joined(separator: "|"))> [arguments...]")
    exit(2)
}
do {
    try run(Array(arguments.dropFirst()))
} catch {
    print("error: \(error)")
    exit(1)
}
