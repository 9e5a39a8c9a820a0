#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that stay valid while this object lives: a read-only memory mapping of a file, or
/// an owned, 64-byte-aligned allocation.
///
/// Tensors hold a reference to their storage, so a tensor stays readable after the file
/// object that produced it is gone.
public final class ByteStorage: @unchecked Sendable {
    /// The bytes. Immutable for the storage's whole life, and valid only while it lives.
    ///
    /// Swift may release an object right after its last use, so a pointer taken from a storage
    /// that nothing else holds dangles at once: `ByteStorage.map(path: p).bytes` is unmapped
    /// before the next statement reads it. Prefer ``withUnsafeBytes(_:)``, which keeps the
    /// storage alive for the closure; read `bytes` directly only through an object that holds
    /// the storage (a ``Tensor``, a ``SafetensorsFile``).
    public let bytes: UnsafeRawBufferPointer
    /// Whether the bytes are a mapping of a file (else an owned allocation).
    public let isMapped: Bool
    private let release: @Sendable (UnsafeRawBufferPointer) -> Void

    private init(bytes: UnsafeRawBufferPointer, isMapped: Bool = false,
                 release: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        self.bytes = bytes
        self.isMapped = isMapped
        self.release = release
    }

    deinit { release(bytes) }

    /// Calls `body` with the bytes, keeping the storage (and so the mapping or allocation)
    /// alive until `body` returns. The pointer must not escape `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in try body(bytes) }
    }

    /// Maps the whole file at `path` read-only.
    ///
    /// Mapping costs O(1) in the file's size: pages are read when first touched.
    ///
    /// - Throws: `io` when the file cannot be opened, is not a regular file, or cannot be mapped.
    public static func map(path: String) throws -> ByteStorage {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WeightsError.system("cannot open", file: path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw WeightsError.system("cannot stat", file: path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw WeightsError(.io, "not a regular file", file: path)
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            return ByteStorage(bytes: UnsafeRawBufferPointer(start: nil, count: 0), release: { _ in })
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else { throw WeightsError.system("cannot map", file: path) }
        // Lets the kernel read the file into 2 MiB page-cache folios and map them whole: a later
        // full read of the mapping then takes 512 page faults per GiB instead of 16,384, and runs
        // at memory speed. Only a hint; kernels without transparent huge pages ignore it.
        _ = madvise(address, size, MADV_HUGEPAGE)
        return ByteStorage(bytes: UnsafeRawBufferPointer(start: address, count: size), isMapped: true) { bytes in
            munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        }
    }

    /// A new allocation of `count` bytes, aligned to 64 bytes, that `initialize` fills before
    /// the storage becomes immutable.
    ///
    /// - Parameter zeroed: Whether the bytes are zero before `initialize` runs. Pass `false`
    ///   only when `initialize` writes every byte (a decoder that checks its output size, say):
    ///   it saves a pass over memory the size of the tensor.
    public static func allocate(
        count: Int, zeroed: Bool = true, initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> ByteStorage {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        if zeroed { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        do {
            try initialize(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            buffer.deallocate()
            throw error
        }
        return ByteStorage(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<count])) { bytes in
            UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
        }
    }

    /// A copy of `bytes` in owned, aligned storage.
    public static func copy(of bytes: some Collection<UInt8>) -> ByteStorage {
        allocate(count: bytes.count) { buffer in buffer.copyBytes(from: bytes) }
    }

    /// Tells the kernel how the mapped range will be read. Has no effect on owned storage.
    ///
    /// The range is widened to whole pages, so the advice can reach bytes next to it.
    public func advise(_ advice: Advice, range: Range<Int>? = nil) {
        guard isMapped, let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let range = range ?? 0..<bytes.count
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base + range.lowerBound) & ~(pageSize - 1)
        let length = Int(bitPattern: base + range.upperBound) - start
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), length, advice.rawValue)
    }

    /// Hints for mapped storage.
    public enum Advice: Sendable {
        case sequential, willNeed, random
        /// The bytes will not be read again soon: their pages leave this process's resident
        /// memory. The file's bytes stay in the page cache and read back on the next touch,
        /// unchanged (the mapping is read-only). Use it after converting mapped weights into
        /// owned memory, so the originals stop counting against the process.
        case dontNeed

        var rawValue: Int32 {
            switch self {
            case .sequential: MADV_SEQUENTIAL
            case .willNeed: MADV_WILLNEED
            case .random: MADV_RANDOM
            case .dontNeed: MADV_DONTNEED
            }
        }
    }
}

extension WeightsError {
    /// An `io` error from the current `errno`.
    static func system(_ what: String, file: String) -> WeightsError {
        let message = String(cString: strerror(errno))
        return WeightsError(.io, "\(what): \(message)", file: file)
    }
}
