import Weights

/// Benchmarks of the GGUF reader: opening a file, and dequantizing its tensors by type.
enum GGUFBench {
    /// `gguf-open FILE [--repeat N]`: open the file (header, metadata, tensor infos).
    static func open(_ arguments: [String]) throws {
        let path = arguments[0]
        var count = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 20)) {
            let file = try GGUFFile(path: path)
            count = file.tensors.count
        }
        Timing.report("gguf-open", seconds, extra: "\"tensors\":\(count)")
    }

    /// `gguf-dequantize FILE TYPE [--repeat N] [--threads N] [--portable]`: decode every
    /// tensor of ggml type TYPE (`Q4_K`, `Q8_0`, …) on up to N threads (default: all cores),
    /// with the SIMD kernels or (`--portable`) the portable loops; reports the elements
    /// decoded per run.
    static func dequantize(_ arguments: [String]) throws {
        let file = try GGUFFile(path: arguments[0])
        guard let type = GGMLType(name: arguments[1]) else { throw WeightsError(.invalidArgument, "unknown type \(arguments[1])") }
        let infos = file.tensors.filter { $0.type == type }
        let elements = infos.reduce(0) { $0 + $1.elementCount }
        let largest = infos.map(\.elementCount).max() ?? 0
        let threads = option("threads", in: arguments, default: ParallelChunks.availableCores)
        let kernel: ConversionKernel = arguments.contains("--portable") ? .portable : .best
        let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: largest)
        defer { unsafe output.deallocate() }
        var checksum: Float = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            checksum = 0
            for info in infos {
                let slice = unsafe UnsafeMutableBufferPointer(rebasing: output[0..<info.elementCount])
                unsafe try file.tensor(info).dequantize(into: slice, threads: threads, kernel: kernel)
                unsafe checksum += slice[info.elementCount / 2]
            }
        }
        Timing.report("gguf-dequantize", seconds, extra: "\"type\":\"\(type)\",\"threads\":\(threads),\"simd\":\(kernel == .best && type.dequantizesWithSIMD),\"elements\":\(elements),\"checksum\":\(checksum)")
    }
}
