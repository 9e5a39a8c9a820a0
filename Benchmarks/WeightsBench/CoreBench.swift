import Weights

/// Benchmarks of the core format: opening, reading and writing safetensors files.
enum CoreBench {
    /// `open FILE [--repeat N]`: open the file and list its tensor names.
    static func open(_ arguments: [String]) throws {
        let path = arguments[0]
        var count = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 20)) {
            let file = try SafetensorsFile(path: path)
            count = file.tensors.map(\.name).count
        }
        Timing.report("open", seconds, extra: "\"tensors\":\(count)")
    }

    /// `scan FILE [--repeat N]`: open the file and read every byte of every tensor.
    static func scan(_ arguments: [String]) throws {
        let path = arguments[0]
        var checksum: UInt64 = 0
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            let file = try SafetensorsFile(path: path)
            checksum = 0
            for info in file.tensors {
                unsafe file.tensor(info).withUnsafeBytes { unsafe checksum &+= sum(of: $0) }
            }
        }
        Timing.report("scan", seconds, extra: "\"checksum\":\(checksum)")
    }

    /// `scan-memory BYTES [--repeat N]`: the same reading loop over a buffer already in memory,
    /// the memory-bandwidth bound for `scan`.
    static func scanMemory(_ arguments: [String]) throws {
        let count = Int(arguments[0])!
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
        defer { unsafe buffer.deallocate() }
        for index in stride(from: 0, to: count, by: 8) { unsafe buffer.storeBytes(of: UInt64(index), toByteOffset: index, as: UInt64.self) }
        var checksum: UInt64 = 0
        let seconds = Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            checksum = unsafe sum(of: UnsafeRawBufferPointer(buffer))
        }
        Timing.report("scan-memory", seconds, extra: "\"checksum\":\(checksum)")
    }

    /// `write SOURCE DEST [--repeat N] [--no-sync]`: write the tensors of SOURCE (loaded into
    /// memory first, as Python's save_file gets them) to DEST.
    static func write(_ arguments: [String]) throws {
        let source = try SafetensorsFile(path: arguments[0])
        let tensors = try source.tensors.map { info in
            unsafe try source.tensor(info).withUnsafeBytes { unsafe try Tensor(name: info.name, dtype: info.dtype, shape: info.shape, bytes: $0) }
        }
        let seconds = try Timing.measure(repeats: option("repeat", in: arguments, default: 5)) {
            try SafetensorsWriter.write(tensors, metadata: source.metadata, to: arguments[1],
                                        syncToDisk: !arguments.contains("--no-sync"))
        }
        Timing.report("write", seconds)
    }

    /// Adds up the bytes as 64-bit words: a loop the compiler vectorizes, so the scan runs at
    /// memory speed rather than at the speed of the loop.
    static func sum(of bytes: UnsafeRawBufferPointer) -> UInt64 {
        let words = bytes.count / 8
        var lanes = SIMD8<UInt64>()
        let base = bytes.baseAddress!
        var index = 0
        while index + 8 <= words {
            unsafe lanes &+= base.loadUnaligned(fromByteOffset: index * 8, as: SIMD8<UInt64>.self)
            index += 8
        }
        var total = lanes.wrappedSum()
        while index < words {
            unsafe total &+= base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
            index += 1
        }
        for tail in words * 8..<bytes.count { unsafe total &+= UInt64(bytes[tail]) }
        return total
    }
}
