import WeightsCore
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
        unsafe Hex.string(Self.bytes(of: bytes))  // Sound: reads the caller's buffer, valid for the call.
    }

    /// The SHA-256 of `bytes`.
    public static func hex(of bytes: [UInt8]) -> String {
        unsafe bytes.withUnsafeBytes { unsafe hex(of: $0) }  // Sound: hashed inside the closure.
    }

    /// The SHA-256 of the file at `path`, read through a memory mapping.
    ///
    /// - Throws: `io` when the file can't be read; `fileChanged` when it changed while it was
    ///   read.
    public static func file(at path: String) throws -> String {
        let storage = try ByteStorage.map(path: path)
        storage.advise(.sequential)
        // Sound: the bytes are read inside the closure, in slices inside them.
        return unsafe try storage.withUnsafeBytes { bytes in
            var hasher = SHA256()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunkSize, bytes.count)
                unsafe hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                offset = end
                // One fstat per 16 MiB (about 1 µs against 10 ms of hashing): a file that
                // changes stops the hash at once instead of at the end.
                try storage.checkUnchanged()
            }
            try storage.checkUnchanged()
            return hex(hasher.finalize())
        }
    }

    /// The SHA-256 of a tensor's raw bytes.
    public static func hex(of tensor: Tensor) -> String {
        unsafe tensor.withUnsafeBytes { unsafe hex(of: $0) }  // Sound: hashed inside the closure.
    }

    package static func hex(_ digest: SHA256.Digest) -> String { Hex.string(digest) }

    /// The SHA-256 of `bytes`, as its 32 bytes.
    ///
    /// - Complexity: O(*n*), fed to the hasher in ``chunkSize`` pieces.
    package static func bytes(of bytes: UnsafeRawBufferPointer) -> [UInt8] {
        // Sound: each slice lies in the caller's buffer, valid for the call.
        var hasher = Hasher()
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunkSize, bytes.count)
            unsafe hasher.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            offset = end
        }
        return hasher.finalize()
    }

    /// An incremental SHA-256, for callers that see their bytes in pieces.
    package struct Hasher {
        private var state = SHA256()

        package init() {}

        package mutating func update(_ bytes: UnsafeRawBufferPointer) { unsafe state.update(bufferPointer: bytes) }  // Sound: hashed during the call.

        /// The digest's 32 bytes. The hasher is spent.
        package mutating func finalize() -> [UInt8] { Array(state.finalize()) }
    }
}
