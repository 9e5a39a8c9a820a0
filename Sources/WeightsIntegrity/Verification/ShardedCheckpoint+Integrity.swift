import WeightsCore

extension ShardedCheckpoint: IntegrityCheckable {
    /// That the index's `total_size` is the number of tensor bytes the shards hold. (That the
    /// index and the shards list the same tensors is checked when the checkpoint opens.)
    ///
    /// - Complexity: O(*n*) in the tensors.
    public func integrityFindings() -> [VerificationFinding] {
        let actual = tensors.reduce(0) { $0 + $1.byteCount }
        let subject = "\(path) total_size"
        guard let declared = index.totalSize else {
            return [VerificationFinding(subject: subject, file: path, .invalidShardIndex, "the index declares no total_size")]
        }
        guard declared == actual else {
            return [VerificationFinding(subject: subject, file: path, .invalidShardIndex,
                                        "the index declares \(declared) bytes, the shards hold \(actual)")]
        }
        return [VerificationFinding(subject: subject)]
    }
}
