import WeightsCore
import WeightsIntegrity
import CZstd

/// A thin wrapper over libzstd's one-shot frame API, as the compressed container uses it.
///
/// Every frame is written with its content size and its content checksum (the low 32 bits of
/// XXH64 over the decompressed bytes), and every frame is read back only after its header is
/// checked: the content size must be the one the caller expects and the checksum flag must be
/// set, so a flipped bit in a frame header can neither inflate an allocation nor switch the
/// checksum off.
///
/// Contexts are not thread-safe: use one per thread.
///
/// ```swift
/// let compressor = try Zstd.Compressor(.level(1))
/// let frame = try compressor.compress(bytes)
/// let decompressor = try Zstd.Decompressor()
/// try decompressor.decompress(frame, into: destination)   // destination.count == bytes.count
/// ```
enum Zstd {
    /// The 4-byte magic number that opens every zstd frame (RFC 8878, section 3.1.1).
    static let frameMagic: UInt32 = 0xFD2F_B528

    /// The levels libzstd accepts; negative levels trade ratio for speed.
    static var levels: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }

    /// The most bytes compressing `count` bytes can produce.
    static func bound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// libzstd's version, as "1.5.4".
    static var version: String { unsafe String(cString: ZSTD_versionString()) }  // Sound: a static NUL-terminated string.

    /// A failure reported by libzstd, as text.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(code: Int) { description = unsafe String(cString: ZSTD_getErrorName(code)) }  // Sound: a static NUL-terminated string, for any code.
        init(_ description: String) { self.description = description }
    }

    static func check(_ result: Int) throws(Failure) -> Int {
        if ZSTD_isError(result) != 0 { throw Failure(code: result) }
        return result
    }

    /// How a compressor searches: a level, or the parameters tuned for exponent planes.
    enum Tuning: Hashable {
        case level(Int)
        /// For bytes whose redundancy is in their skewed distribution, not in repeats (the
        /// exponent plane of weights): the fast strategy with a tiny hash table and 7-byte
        /// minimum matches, so that nearly everything goes to zstd's Huffman-coded literals.
        /// On all-MiniLM-L6-v2 it shrinks the exponent plane to 0.330 of its size, against
        /// 0.384 at level 1 and 0.332 at level 19, at level 1's speed.
        case exponent
    }

    /// A compression context, with its tuning and checksum settings applied.
    @safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
    final class Compressor {
        private let context: OpaquePointer

        init(_ tuning: Tuning) throws(Failure) {
            // Sound: the context is this object's alone, freed once at deinit.
            guard let context = unsafe ZSTD_createCCtx() else { throw Failure("cannot allocate a compression context") }
            unsafe self.context = unsafe context
            switch tuning {
            case .level(let level):
                try set(ZSTD_c_compressionLevel, level)
            case .exponent:
                try set(ZSTD_c_strategy, Int(ZSTD_fast.rawValue))
                try set(ZSTD_c_windowLog, 17)
                try set(ZSTD_c_hashLog, 6)
                try set(ZSTD_c_chainLog, 6)
                try set(ZSTD_c_searchLog, 1)
                try set(ZSTD_c_minMatch, 7)
                try set(ZSTD_c_targetLength, 0)
            }
            try set(ZSTD_c_checksumFlag, 1)
            try set(ZSTD_c_contentSizeFlag, 1)
        }

        private func set(_ parameter: ZSTD_cParameter, _ value: Int) throws(Failure) {
            _ = unsafe try check(ZSTD_CCtx_setParameter(context, parameter, Int32(value)))  // Sound: `context` lives as long as `self`.
        }

        deinit { unsafe ZSTD_freeCCtx(context) }  // Sound: the last use of the context.

        /// Compresses `source` as one frame into `destination`, which must hold
        /// `Zstd.bound(source.count)` bytes. Returns the frame's size.
        func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(Failure) -> Int {
            // Sound: each buffer goes with its own count, and zstd writes at most
            // `destination.count` bytes (a smaller destination is an error, not an overflow).
            unsafe try check(ZSTD_compress2(context, destination.baseAddress, destination.count,
                                     source.baseAddress, source.count))
        }

        /// `source` compressed as one frame.
        func compress(_ source: UnsafeRawBufferPointer) throws -> [UInt8] {
            var frame = [UInt8](repeating: 0, count: Zstd.bound(source.count))
            let size = unsafe try frame.withUnsafeMutableBytes { unsafe try compress(source, into: $0) }  // Sound: inside the closure.
            frame.removeLast(frame.count - size)
            return frame
        }
    }

    /// A decompression context.
    @safe  // Safety: owns the memory its pointers address (allocated at init, freed at deinit), and no pointer leaves its methods.
    final class Decompressor {
        private let context: OpaquePointer

        init() throws(Failure) {
            // Sound: the context is this object's alone, freed once at deinit.
            guard let context = unsafe ZSTD_createDCtx() else { throw Failure("cannot allocate a decompression context") }
            unsafe self.context = unsafe context
        }

        deinit { unsafe ZSTD_freeDCtx(context) }  // Sound: the last use of the context.

        /// Decompresses `frame`, which must be exactly one checksummed frame whose content is
        /// exactly `destination.count` bytes, into `destination`.
        ///
        /// - Complexity: O(`destination.count`). Nothing is allocated.
        func decompress(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(Failure) {
            // Sound: each buffer goes with its own count; zstd reads at most `frame.count` bytes
            // and writes at most `destination.count`, whatever the frame holds.
            unsafe try Zstd.checkFrameHeader(frame, contentSize: destination.count)
            let written = unsafe try check(ZSTD_decompressDCtx(context, destination.baseAddress, destination.count,
                                                        frame.baseAddress, frame.count))
            guard written == destination.count else {
                throw Failure("frame holds \(written) bytes, expected \(destination.count)")
            }
        }
    }

    /// Checks, without decompressing, that `frame` is one zstd frame of exactly its length that
    /// declares `contentSize` bytes and carries a content checksum.
    static func checkFrameHeader(_ frame: UnsafeRawBufferPointer, contentSize: Int) throws(Failure) {
        // Sound: the 4-byte load and `frame[4]` follow the check `frame.count >= 6`; libzstd
        // gets the frame with its count (and a non-nil address: it is not empty).
        guard frame.count >= 6, unsafe UInt32(littleEndian: frame.loadUnaligned(as: UInt32.self)) == frameMagic else {
            throw Failure("not a zstd frame")
        }
        // Frame_Header_Descriptor, bit 2: Content_Checksum_flag (RFC 8878, section 3.1.1.1.1).
        guard unsafe frame[4] & 0b100 != 0 else { throw Failure("frame has no content checksum") }
        let declared = unsafe ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard declared == UInt64(contentSize) else {
            // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
            let shown = declared >= UInt64.max - 1 ? "no valid size" : "\(declared) bytes"
            throw Failure("frame declares \(shown), expected \(contentSize)")
        }
        let length = unsafe ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        guard ZSTD_isError(length) == 0, length == frame.count else {
            throw Failure(ZSTD_isError(length) != 0 ? Failure(code: length).description
                                                    : "frame ends at byte \(length) of \(frame.count)")
        }
    }
}
