/// A GGUF model split over several files (llama.cpp's `gguf-split`:
/// `name-00001-of-00003.gguf` …, each with `split.no`, `split.count` and
/// `split.tensors.count`), seen as one ``TensorSource``, as a sharded safetensors checkpoint is.
///
/// Tensors are listed shard by shard in file order, presented as ``GGUFTensorSource`` presents
/// them (plain types zero-copy, block formats decoded to F32); the metadata is the first
/// shard's. ``Checkpoint/open(_:formats:mapping:)`` returns one for any shard of a set.
///
/// ```swift
/// let model = try Checkpoint.open("model-00001-of-00003.gguf")   // a GGUFSplitSource
/// model.tensors.count                                            // every shard's tensors
/// ```
///
/// Checked when opened: every shard is there, each says it is shard `split.no` of the same
/// `split.count`, no tensor name appears twice, and the tensors add up to
/// `split.tensors.count`. Each failure is `invalidData` (or `io` for a missing file) naming
/// the shard.
public final class GGUFSplitSource: TensorSource {
    /// The shards, in order.
    public let shards: [GGUFTensorSource]
    public let tensors: [TensorInfo]
    public let metadata: [String: String]?
    /// Each tensor's shard, and its position in ``tensors``.
    private let location: [String: (shard: Int, index: Int)]

    /// The first shard's path.
    public var path: String { shards[0].path }
    /// The shards' files, in order.
    public var files: [GGUFFile] { shards.map(\.file) }

    /// The shard paths of the set `path` belongs to, when its name follows llama.cpp's
    /// pattern `PREFIX-NNNNN-of-MMMMM.gguf`.
    public static func shardPaths(of path: String, count: Int) -> [String]? {
        let suffix = ".gguf"
        guard path.hasSuffix(suffix), count >= 1 else { return nil }
        let stem = path.dropLast(suffix.count)
        // "-00001-of-00003" is 15 characters.
        guard stem.count > 15 else { return nil }
        let tail = stem.suffix(15)
        let parts = tail.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[2] == "of", parts[1].count == 5, parts[3].count == 5,
              Int(parts[1]) != nil, Int(parts[3]) == count else { return nil }
        let prefix = String(stem.dropLast(15))
        return (1...count).map { prefix + "-" + fiveDigits($0) + "-of-" + fiveDigits(count) + suffix }
    }

    private static func fiveDigits(_ number: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }

    /// Opens every shard of the set `file` belongs to (reusing `file` for its own).
    ///
    /// - Throws: `invalidData` when the shard keys disagree or the name does not say where
    ///   the other shards are; `io` when one cannot be opened; the reader's errors.
    public convenience init(containing file: GGUFFile, keepingTypedMetadata: Bool = false) throws {
        guard let count = file.metadata["split.count"]?.int, count >= 1 else {
            throw WeightsError(.invalidData, "the file has no split.count", file: file.path)
        }
        guard let paths = GGUFSplitSource.shardPaths(of: file.path, count: count) else {
            throw WeightsError(.invalidData,
                "split.count is \(count), but the name does not say where the other shards are (expected NAME-00001-of-\(GGUFSplitSource.fiveDigits(count)).gguf)",
                file: file.path)
        }
        let files = try paths.map { $0 == file.path ? file : try GGUFFile(path: $0) }
        try self.init(files: files, keepingTypedMetadata: keepingTypedMetadata)
    }

    /// The set of `files`, in shard order.
    ///
    /// - Parameters:
    ///   - files: The shards, opened.
    ///   - keepingTypedMetadata: See ``GGUFTensorSource/init(_:keepingTypedMetadata:)``.
    /// - Throws: `invalidData` naming the shard whose keys disagree; `duplicateTensorName`.
    public init(files: [GGUFFile], keepingTypedMetadata: Bool = false) throws {
        guard !files.isEmpty else { throw WeightsError(.invalidArgument, "a split set needs at least one file") }
        var tensorTotal = 0
        for (number, file) in files.enumerated() {
            guard file.metadata["split.no"]?.int == number, file.metadata["split.count"]?.int == files.count else {
                throw WeightsError(.invalidData,
                    "shard \(number + 1) of \(files.count) says split.no \(file.metadata["split.no"]?.description ?? "(none)"), split.count \(file.metadata["split.count"]?.description ?? "(none)")",
                    file: file.path)
            }
            tensorTotal += file.tensors.count
        }
        for file in files {
            if let declared = file.metadata["split.tensors.count"]?.int, declared != tensorTotal {
                throw WeightsError(.invalidData, "split.tensors.count is \(declared), but the \(files.count) shards hold \(tensorTotal) tensors",
                                   file: file.path)
            }
        }
        var shards: [GGUFTensorSource] = []
        for (number, file) in files.enumerated() {
            shards.append(number == 0 ? try GGUFTensorSource(file, keepingTypedMetadata: keepingTypedMetadata) : GGUFTensorSource(file))
        }
        var tensors: [TensorInfo] = []
        var location: [String: (shard: Int, index: Int)] = [:]
        var offset = 0
        for (number, shard) in shards.enumerated() {
            for info in shard.tensors {
                guard location[info.name] == nil else {
                    throw WeightsError(.duplicateTensorName, "tensor '\(info.name)' is in two shards", file: shard.path, tensor: info.name)
                }
                location[info.name] = (number, tensors.count)
                tensors.append(TensorInfo(name: info.name, dtype: info.dtype, shape: info.shape,
                                          dataOffsets: offset..<offset + info.byteCount))
                offset += info.byteCount
            }
        }
        self.shards = shards
        self.tensors = tensors
        self.location = location
        self.metadata = shards[0].metadata
    }

    /// The shard that holds the tensor named `name`, and its place in ``tensors``.
    ///
    /// - Throws: `tensorNotFound`.
    private func location(of name: String) throws -> (shard: Int, index: Int) {
        guard let place = location[name] else {
            throw WeightsError(.tensorNotFound, "no tensor named '\(name)' in the \(shards.count) shards", file: path, tensor: name)
        }
        return place
    }

    /// The tensor named `name`, from the shard that holds it.
    ///
    /// - Complexity: O(1) for plain types; O(*n*) and an allocation for block formats.
    public func tensor(named name: String) throws -> Tensor {
        let (shard, index) = try location(of: name)
        let tensor = try shards[shard].tensor(named: name)
        let info = tensors[index]
        // Sound: the new tensor holds the storage the bytes lie in, so they outlive the closure.
        return unsafe tensor.withUnsafeBytes { unsafe Tensor(info: info, storage: tensor.storage, bytes: $0) }
    }

    public func checkUnchanged() throws {
        for shard in shards { try WeightsError.tagging(file: shard.path) { try shard.file.storage.checkUnchanged() } }
    }
}

extension GGUFSplitSource: StoredTensorSource {
    /// The ggml type of each tensor (`F32`, `Q4_K`, …), in ``tensors`` order.
    public var storedTypeNames: [String] { shards.flatMap(\.storedTypeNames) }

    /// The tensor's bytes as its shard stores them.
    public func withStoredBytes<R>(ofTensorNamed name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (shard, _) = try location(of: name)
        // Sound: the shard lends its mapping's bytes to `body` only for the call.
        return unsafe try shards[shard].withStoredBytes(ofTensorNamed: name, body)
    }
}
