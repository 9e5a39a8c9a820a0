import WeightsCore
import WeightsIntegrity
extension CompressedFile: IntegrityCheckable {
    /// Decompresses every tensor, checking every chunk's checksum and every tensor's SHA-256,
    /// and reports each tensor on its own, so one damaged tensor doesn't hide the others.
    ///
    /// - Complexity: O(original size); memory O(largest tensor).
    public func integrityFindings() -> [VerificationFinding] {
        let findings = compressedTensors.map { entry in
            let subject = "tensor '\(entry.info.name)' in \(path)"
            do {
                _ = try tensor(entry, verifyDigest: true)
                return VerificationFinding(subject: subject)
            } catch {
                return VerificationFinding(subject: subject, failure: error)
            }
        }
        do { try checkUnchanged() } catch {
            return findings + [VerificationFinding(subject: path, failure: error)]
        }
        return findings
    }
}
