import WeightsCore

// The digests, asked of the things they describe.

extension TensorSource {
    /// The content digest of the source's tensors (see ``ContentDigest``): the same for any
    /// layout of the same tensors.
    ///
    /// ```swift
    /// try Checkpoint.open("model/").contentDigest()   // "5b2e…"
    /// ```
    ///
    /// - Complexity: O(total bytes / cores).
    public func contentDigest() throws -> String { try ContentDigest.compute(for: self) }

    /// The SHA-256 of each tensor's raw bytes, in `TensorSource/tensors` order, hashed on
    /// all cores (see ``TensorDigests``).
    public func tensorDigests(threads: Int? = nil) throws -> [(name: String, sha256: String)] {
        try TensorDigests.compute(for: self, threads: threads)
    }
}

extension Tensor {
    /// The SHA-256 of the tensor's raw bytes, as 64 lower-case hex digits.
    ///
    /// - Complexity: O(*n*).
    public var sha256: String { SHA256Digest.hex(of: self) }
}
