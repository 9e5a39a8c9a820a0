import Crypto

/// SHA-256 digests of files and tensors, as lower-case hex.
///
/// Uses swift-crypto, which runs the CPU's SHA extensions where present. A file's digest is
/// the digest the model hub publishes for it.
///
/// ```swift
/// try SHA256Digest.file(at: "model.safetensors")   // "53aa5117…d9db"
/// SHA256Digest.hex(of: tensorBytes)
/// ```
public enum SHA256Digest {
    /// Bytes hashed per update call: large enough to amortize the call, small enough that
    /// the kernel can drop pages behind us on files larger than memory.
    static let chunkSize = 16 << 20

    /// The SHA-256 of `bytes`, as 64 lower-case hex digits.
    ///
    /// - Complexity: O(*n*).
    public static func hex(of bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunkSize, bytes.count)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            offset = end
        }
        return hex(hasher.finalize())
    }

    /// The SHA-256 of `bytes`.
    public static func hex(of bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(of: $0) }
    }

    /// The SHA-256 of the file at `path`, read through a memory mapping.
    ///
    /// - Throws: `io` when the file can't be read.
    public static func file(at path: String) throws -> String {
        let storage = try ByteStorage.map(path: path)
        storage.advise(.sequential)
        return withExtendedLifetime(storage) { hex(of: storage.bytes) }
    }

    /// The SHA-256 of a tensor's raw bytes.
    public static func hex(of tensor: Tensor) -> String {
        tensor.withUnsafeBytes { hex(of: $0) }
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
