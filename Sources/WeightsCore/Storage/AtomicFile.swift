import WeightsPlatform

/// A file written under a temporary name and renamed into place on ``commit()``.
///
/// The temporary file lives in the destination's directory, so the rename is atomic: readers
/// see either the old file or the complete new one, never a partial write. A file that is not
/// committed (an error, a crash before `commit`) never appears under the destination name; the
/// temporary is removed when the object goes away.
///
/// Small writes are gathered in a buffer; large ones go straight to the kernel.
///
/// ```swift
/// let out = try AtomicFile(path: "model.safetensors")
/// try out.write(headerBytes)
/// try out.write(tensorBytes)
/// try out.commit()      // fsync, rename, fsync the directory
/// ```
public final class AtomicFile {
    /// The destination path.
    public let path: String
    private let temporaryPath: String
    private var fd: Int32
    /// The temporary's slot in the table that ``removeTemporaryFilesOnInterrupt()``'s handler
    /// reads, or -1.
    private var cleanupSlot: Int32 = -1
    private var buffer: [UInt8] = []
    private var committed = false
    private let syncToDisk: Bool
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    private static let bufferCapacity = 1 << 20
    /// Bytes handed to the kernel so far, and where the part not yet sent to disk starts.
    private var written = 0
    private var writebackStart = 0
    private static let writebackStride = 16 << 20

    /// Creates the temporary file beside `path`.
    ///
    /// - Parameters:
    ///   - path: The destination, which ``commit()`` replaces.
    ///   - syncToDisk: Whether ``commit()`` waits for the data to reach the disk before
    ///     renaming, so that a crash or power loss can't leave a renamed but empty file. Turn it
    ///     off only for scratch files you can recreate.
    /// - Throws: `io` when the directory is missing or not writable.
    public init(path: String, syncToDisk: Bool = true) throws {
        self.path = path
        self.syncToDisk = syncToDisk
        let directory = Self.directory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(directory)/.\(base).XXXXXX".utf8CString)
        var slot: Int32 = -1
        // Sound: the template is a non-empty, NUL-terminated array, which `mkstemp` rewrites in
        // place within its length; `slot` is one `Int32`.
        let fd = unsafe template.withUnsafeMutableBufferPointer { unsafe weights_cleanup_create($0.baseAddress!, &slot) }
        guard fd >= 0 else { throw WeightsError.system("cannot create a file in \(directory)", file: path) }
        self.fd = fd
        self.cleanupSlot = slot
        self.temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = fchmod(fd, 0o644)
        buffer.reserveCapacity(Self.bufferCapacity)
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unsafe unlink(temporaryPath)  // Sound: the path is passed as a NUL-terminated copy for the call.
        }
        weights_cleanup_unregister(cleanupSlot)
    }

    /// Makes SIGINT, SIGTERM and SIGHUP remove the temporary file of every `AtomicFile` not yet
    /// committed, then end the process with status 128 + the signal (130, 143, 129), as a
    /// shell reports a process the signal killed. Signals set to be ignored stay ignored.
    ///
    /// Without it, an interrupt ends the process with the signal's default action and the
    /// hidden temporary stays beside the destination (the destination itself is never partial).
    /// It replaces the process's handlers for those signals, so it is for programs, like the
    /// `weights` command, not for libraries; call it once, early. `kill -9` cannot be caught:
    /// the temporary then stays, and the destination holds its old contents or the new file.
    public static func removeTemporaryFilesOnInterrupt() {
        _ = weights_cleanup_install()
    }

    /// Reserves `count` bytes on disk up front, when the final size is known: the filesystem
    /// then allocates blocks once instead of write by write, and a full disk fails here,
    /// before any data is written. Ignored where the filesystem can't preallocate.
    public func reserve(_ count: Int) throws {
        guard count > 0 else { return }
        let result = posix_fallocate(fd, 0, off_t(count))
        if result == ENOSPC { throw WeightsError(.io, "no space left for \(count) bytes", file: path) }
    }

    /// Sizes the file to `count` bytes with its blocks allocated, and maps it shared and
    /// writable, for writers that place every byte themselves (see ``OutputMapping``).
    ///
    /// Returns `nil` where the filesystem or system can't allocate blocks ahead, or refuses the
    /// mapping: the file is then unchanged, or sized with its blocks reserved, and the caller
    /// writes with ``write(_:at:)`` instead. Nothing may have been written yet.
    ///
    /// - Parameter reserve: allocates the blocks (`weights_reserve_blocks`: Linux's
    ///   `fallocate(2)`); returns 0, or -1 with `errno` set. A parameter so that tests can make
    ///   it fail.
    /// - Throws: `io` naming the destination when the space is not there (`ENOSPC`, `EDQUOT`)
    ///   or the reservation fails otherwise: a full disk fails here, before any data is written.
    package func mapForWriting(count: Int, reserve: (Int32, Int64) -> Int32 = { weights_reserve_blocks($0, $1) }) throws -> OutputMapping? {
        precondition(bytesWritten == 0 && buffer.isEmpty, "mapForWriting(count:) on a file already written")
        guard count > 0 else { return nil }
        if reserve(fd, Int64(count)) != 0 {
            if errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL { return nil }
            throw WeightsError.system("cannot reserve \(count) bytes", file: path)
        }
        return OutputMapping(fd: fd, count: count, path: path, syncToDisk: syncToDisk)
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        // Sound: `bytes` is the caller's for the call; it is copied into the buffer or written.
        bytesWritten += bytes.count
        if buffer.count + bytes.count <= Self.bufferCapacity {
            unsafe buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count < Self.bufferCapacity / 2 {
            unsafe buffer.append(contentsOf: bytes)
        } else {
            unsafe try writeAll(bytes)
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        unsafe try bytes.withUnsafeBytes { unsafe try write($0) }  // Sound: inside the closure.
    }

    /// Writes `bytes` at `offset` with `pwrite(2)`, for writers that place the parts of a file
    /// themselves, in any order (the file grows to cover them).
    ///
    /// It reads and changes nothing of the object but the file, so several threads may call
    /// it at once for disjoint ranges. It bypasses the buffer of ``write(_:)-(UnsafeRawBufferPointer)``
    /// and doesn't count in ``bytesWritten``: don't mix the two for one range. When the file is
    /// to be synced, each write is handed to the disk at once, as appends are, so that
    /// ``commit()``'s fsync has little left to wait for.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard offset >= 0 else {
            throw WeightsError(.invalidArgument, "cannot write \(bytes.count) bytes at offset \(offset)", file: path)
        }
        var done = 0
        // Sound: `done < bytes.count` makes the buffer non-empty (a non-nil address) and
        // `bytes.count - done` bytes from `done` lie in it.
        while done < bytes.count {
            let count = unsafe pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if count < 0 {
                if errno == EINTR { continue }
                var error = WeightsError.system("cannot write", file: path)
                error.offset = offset + done
                throw error
            }
            done += count
        }
        if syncToDisk, bytes.count >= Self.positionedWritebackMinimum {
            _ = weights_start_writeback(fd, Int64(offset), Int64(bytes.count))
        }
    }

    /// Positioned writes at least this large start their writeback at once.
    private static let positionedWritebackMinimum = 256 << 10

    /// Replaces bytes already written, starting `offset` bytes into the file: a header
    /// completed once the data behind it is known.
    ///
    /// - Throws: `invalidArgument` when the bytes would reach past what was written.
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        guard offset >= 0, offset + bytes.count <= bytesWritten else {
            throw WeightsError(.invalidArgument,
                "cannot overwrite \(bytes.count) bytes at \(offset) of \(bytesWritten) written", file: path)
        }
        try flush()
        var done = 0
        // Sound: as in `write(_:at:)`, inside the array's closure.
        while done < bytes.count {
            let count = unsafe bytes.withUnsafeBytes { unsafe pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw WeightsError.system("cannot write", file: path)
            }
            done += count
        }
    }

    /// Flushes, syncs the data to disk, renames the file into place and syncs the directory
    /// (the syncs only when `syncToDisk`).
    public func commit() throws {
        try flush()
        if syncToDisk, fsync(fd) != 0 { throw WeightsError.system("cannot sync", file: path) }
        // Linux releases the descriptor even when `close` fails (close(2)): forget it first, so
        // that deinit or a later write cannot reach the number once it is reused.
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw WeightsError.system("cannot close", file: path) }
        // Sound: the paths are passed as NUL-terminated copies for the calls.
        guard unsafe rename(temporaryPath, path) == 0 else { throw WeightsError.system("cannot rename into place", file: path) }
        committed = true
        weights_cleanup_unregister(cleanupSlot)
        cleanupSlot = -1
        guard syncToDisk else { return }
        let directoryFD = unsafe open(Self.directory(of: path), O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        unsafe try buffer.withUnsafeBytes { unsafe try writeAll($0) }  // Sound: inside the closure.
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        // Sound: as in `write(_:at:)`.
        while offset < bytes.count {
            let written = unsafe systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw WeightsError.system("cannot write", file: path)
            }
            offset += written
        }
        startWriteback(after: bytes.count)
    }

    /// When the file is to be synced, hands each 16 MiB written to the disk right away, so that
    /// the disk works while the rest is written and the final fsync has little left to wait
    /// for. (It took a 1 GiB durable write from about 560 to 450 ms here.)
    private func startWriteback(after count: Int) {
        written += count
        guard syncToDisk, written - writebackStart >= Self.writebackStride else { return }
        _ = weights_start_writeback(fd, Int64(writebackStart), Int64(written - writebackStart))
        writebackStart = written
    }

    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}

/// `write(2)`, under a name that the type's own `write` methods don't shadow.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    unsafe write(fd, buffer, count)  // Sound: the callers pass `count` readable bytes at `buffer`.
}
