/// An error from reading, writing or checking weight files.
///
/// Every error carries a ``Code`` to match on, and as much context as is known: the file, the
/// tensor, the byte offset. Its `description` is one line for people: the file, the
/// ``reason`` (which names the tensor or key it is about), and the byte offset when known:
///
/// ```swift
/// do { _ = try GGUFFile(path: "model.gguf") }
/// catch let error as WeightsError where error.code == .invalidHeader {
///     print(error)   // model.gguf: file ends inside the type of tensor 'b': 4 bytes needed, 2 left (at byte offset 812)
/// }
/// ```
public struct WeightsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. The first cases mirror the reference implementation's errors, in the
    /// order its reader checks them.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file is shorter than the 8-byte header length.
        case headerTooSmall
        /// The declared header length is over the 100,000,000-byte limit.
        case headerTooLarge
        /// The declared header length runs past the end of the file.
        case invalidHeaderLength
        /// The header is not valid UTF-8.
        case invalidHeader
        /// The header is not JSON of the expected shape.
        case invalidHeaderDeserialization
        /// A tensor's data offsets leave a gap, overlap another tensor, or run backwards.
        case invalidOffset
        /// A shape's element count or bit count does not fit in 64 bits.
        case validationOverflow
        /// A packed sub-byte tensor does not fill a whole number of bytes.
        case misalignedSlice
        /// A tensor's byte span does not match its shape and dtype.
        case tensorInvalidInfo
        /// The data section is longer or shorter than the tensors it holds.
        case metadataIncompleteBuffer
        /// Two tensors share a name (the reference keeps the last one silently; we refuse).
        case duplicateTensorName
        /// A tensor is named `__metadata__`, which the header reserves.
        case reservedTensorName
        /// No tensor has the requested name.
        case tensorNotFound
        /// A typed view asked for an element type that does not match the tensor's dtype.
        case dtypeMismatch
        /// The bytes handed to a writer do not match the tensor's shape and dtype.
        case byteCountMismatch
        /// A sharded checkpoint's index is malformed or disagrees with its shards.
        case invalidShardIndex
        /// The caller passed something the operation does not accept: an option or size out of
        /// range, a tensor given out of order, buffers that disagree. A bug in the calling
        /// code, not in any file.
        case invalidArgument
        /// An input holds a value its format allows but its role does not: a configuration
        /// entry out of range, a manifest line, a BOOL byte other than 0 or 1, a scale tensor
        /// of the wrong shape, NaN in a row that INT8 must scale. The file is at fault.
        case invalidData
        /// Compressed data is corrupt, truncated or fails its checksum.
        case corruptData
        /// A digest computed from the bytes differs from the one expected: a file's SHA-256 in a
        /// manifest, a tensor's embedded digest, a content digest.
        case digestMismatch
        /// The file is of a format this library does not read.
        case unsupportedFormat
        /// The file was truncated, extended or modified by someone else while it was read, so
        /// what was read cannot be trusted.
        case fileChanged
        /// A size or count read from an input is over a documented limit (`Spec/limits.md`), or
        /// larger than the input that declares it could hold.
        case limitExceeded
        /// A system call failed.
        case io
    }

    /// Who is at fault for an error: the input, the calling code, or the system.
    public enum Fault: Sendable, Hashable {
        /// The file or data read is malformed, corrupt or unsuitable: fix or replace the input.
        case input
        /// The calling code misused the API: fix the program.
        case caller
        /// The operating system refused (a missing file, a full disk, a permission).
        case system
    }

    public var code: Code
    /// A line for people that says what is wrong, naming the tensor or key it concerns, but
    /// not the file or the byte offset (``description`` adds them).
    public var reason: String
    /// The file the error is about, when known.
    public var file: String?
    /// The tensor the error is about, when known.
    public var tensor: String?
    /// The byte offset in the file the error is about, when known.
    public var offset: Int?

    public init(_ code: Code, _ reason: String, file: String? = nil, tensor: String? = nil, offset: Int? = nil) {
        self.code = code
        self.reason = reason
        self.file = file
        self.tensor = tensor
        self.offset = offset
    }

    /// Who is at fault, from the code.
    public var fault: Fault {
        switch code {
        case .invalidArgument, .dtypeMismatch, .byteCountMismatch, .tensorNotFound: .caller
        case .io: .system
        default: .input
        }
    }

    /// The same error, about `file` (kept when it already names one).
    public func `in`(file: String) -> WeightsError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }

    /// The same error, about tensor `name`, when it is about no tensor yet: `name` goes into
    /// ``tensor`` and, as "tensor 'name': ", in front of the reason. For errors raised below the
    /// level that knows which tensor is being read (a changed file, a failed read).
    public func `in`(tensor name: String) -> WeightsError {
        guard tensor == nil else { return self }
        var copy = self
        copy.tensor = name
        copy.reason = "tensor '\(name)': \(reason)"
        return copy
    }

    /// `file: reason (at byte offset N)`, each part when known.
    public var description: String {
        var text = file.map { "\($0): \(reason)" } ?? reason
        if let offset { text += " (at byte offset \(offset))" }
        return text
    }
}

extension WeightsError {
    /// Runs `body`, tagging any `WeightsError` it throws with `file` (kept when it already
    /// names one).
    public static func tagging<R>(file: String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as WeightsError { throw error.in(file: file) }
    }
}
