import WeightsCore
/// One digest for a model's content, whatever file layout holds it.
///
/// The content digest is the SHA-256 of a canonical listing of every tensor: its name, dtype,
/// shape and the SHA-256 of its raw bytes, sorted by name as UTF-8 bytes. It is the same for a
/// single file, a sharded checkpoint, a compressed container or a file with another tensor
/// order, and it changes when any byte, name, dtype or shape changes. File-level metadata is
/// not part of it. `Spec/digests.md` gives the exact bytes.
///
/// ```swift
/// let digest = try ContentDigest.compute(for: try Checkpoint.open("model/"))
/// ```
public enum ContentDigest {
    /// The first line of the listing; it names the scheme so that a future one cannot collide.
    public static let listingHeader = "weights-content-digest-v1\n"

    /// The canonical listing of `tensors` with their raw-byte digests.
    public static func listing(_ tensors: [(info: TensorInfo, sha256: String)]) -> [UInt8] {
        var out = Array(listingHeader.utf8)
        for (info, sha256) in tensors.sorted(by: { utf8Precedes($0.info.name, $1.info.name) }) {
            CanonicalJSON.appendString(info.name, to: &out)
            out.append(contentsOf: "\t\(info.dtype.rawValue)\t[\(info.shape.map(String.init).joined(separator: ","))]\t\(sha256)\n".utf8)
        }
        return out
    }

    /// The content digest of `source`, hashing its tensors on all cores.
    public static func compute(for source: any TensorSource) throws -> String {
        let digests = try TensorDigests.compute(for: source)
        return compute(source.tensors, digests: digests.map(\.sha256))
    }

    /// The content digest from tensors and their raw-byte digests, in the same order.
    public static func compute(_ tensors: [TensorInfo], digests: [String]) -> String {
        SHA256Digest.hex(of: listing(Array(zip(tensors, digests)).map { (info: $0.0, sha256: $0.1) }))
    }
}

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

    /// The recorded tensor digests in `metadata`, keyed by tensor name.
    public static func tensorDigests(in metadata: [String: String]?) -> [String: String] {
        var digests: [String: String] = [:]
        for (key, value) in metadata ?? [:] where key.hasPrefix(tensorPrefix) {
            digests[String(key.dropFirst(tensorPrefix.count))] = value
        }
        return digests
    }
}
