import Weights

extension FuzzHarness {
    // MARK: safetensors

    /// A safetensors file from memory: the header and its validation, then every tensor read
    /// every way its dtype allows, a canonical rewrite read back and diffed against the file
    /// (`weights diff`), and conversion of every tensor to each target the library converts to.
    static func safetensors(_ input: UnsafeRawBufferPointer) throws {
        let file = try rejecting("open") { unsafe try SafetensorsFile(bytes: input, name: "fuzz.safetensors") }
        var end = 0
        for info in file.tensors {
            try expect(info.dataOffsets.lowerBound == end, "tensor '\(info.name)' does not follow the one before it")
            end = info.dataOffsets.upperBound
            try expect(file.info(named: info.name) == info, "lookup of '\(info.name)' finds another entry")
            let tensor = file.tensor(info)
            try expect(tensor.byteCount == info.byteCount, "tensor '\(info.name)' has \(tensor.byteCount) bytes")
            try attempt("read '\(info.name)'") { try readEveryWay(tensor) }
        }
        try expect(8 + file.headerLength + end == input.count, "the tensors do not end at the end of the file")

        if let rewritten = try attempt("rewrite", {
            try WeightsError.tagging(file: "fuzz.safetensors") {
                try SafetensorsWriter.serialize(file.tensors.map(file.tensor), metadata: file.metadata)
            }
        }) {
            let reread: SafetensorsFile
            do { reread = try SafetensorsFile(bytes: rewritten, name: "rewritten.safetensors") } catch {
                throw FuzzViolation("the writer's canonical rewrite does not read back: \(error)")
            }
            try expect(reread.metadata == file.metadata, "the rewrite changes the metadata")
            try expect(Set(reread.tensors.map(\.name)) == Set(file.tensors.map(\.name)), "the rewrite changes the names")
            for info in reread.tensors {
                let original = try file.tensor(named: info.name)
                let copy = reread.tensor(info)
                try expect(copy.dtype == original.dtype && copy.shape == original.shape
                           && copy.copyBytes() == original.copyBytes(), "the rewrite changes tensor '\(info.name)'")
            }
            // `weights diff` of the file and its rewrite: the same tensors, so no difference.
            if let diff = try attempt("diff", { try TensorDiff.compare(file, reread) }) {
                try expect(diff.isIdentical, "diff finds the rewrite different: \(diff.changes.map(\.name)), "
                           + "\(diff.onlyInA.map(\.name)), \(diff.onlyInB.map(\.name))")
            }
        }

        for target in ConversionTarget.names.compactMap(ConversionTarget.init) {
            guard let converter = try attempt("plan \(target)", { try TensorConverter(source: file, target: target) }) else {
                continue
            }
            for output in converter.outputs {
                guard let tensor = try attempt("convert '\(output.name)' to \(target)", {
                    try WeightsError.tagging(file: file.path) { try converter.tensor(named: output.name) }
                }) else { continue }
                try expect(tensor.dtype == output.dtype && tensor.shape == output.shape,
                           "converting '\(output.name)' to \(target) gives \(tensor.dtype) \(tensor.shape), planned \(output.dtype) \(output.shape)")
                let expected = try output.byteCount()
                try expect(tensor.byteCount == expected, "converted '\(output.name)' has \(tensor.byteCount) bytes, not \(expected)")
            }
        }
    }

    /// Every typed view of `tensor`'s dtype, its floats when it is a floating dtype, and the
    /// dtype-mismatch error for another type.
    static func readEveryWay(_ tensor: Tensor) throws {
        func sum<T: TensorElement>(_ type: T.Type) throws {
            let count = unsafe try tensor.withElements(of: type) { $0.count }
            try expect(count * MemoryLayout<T>.stride == tensor.byteCount, "typed view of '\(tensor.name)' has \(count) elements")
            _ = try tensor.withSpan(of: type) { $0.count }
        }
        try WeightsError.tagging(file: "fuzz.safetensors") {
            switch tensor.dtype {
            case .bool: try sum(Bool.self)
            case .u8: try sum(UInt8.self)
            case .i8: try sum(Int8.self)
            case .i16: try sum(Int16.self)
            case .u16: try sum(UInt16.self)
            case .f16: try sum(Float16.self)
            case .bf16: try sum(BFloat16.self)
            case .i32: try sum(Int32.self)
            case .u32: try sum(UInt32.self)
            case .f32: try sum(Float.self)
            case .f64: try sum(Double.self)
            case .i64: try sum(Int64.self)
            case .u64: try sum(UInt64.self)
            default: break
            }
            do {
                if tensor.dtype == .u8 { _ = unsafe try tensor.withElements(of: Int8.self) { $0.count } }
                else { _ = unsafe try tensor.withElements(of: UInt8.self) { $0.count } }
                throw FuzzViolation("'\(tensor.name)' of \(tensor.dtype) reads as another dtype")
            } catch let error as WeightsError where error.code == .dtypeMismatch {}
            do {
                let floats = try tensor.floats()
                try expect(floats.count == tensor.elementCount, "floats() of '\(tensor.name)' gives \(floats.count) values")
            } catch let error as WeightsError where error.code == .dtypeMismatch {}
        }
    }

    // MARK: sharded checkpoint index

    /// `model.safetensors.index.json`: the index parser, its writer read back, then the
    /// checkpoint opened against two real shards, every tensor read, and `weights verify`'s checks.
    static func shardIndex(_ input: UnsafeRawBufferPointer) throws {
        if let index = try attempt("decode", { try WeightsError.tagging(file: "fuzz.index.json") { unsafe try ShardIndex.decode(input) } }) {
            let encoded = index.encoded()
            let decoded: ShardIndex
            do { decoded = unsafe try encoded.withUnsafeBytes { unsafe try ShardIndex.decode($0) } } catch {
                throw FuzzViolation("the index's own encoding does not decode: \(error)")
            }
            try expect(decoded == index, "the index's encoding decodes to another index")
        }
        try ShardFixture.prepare()
        let path = unsafe try Scratch.write(input, to: "shards/" + ShardedCheckpoint.indexFileName)
        let checkpoint = try rejecting("open") { try ShardedCheckpoint(indexPath: path) }
        for info in checkpoint.tensors {
            let tensor = try rejecting("read '\(info.name)'") { try checkpoint.tensor(named: info.name) }
            try expect(tensor.info.dtype == info.dtype && tensor.shape == info.shape, "'\(info.name)' reads as another tensor")
            try expect(checkpoint.shard(of: info.name) != nil, "'\(info.name)' has no shard")
        }
        let findings = try rejecting("verify") { try Verification.verify(path, expectations: .init()) }
        try expect(!findings.isEmpty, "verify of a sharded checkpoint checks nothing")
    }

    /// Two shards the fuzzed index can name, written once per process.
    enum ShardFixture {
        nonisolated(unsafe) static var ready = false
        static let names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

        static func prepare() throws {
            guard unsafe !ready else { return }
            let first = [try Tensor(name: "a", shape: [2], elements: [1, 2] as [Float]),
                         try Tensor(name: "b", shape: [1, 2], elements: [3, 4] as [Float16])]
            let second = [try Tensor(name: "c", shape: [], elements: [5] as [Int64])]
            try Scratch.write(try SafetensorsWriter.serialize(first, metadata: ["format": "pt"]), to: "shards/" + names[0])
            try Scratch.write(try SafetensorsWriter.serialize(second, metadata: ["format": "pt"]), to: "shards/" + names[1])
            unsafe ready = true
        }
    }

    // MARK: compressed container

    /// A `.wzst` container from memory: open, read every tensor (in reverse, then by name),
    /// verify every digest, and decompress to a file that must read back as safetensors.
    ///
    /// The index is covered by a SHA-256 in the trailer, which almost every mutation breaks;
    /// so when the trailer locates an index whose digest does not match, the input is tried
    /// again with the digest made right, and the mutations reach the index parser.
    static func compressed(_ input: UnsafeRawBufferPointer) throws {
        var repaired = unsafe Array(input)
        guard repairIndexDigest(&repaired) else { return unsafe try compressedContainer(input) }
        _ = try attempt("open as is") { unsafe try compressedContainer(input) }
        unsafe try repaired.withUnsafeBytes { unsafe try compressedContainer($0) }
    }

    /// Sets the trailer's index SHA-256 to the digest of the index it locates; `false` when
    /// the trailer locates no index, or its digest was already right.
    static func repairIndexDigest(_ bytes: inout [UInt8]) -> Bool {
        let trailer = 56
        guard bytes.count >= 16 + trailer else { return false }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
        let end = bytes.count - trailer
        let (offset, length) = (u64(end), u64(end + 8))
        guard offset >= 16, offset <= UInt64(end), length == UInt64(end) - offset else { return false }
        let hex = unsafe bytes.withUnsafeBytes { unsafe SHA256Digest.hex(of: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<end])) }
        var digest = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            digest.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        guard Array(bytes[end + 16..<end + 48]) != digest else { return false }
        bytes.replaceSubrange(end + 16..<end + 48, with: digest)
        return true
    }

    static func compressedContainer(_ input: UnsafeRawBufferPointer) throws {
        let file = try rejecting("open") { unsafe try CompressedFile(storage: .copy(of: input), path: "fuzz.wzst", threads: 1) }
        try expect(file.compressedTensors.map(\.info) == file.tensors, "the index and the header disagree")
        for entry in file.compressedTensors.reversed() {
            guard let tensor = try attempt("read '\(entry.info.name)'", { try file.tensor(entry) }) else { continue }
            try expect(tensor.byteCount == entry.info.byteCount && tensor.dtype == entry.info.dtype,
                       "'\(entry.info.name)' decompresses to \(tensor.byteCount) bytes of \(tensor.dtype)")
            _ = try attempt("look up '\(entry.info.name)'") { try file.tensor(named: entry.info.name) }
        }
        let verified = try attempt("verify") { try file.verify() } != nil
        let out = Scratch.directory + "/decompressed.safetensors"
        let decompressed = try attempt("decompress") { try file.decompress(to: out) } != nil
        try expect(verified == decompressed, "verify says \(verified), decompress says \(decompressed)")
        if decompressed {
            let original: SafetensorsFile
            do { original = try SafetensorsFile(path: out) } catch {
                throw FuzzViolation("a container that decompresses gives a file that does not read: \(error)")
            }
            try expect(original.tensors == file.tensors && original.fileSize == file.originalSize,
                       "the decompressed file is not the original the container describes")
        }
    }

    // MARK: sha256sum manifest

    /// `sha256sum` lines, as `weights verify --manifest` reads them: parsed, then the
    /// manifest's own text parsed back to the same entries.
    static func manifest(_ input: UnsafeRawBufferPointer) throws {
        let text = unsafe String(decoding: input, as: UTF8.self)
        let manifest = try rejecting("parse") { try Manifest.parse(text, file: "fuzz.sha256") }
        for entry in manifest.entries {
            try expect(entry.sha256.utf8.count == 64 && entry.sha256.utf8.allSatisfy { "0123456789abcdef".utf8.contains($0) },
                       "digest '\(entry.sha256)' is not 64 lowercase hex digits")
            try expect(!entry.path.isEmpty, "an entry has an empty path")
        }
        let reparsed: Manifest
        do { reparsed = try Manifest.parse(manifest.text, file: "fuzz.sha256") } catch {
            throw FuzzViolation("the manifest's own text does not parse: \(error)")
        }
        try expect(reparsed == manifest, "the manifest's own text parses to other entries")
    }
}
