import WeightsCore

/// Per-tensor digests recorded in a file's own metadata, so the file can vouch for itself.
///
/// Each tensor's SHA-256 is stored under `weights.sha256.<name>`, and the content digest under
/// `weights.content_digest`. Other readers see ordinary string metadata.
public enum EmbeddedDigests {
    public static let tensorPrefix = "weights.sha256."
    public static let contentKey = "weights.content_digest"

    /// `metadata` with the digests of `tensors` added.
    public static func adding(to metadata: [String: String]?, tensors: [TensorInfo], digests: [String]) -> [String: String] {
        var result = metadata ?? [:]
        for (info, digest) in zip(tensors, digests) { result[tensorPrefix + info.name] = digest }
        result[contentKey] = ContentDigest.compute(tensors, digests: digests)
        return result
    }

    /// Writes `source` to a safetensors file at `path` with every tensor's digest and the
    /// content digest in its metadata, in one pass over the data: the header goes first with
    /// placeholders of the digests' length, each tensor is hashed as it is written, and the
    /// header is completed before the file is renamed into place.
    ///
    /// ```swift
    /// try EmbeddedDigests.write(Checkpoint.open("model.safetensors"), to: "checked.safetensors")
    /// ```
    ///
    /// - Parameters:
    ///   - source: The tensors to write.
    ///   - path: The file to write; replaced atomically if it exists.
    ///   - metadata: The metadata to add the digests to; the source's by default.
    ///   - syncToDisk: See `AtomicFile`; on by default.
    /// - Complexity: O(*n*) in the total size, each byte read once.
    public static func write(_ source: any TensorSource, to path: String,
                             metadata: [String: String]?? = .none, syncToDisk: Bool = true) throws {
        let base = metadata ?? source.metadata
        let tensors = source.tensors
        let placeholder = String(repeating: "0", count: 64)
        let provisional = adding(to: base, tensors: tensors, digests: tensors.map { _ in placeholder })
        let writer = try SafetensorsWriter(path: path, tensors: tensors.map(\.descriptor), metadata: provisional,
                                           syncToDisk: syncToDisk)
        var digests: [UTF8Key: String] = [:]
        while let next = writer.nextTensor {
            var hasher = SHA256Digest.Hasher()
            // Sound: each piece is hashed and written inside the closure it is lent to.
            unsafe try source.streamBytes(ofTensorNamed: next.name) { bytes in
                unsafe hasher.update(bytes)
                unsafe try writer.write(bytes)
            }
            digests[UTF8Key(next.name)] = Hex.string(hasher.finalize())
        }
        try WeightsError.tagging(file: source.path) { try source.checkUnchanged() }
        // The writer skips tensors without bytes: theirs is the digest of nothing.
        let empty = SHA256Digest.hex(of: [UInt8]())
        try writer.finish(replacingMetadata: adding(to: base, tensors: tensors,
                                                    digests: tensors.map { digests[UTF8Key($0.name)] ?? empty }))
    }

    /// The recorded tensor digests in `metadata`, keyed by tensor name.
    public static func tensorDigests(in metadata: [String: String]?) -> [String: String] {
        var digests: [String: String] = [:]
        for (key, value) in metadata ?? [:] where key.hasPrefix(tensorPrefix) {
            digests[String(key.dropFirst(tensorPrefix.count))] = value
        }
        return digests
    }
}
