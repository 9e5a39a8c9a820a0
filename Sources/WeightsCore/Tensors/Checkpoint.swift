import WeightsPlatform

/// A file format that ``Checkpoint/open(_:formats:mapping:)`` can recognize by its first bytes and
/// open as a ``TensorSource``, beyond the formats the core knows itself.
///
/// The core recognizes safetensors files, sharded checkpoints and directories. A module that
/// adds a container (`WeightsCompression`'s `CompressedFile`, say) conforms it here, and
/// callers that want it pass it in `formats:`.
public protocol CheckpointFormat {
    /// Whether a file beginning with `prefix` is of this format. `prefix` holds the whole
    /// file, or at least its first 64 bytes.
    static func recognizes(_ prefix: UnsafeRawBufferPointer) -> Bool
    /// Opens the file at `path`, already mapped in `storage`.
    static func open(storage: ByteStorage, path: String) throws -> any TensorSource
}

/// Opening weights from a path, whatever their layout.
///
/// ```swift
/// let model = try Checkpoint.open("path/to/model")                        // core formats
/// let any = try Checkpoint.open("model.wzst", formats: [CompressedFile.self])
/// ```
public enum Checkpoint {
    /// Opens `path` as the format its name and contents say:
    /// - a directory holding `model.safetensors.index.json`: that sharded checkpoint;
    /// - a directory holding `model.safetensors`: that file;
    /// - a directory holding `model.wzst` (a compressed container): that file, when one of
    ///   `formats` recognizes it;
    /// - a path ending in `.index.json`: the sharded checkpoint it indexes;
    /// - a file that one of `formats` recognizes: that format;
    /// - a file that begins with the GGUF magic: a ``GGUFTensorSource`` over a ``GGUFFile``;
    /// - any other file: a safetensors file.
    ///
    /// - Parameters:
    ///   - path: A file, a model directory or a shard index, as above.
    ///   - formats: Container formats beyond the core's, tried in order (`Checkpoint.allFormats` in
    ///     module `Weights` lists every one the package has).
    ///   - mapping: ``SafetensorsFile/Mapping/map`` (the default) maps the files;
    ///     ``SafetensorsFile/Mapping/none`` reads each whole into owned memory.
    /// - Throws: ``WeightsError`` naming the path.
    public static func open(_ path: String, formats: [any CheckpointFormat.Type] = [],
                            mapping: SafetensorsFile.Mapping = .map) throws -> any TensorSource {
        if isDirectory(path) {
            let index = path + "/" + ShardedCheckpoint.indexFileName
            if fileExists(index) { return try ShardedCheckpoint(indexPath: index, mapping: mapping) }
            let single = path + "/model.safetensors"
            if fileExists(single) { return try SafetensorsFile(path: single, mapping: mapping) }
            let compressed = path + "/" + compressedFileName
            if fileExists(compressed) { return try open(compressed, formats: formats, mapping: mapping) }
            throw WeightsError(.unsupportedFormat,
                "directory has neither \(ShardedCheckpoint.indexFileName) nor model.safetensors nor \(compressedFileName)", file: path)
        }
        if path.hasSuffix(".index.json") { return try ShardedCheckpoint(indexPath: path, mapping: mapping) }
        let storage = try mapping.storage(path)
        // Sound: each test reads the bytes inside `withUnsafeBytes`, which keeps the storage
        // alive (rather than relying on a later use of `storage` to extend its lifetime).
        for format in formats where unsafe storage.withUnsafeBytes({ unsafe format.recognizes($0) }) {
            return try format.open(storage: storage, path: path)
        }
        if unsafe storage.withUnsafeBytes({ unsafe GGUFFile.recognizes($0) }) {
            return try GGUFTensorSource.open(storage: storage, path: path)
        }
        if unsafe storage.withUnsafeBytes({ unsafe $0.starts(with: containerMagic) }) {
            throw WeightsError(.unsupportedFormat,
                "a compressed container: open it with WeightsCompression's CompressedFile, or pass formats: Checkpoint.allFormats",
                file: path)
        }
        return try SafetensorsFile(storage: storage, path: path)
    }

    /// The name of a compressed container in a model directory, in place of `model.safetensors`.
    public static let compressedFileName = "model.wzst"

    /// The first bytes of `WeightsCompression`'s container, so that the core can name it.
    private static let containerMagic: [UInt8] = [0x89, 0x57, 0x5A, 0x53, 0x54, 0x0D, 0x0A, 0x1A]

    package static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return unsafe stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR  // Sound: stat writes one `stat`, which `status` is.
    }

    package static func fileExists(_ path: String) -> Bool {
        var status = stat()
        return unsafe stat(path, &status) == 0  // Sound: stat writes one `stat`, which `status` is.
    }
}
