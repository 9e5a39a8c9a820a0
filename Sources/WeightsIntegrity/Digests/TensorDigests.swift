import WeightsCore
/// SHA-256 digests of every tensor of a source, computed on all cores.
///
/// One SHA-256 runs on one core, so the work is spread tensor by tensor, largest first (see
/// `ParallelMap`): even when one tensor is half the model, two cores stay busy.
///
/// ```swift
/// let digests = try TensorDigests.compute(for: try Checkpoint.open("model.safetensors"))
/// digests[0]   // (name: "embeddings.position_ids", sha256: "9f0c…")
/// ```
public enum TensorDigests {
    /// The SHA-256 of each tensor's raw bytes, in `source.tensors` order: the stored bytes of
    /// a ``StoredTensorSource`` (a GGUF file's blocks, not the floats they decode to).
    ///
    /// - Parameters:
    ///   - source: The tensors to hash.
    ///   - threads: How many tensors to hash at once; all cores by default.
    /// - Complexity: O(total bytes / threads) when no tensor dominates.
    public static func compute(for source: any TensorSource, threads: Int? = nil) throws -> [(name: String, sha256: String)] {
        let infos = source.tensors
        let stored = source as? any StoredTensorSource
        let digests = try ParallelMap.run(count: infos.count, threads: threads, cost: { infos[$0].byteCount }) { index in
            if let stored {
                // Sound: SHA-256 reads the buffer only during the call that lends it.
                return unsafe try stored.withStoredBytes(ofTensorNamed: infos[index].name) { unsafe SHA256Digest.hex(of: $0) }
            }
            let tensor = try source.tensor(named: infos[index].name)
            let digest = SHA256Digest.hex(of: tensor)
            try tensor.checkUnchanged()
            return digest
        }
        try source.checkUnchanged()
        return zip(infos, digests).map { ($0.name, $1) }
    }
}
