import WeightsPlatform

/// Bytes that stay valid while this object lives: a read-only memory mapping of a file, or
/// an owned, 64-byte-aligned allocation.
///
/// Tensors hold a reference to their storage, so a tensor stays readable after the file
/// object that produced it is gone.
@safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
public final class ByteStorage: @unchecked Sendable {
    /// The bytes. Immutable for the storage's whole life, and valid only while it lives.
    ///
    /// Package access only: Swift may release an object right after its last use, so a pointer
    /// taken from a storage that nothing else holds dangles at once (`ByteStorage.map(path:
    /// p).bytes` is unmapped before the next statement reads it). Users get the bytes through
    /// ``withBytes(_:)`` and ``withUnsafeBytes(_:)``, which keep the storage alive for the
    /// closure; inside the package, `bytes` is read only through an object that holds the
    /// storage (a ``Tensor``, a ``SafetensorsFile``), or inside `withExtendedLifetime`.
    @unsafe package let bytes: UnsafeRawBufferPointer
    /// Whether the bytes are a mapping of a file (else an owned allocation).
    public let isMapped: Bool
    private let release: @Sendable (UnsafeRawBufferPointer) -> Void
    /// For a mapping: the file, still open, and what it was when mapped.
    private let source: MappedSource?

    private init(bytes: UnsafeRawBufferPointer, isMapped: Bool = false, source: MappedSource? = nil,
                 release: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        // Safety: private; every caller passes memory it has just mapped or allocated, and the
        // matching `release`, which runs once, at deinit.
        unsafe self.bytes = unsafe bytes
        self.isMapped = isMapped
        self.source = source
        unsafe self.release = unsafe release
    }

    deinit {
        if let source {
            weights_guard_unregister(source.guardSlot)
            close(source.fd)
        }
        unsafe release(bytes)  // Safety: nothing can read `bytes` any more: the last reference is gone.
    }

    /// Calls `body` with the bytes, keeping the storage (and so the mapping or allocation)
    /// alive until `body` returns. The pointer must not escape `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // Safety: `self` lives until `body` returns; the caller keeps the pointer inside `body`.
        try withExtendedLifetime(self) { () throws(E) -> R in unsafe try body(bytes) }
    }

    /// Calls `body` with the bytes as a `RawSpan`, which cannot escape it, keeping the storage
    /// alive until `body` returns.
    ///
    /// ```swift
    /// let storage = try ByteStorage.map(path: "model.safetensors")
    /// let headerLength = storage.withBytes { $0.unsafeLoadUnaligned(as: UInt64.self) }
    /// ```
    ///
    /// - Complexity: O(1).
    public func withBytes<R, E: Error>(_ body: (RawSpan) throws(E) -> R) throws(E) -> R {
        // Safety: the span covers exactly the storage's bytes, which this call keeps alive.
        try withExtendedLifetime(self) { () throws(E) -> R in unsafe try body(RawSpan(_unsafeBytes: bytes)) }
    }

    /// The number of bytes.
    ///
    /// - Complexity: O(1).
    public var byteCount: Int { unsafe bytes.count }  // Safety: reads the count only.

    /// The bytes as a `RawSpan` that borrows the storage: the compiler keeps the storage alive
    /// while the span is in use, and refuses code that lets the span outlive it.
    ///
    /// ```swift
    /// let storage = try ByteStorage.map(path: "model.safetensors")
    /// let magic = storage.span.extracting(0..<8)   // valid while `storage` is
    /// ```
    ///
    /// - Complexity: O(1).
    public var span: RawSpan {
        @_lifetime(borrow self)
        get {
            // Safety: the span covers exactly the storage's bytes, and its lifetime is that of
            // a borrow of the storage, which owns them.
            unsafe _overrideLifetime(RawSpan(_unsafeBytes: bytes), borrowing: self)
        }
    }

    /// Maps the whole file at `path` read-only.
    ///
    /// Mapping costs O(1) in the file's size: pages are read when first touched.
    ///
    /// - Throws: `io` when the file cannot be opened, is not a regular file, or cannot be mapped.
    public static func map(path: String) throws -> ByteStorage {
        let (fd, status) = try openRegularFile(path)
        var keepOpen = false
        defer { if !keepOpen { close(fd) } }
        let size = Int(status.st_size)
        // Safety: the mapping is `size` bytes, read-only, and unmapped only by the storage's
        // release at deinit; the descriptor and its fault guard live as long (see deinit).
        guard size > 0 else {
            return unsafe ByteStorage(bytes: UnsafeRawBufferPointer(start: nil, count: 0), release: { _ in })
        }
        let address = unsafe mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address = unsafe address, unsafe address != MAP_FAILED else { throw WeightsError.system("cannot map", file: path) }
        // The descriptor stays open so that checkUnchanged() can fstat the file that was mapped,
        // whatever has been renamed over its path since.
        keepOpen = true
        let source = unsafe MappedSource(path: path, fd: fd, size: status.st_size, modified: modificationTime(status),
                                  guardSlot: weights_guard_register(address, size))
        // Lets the kernel read the file into 2 MiB page-cache folios and map them whole: a later
        // full read of the mapping then takes 512 page faults per GiB instead of 16,384, and runs
        // at memory speed. Only a hint; kernels without transparent huge pages ignore it.
        _ = unsafe madvise(address, size, MADV_HUGEPAGE)
        return unsafe ByteStorage(bytes: UnsafeRawBufferPointer(start: address, count: size), isMapped: true, source: source) { bytes in
            unsafe munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        }
    }

    /// Reads the whole file at `path` into owned, aligned memory with `pread(2)`: no mapping,
    /// so nothing done to the file later can make these bytes unreadable.
    ///
    /// - Complexity: O(file size) in time and memory.
    /// - Throws: `io` when the file cannot be read; `fileChanged` when it shrinks, grows or is
    ///   modified while it is read.
    public static func read(path: String) throws -> ByteStorage {
        let (fd, status) = try openRegularFile(path)
        defer { close(fd) }
        let size = Int(status.st_size)
        // Safety: each pread writes at most `size - done` bytes at `done` into the `size`-byte buffer.
        let storage = unsafe try allocate(count: size, zeroed: false) { buffer in
            var done = 0
            while done < size {
                let count = unsafe pread(fd, buffer.baseAddress! + done, min(size - done, 1 << 30), off_t(done))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw WeightsError.system("cannot read", file: path)
                }
                guard count > 0 else {
                    throw WeightsError.fileChanged(path, "it ended at byte \(done) of the \(size) it had when opened",
                                                   offset: done)
                }
                done += count
            }
        }
        var after = stat()
        guard unsafe fstat(fd, &after) == 0 else { throw WeightsError.system("cannot stat", file: path) }  // Safety: fstat writes one `stat`, which `after` is.
        if let change = describeChange(from: (status.st_size, modificationTime(status)), to: after) {
            throw WeightsError.fileChanged(path, change)
        }
        return storage
    }

    /// Checks that the bytes can be trusted: for a mapping, that the file still has the size
    /// and modification time it had when mapped, and that no read of the mapping faulted
    /// because the file had shrunk (see ``guardMappedReads()``). Owned storage always passes.
    ///
    /// Call it after reading mapped bytes and before acting on what was read. Every
    /// operation of this library that reads a whole file or tensor calls it before it returns
    /// or commits its output.
    ///
    /// - Throws: `fileChanged` naming the file; `io` when it cannot be checked.
    public func checkUnchanged() throws {
        guard let source else { return }
        var now = stat()
        guard unsafe fstat(source.fd, &now) == 0 else { throw WeightsError.system("cannot stat", file: source.path) }  // Safety: fstat writes one `stat`, which `now` is.
        if let change = Self.describeChange(from: (source.size, source.modified), to: now) {
            throw WeightsError.fileChanged(source.path, change)
        }
        if weights_guard_faulted(source.guardSlot) != 0 {
            throw WeightsError.fileChanged(source.path, "part of it was gone when it was read")
        }
    }

    /// Makes a read of a mapped page whose file has shrunk past it read zeros, and record that
    /// it did, instead of killing the process with SIGBUS; ``checkUnchanged()`` then throws
    /// `fileChanged`. Idempotent.
    ///
    /// Without it, reading a mapping of a file truncated by another process ends this one
    /// with SIGBUS (the kernel has no page to give). With it, reads never fail, but they may
    /// see zeros where the file was cut: callers must call ``checkUnchanged()`` before they
    /// trust what they read. So it is opt-in: a program calls it once at start-up (the
    /// `weights` command does); a library that maps files and never checks should not. It
    /// installs a process-wide SIGBUS handler that passes faults outside Weights' mappings to
    /// the handler installed before it, or to the default action. Or open files with
    /// ``SafetensorsFile/Mapping/none`` and no mapping is involved at all.
    public static func guardMappedReads() {
        _ = weights_guard_install()
    }

    /// Opens `path` read-only and checks that it is a regular file.
    private static func openRegularFile(_ path: String) throws -> (Int32, stat) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC)  // Safety: `path` is a NUL-terminated copy for the call.
        guard fd >= 0 else { throw WeightsError.system("cannot open", file: path) }
        var status = stat()
        guard unsafe fstat(fd, &status) == 0 else {  // Safety: fstat writes one `stat`, which `status` is.
            let error = WeightsError.system("cannot stat", file: path)
            close(fd)
            throw error
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw WeightsError(.io, "not a regular file", file: path)
        }
        return (fd, status)
    }

    /// How a file changed between two `fstat`s of it, or `nil`.
    private static func describeChange(from then: (size: off_t, modified: timespec), to now: stat) -> String? {
        if now.st_size < then.size { return "it shrank from \(then.size) to \(now.st_size) bytes" }
        if now.st_size > then.size { return "it grew from \(then.size) to \(now.st_size) bytes" }
        let modified = modificationTime(now)
        if modified.tv_sec != then.modified.tv_sec || modified.tv_nsec != then.modified.tv_nsec {
            return "it was modified"
        }
        return nil
    }

    /// A new allocation of `count` bytes, aligned to 64 bytes, that `initialize` fills before
    /// the storage becomes immutable.
    ///
    /// From ``largeAllocation`` bytes up, the memory is mapped on its own, aligned to 2 MiB
    /// and advised for transparent huge pages: where the kernel grants them, filling a
    /// decompressed 47 MB tensor takes two dozen page faults instead of eleven thousand (on
    /// the virtual machines measured, each small-page fault of fresh memory costs 1–3 µs).
    ///
    /// - Parameters:
    ///   - count: The size in bytes.
    ///   - zeroed: Whether the bytes are zero before `initialize` runs. Pass `false`
    ///     only when `initialize` writes every byte (a decoder that checks its output size, say):
    ///     it saves a pass over memory the size of the tensor.
    ///   - initialize: Fills the bytes, once, before anything else can read them.
    public static func allocate(
        count: Int, zeroed: Bool = true, initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> ByteStorage {
        // Sound: `initialize` gets a buffer of its own, as below.
        if count >= largeAllocation, let storage = unsafe try allocateLarge(count: count, initialize: initialize) {
            return storage
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        // Safety: `initialize` gets exactly the `count` bytes allocated; on a throw they are
        // freed before anything else sees them; otherwise the storage owns them and its release
        // frees them once.
        if zeroed { unsafe buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        do {
            unsafe try initialize(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            unsafe buffer.deallocate()
            throw error
        }
        return unsafe ByteStorage(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<count])) { bytes in
            unsafe UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
        }
    }

    /// A storage for `bytes`, which `release` frees once, at deinit.
    ///
    /// - Precondition: `bytes` stay valid and unchanged until `release` runs.
    @unsafe package static func owning(_ bytes: UnsafeRawBufferPointer,
                                       release: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) -> ByteStorage {
        unsafe ByteStorage(bytes: bytes, release: release)  // Safety: the caller's precondition.
    }

    /// The size from which ``allocate(count:zeroed:initialize:)`` maps memory of its own, for
    /// huge pages: 4 MiB (smaller buffers would round up to 2 MiB pages with much of them unused).
    public static let largeAllocation = 4 << 20

    /// `count` bytes of anonymous memory, zero as mapped, that `initialize` fills; `nil` when
    /// the system gives no such memory.
    private static func allocateLarge(
        count: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> ByteStorage? {
        var mapped = 0
        // Safety: the mapping is `mapped` ≥ `count` bytes from `base`, writable and zero;
        // `initialize` gets its first `count`; on a throw the mapping is released before
        // anything else sees it, otherwise the storage's release unmaps it once, at deinit.
        guard let base = unsafe weights_allocate_large(count, &mapped) else { return nil }
        let buffer = unsafe UnsafeMutableRawBufferPointer(start: base, count: count)
        do {
            unsafe try initialize(buffer)
        } catch {
            unsafe weights_release_large(base, mapped)
            throw error
        }
        let length = mapped
        return unsafe ByteStorage(bytes: UnsafeRawBufferPointer(buffer)) { bytes in
            unsafe weights_release_large(UnsafeMutableRawPointer(mutating: bytes.baseAddress), length)
        }
    }

    /// A copy of `bytes` in owned, aligned storage.
    public static func copy(of bytes: some Collection<UInt8>) -> ByteStorage {
        // Safety: the buffer is `bytes.count` long, and the copy writes every byte of it.
        unsafe allocate(count: bytes.count, zeroed: false) { buffer in unsafe buffer.copyBytes(from: bytes) }
    }

    /// Tells the kernel how the mapped range will be read. Has no effect on owned storage.
    ///
    /// The range is widened to whole pages, so the advice can reach bytes next to it; a range
    /// that runs outside the bytes is cut to them.
    public func advise(_ advice: Advice, range: Range<Int>? = nil) {
        // Safety: the range is clamped to the mapping, whose start is page-aligned, so the
        // advice never reaches memory outside it (beyond the rest of its last page).
        guard isMapped, let base = unsafe bytes.baseAddress, unsafe !bytes.isEmpty else { return }
        let range = unsafe (range ?? 0..<bytes.count).clamped(to: 0..<bytes.count)
        guard !range.isEmpty else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = unsafe Int(bitPattern: base + range.lowerBound) & ~(pageSize - 1)
        let length = unsafe Int(bitPattern: base + range.upperBound) - start
        _ = unsafe madvise(UnsafeMutableRawPointer(bitPattern: start), length, advice.rawValue)
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

/// A file's modification time (`st_mtim` on Linux, `st_mtimespec` on Darwin).
private func modificationTime(_ status: stat) -> timespec {
    #if canImport(Darwin)
    status.st_mtimespec
    #else
    status.st_mtim
    #endif
}

/// A mapped file: its descriptor, kept open, and its size and modification time when mapped.
private struct MappedSource: Sendable {
    var path: String
    var fd: Int32
    var size: off_t
    var modified: timespec
    var guardSlot: Int32
}

extension WeightsError {
    /// `fileChanged`: the file at `path` changed while it was read, `how`.
    static func fileChanged(_ path: String, _ how: String, offset: Int? = nil) -> WeightsError {
        WeightsError(.fileChanged, "the file changed while it was read (\(how))", file: path, offset: offset)
    }

    /// An `io` error from the current `errno`.
    package static func system(_ what: String, file: String) -> WeightsError {
        let message = unsafe String(cString: strerror(errno))  // Safety: strerror returns a NUL-terminated static string.
        return WeightsError(.io, "\(what): \(message)", file: file)
    }
}
