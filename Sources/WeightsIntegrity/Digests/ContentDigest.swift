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
        listing(tensors.map { (name: $0.info.name, type: $0.info.dtype.rawValue, shape: $0.info.shape, sha256: $0.sha256) })
    }

    /// The listing of tensors given by name, stored type name, shape and digest.
    static func listing(_ lines: [(name: String, type: String, shape: [Int], sha256: String)]) -> [UInt8] {
        var out = Array(listingHeader.utf8)
        for line in lines.sorted(by: { utf8Precedes($0.name, $1.name) }) {
            CanonicalJSON.appendString(line.name, to: &out)
            out.append(contentsOf: "\t\(line.type)\t[\(line.shape.map(String.init).joined(separator: ","))]\t\(line.sha256)\n".utf8)
        }
        return out
    }

    /// The content digest of `source`, hashing its tensors on all cores. A source that stores
    /// its tensors in another form (``StoredTensorSource``, a GGUF file) is digested as stored:
    /// its stored bytes, under its stored type names.
    public static func compute(for source: any TensorSource) throws -> String {
        let digests = try TensorDigests.compute(for: source)
        return compute(source, digests: digests.map(\.sha256))
    }

    /// The content digest of `source` from its tensors' digests (``TensorDigests``), in
    /// `source.tensors` order; a ``StoredTensorSource``'s lines name the stored types.
    public static func compute(_ source: any TensorSource, digests: [String]) -> String {
        let tensors = source.tensors
        let types = (source as? any StoredTensorSource)?.storedTypeNames ?? tensors.map(\.dtype.rawValue)
        let lines = tensors.indices.map { (name: tensors[$0].name, type: types[$0], shape: tensors[$0].shape, sha256: digests[$0]) }
        return SHA256Digest.hex(of: listing(lines))
    }

    /// The content digest from tensors and their raw-byte digests, in the same order.
    public static func compute(_ tensors: [TensorInfo], digests: [String]) -> String {
        SHA256Digest.hex(of: listing(Array(zip(tensors, digests)).map { (info: $0.0, sha256: $0.1) }))
    }
}
