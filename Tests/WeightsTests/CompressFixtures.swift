import Foundation
import Weights

/// Inputs for the compressed-container tests, made in code from fixed seeds.
enum CompressFixtures {
    /// A fresh temporary directory.
    static func directory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/weights-compress-XXXXXX").utf8CString)
        guard let path = unsafe template.withUnsafeMutableBufferPointer({ unsafe mkdtemp($0.baseAddress!) }) else {
            throw WeightsError(.io, "cannot make a temporary directory")
        }
        return unsafe String(cString: path)
    }

    /// `count` bytes from SplitMix64 seeded with `seed`.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            unsafe withUnsafeBytes(of: generator.next().littleEndian) { unsafe out += $0 }
        }
        return Array(out.prefix(count))
    }

    /// `count` values like trained weights: normal, mean 0, standard deviation 0.02.
    static func weights(_ count: Int, seed: UInt64) -> [Float] {
        let random = bytes(count * 8, seed: seed)
        return (0..<count).map { index in
            let pair = unsafe random.withUnsafeBytes { unsafe $0.loadUnaligned(fromByteOffset: index * 8, as: (UInt32, UInt32).self) }
            let u1 = (Double(pair.0) + 1) / 4_294_967_297, u2 = Double(pair.1) / 4_294_967_296
            return Float(0.02 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    /// One tensor of every dtype, with random bytes; an empty tensor and scalars; and weight-like
    /// F32, BF16 and F16 tensors that span several 4 KiB chunks and end in a partial one.
    static func everyDType() throws -> [Tensor] {
        var tensors: [Tensor] = []
        for (position, dtype) in DType.allCases.enumerated() {
            // Packed dtypes: 8 elements fill whole bytes for 4 and 6 bits alike.
            let shape = dtype.bitWidth < 8 ? [2, 4] : [3, 5]
            let count = try TensorDescriptor(name: "", dtype: dtype, shape: shape).byteCount()
            tensors.append(try Tensor(name: "random.\(dtype.rawValue)", dtype: dtype, shape: shape,
                                      bytes: bytes(count, seed: UInt64(position))))
        }
        tensors.append(try Tensor(name: "empty", dtype: .f32, shape: [4, 0], bytes: []))
        tensors.append(try Tensor(name: "scalar.bf16", dtype: .bf16, shape: [], bytes: [0x80, 0x3F]))
        tensors.append(try Tensor(name: "scalar.f64", dtype: .f64, shape: [], bytes: bytes(8, seed: 99)))
        let values = weights(5001, seed: 7)
        tensors.append(try Tensor(name: "weights.f32", shape: [5001], elements: values))
        tensors.append(try Tensor(name: "weights.bf16", shape: [5001], elements: values.map(BFloat16.init)))
        tensors.append(try Tensor(name: "weights.f16", shape: [3, 1667], elements: values.prefix(5001).map(Float16.init)))
        tensors.append(try Tensor(name: "zeros.f32", shape: [4096], elements: [Float](repeating: 0, count: 4096)))
        return tensors
    }

    /// The `everyDType` tensors as a safetensors file in `directory`.
    static func everyDTypeFile(in directory: String) throws -> String {
        let path = directory + "/every.safetensors"
        try SafetensorsWriter.write(try everyDType(), metadata: ["format": "pt", "note": "compress tests"], to: path)
        return path
    }

    /// A safetensors file no canonical writer makes: keys out of order, spaces inside the JSON,
    /// a header length that is not a multiple of 8, data not in key order.
    static func nonCanonicalFile(in directory: String) throws -> String {
        let json = #"{ "b" : {"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"shape":[2], "dtype":"BF16","data_offsets":[0,4]},"#
            + #" "__metadata__":{"z":"1","a":"2"}, "c":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}}  "#
        var file = unsafe withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { unsafe Array($0) }
        file += Array(json.utf8)
        file += bytes(16, seed: 5)
        let path = directory + "/odd.safetensors"
        try Data(file).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A container held in memory, opened as a file would be.
    static func open(_ bytes: [UInt8], threads: Int = 2) throws -> CompressedFile {
        try CompressedFile(storage: .copy(of: bytes), path: "<memory>", threads: threads)
    }
}

/// The regions of a container, from its trailer, for tests that damage or rewrite them.
struct CompressLayout {
    var bytes: [UInt8]
    var indexRange: Range<Int>
    var trailerStart: Int { bytes.count - 56 }

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        let trailer = bytes.count - 56
        let offset = Int(Self.load(bytes, at: trailer, as: UInt64.self))
        indexRange = offset..<trailer
    }

    static func load<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
        unsafe bytes.withUnsafeBytes { unsafe T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// The container with its index replaced by `index`, and the trailer rewritten to match,
    /// so that only the index's own checks stand between it and the reader.
    static func replacingIndex(of bytes: [UInt8], with index: [UInt8]) -> [UInt8] {
        assemble(Array(bytes[..<CompressLayout(bytes).indexRange.lowerBound]), index: index)
    }

    /// A container of `prologueAndFrames`, then `index`, then a trailer that matches it.
    static func assemble(_ prologueAndFrames: [UInt8], index: [UInt8]) -> [UInt8] {
        var out = prologueAndFrames + index
        unsafe withUnsafeBytes(of: UInt64(prologueAndFrames.count).littleEndian) { unsafe out += $0 }
        unsafe withUnsafeBytes(of: UInt64(index.count).littleEndian) { unsafe out += $0 }
        let hex = Array(SHA256Digest.hex(of: index).utf8).map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        out += stride(from: 0, to: 64, by: 2).map { hex[$0] << 4 | hex[$0 + 1] }
        out += CompressedFormat.magic
        return out
    }

    /// The index, with the byte offsets of its parts (a safetensors source's).
    var index: [UInt8] { Array(bytes[indexRange]) }
    /// Where, in the index, the header length is: after the source format from version 2 on.
    var headerLengthOffset: Int { bytes[8] >= 2 ? 8 : 0 }
    /// Where, in the index, the chunk size field is.
    var chunkSizeOffset: Int { headerLengthOffset + 8 + Int(Self.load(index, at: headerLengthOffset, as: UInt64.self)) }
    /// Where, in the index, tensor record `position` starts.
    func recordOffset(_ position: Int) -> Int { chunkSizeOffset + 8 + 40 * position }
}
