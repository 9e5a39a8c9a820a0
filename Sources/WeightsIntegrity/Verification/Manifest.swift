import WeightsCore
import WeightsPlatform

/// A list of files with their SHA-256, in the format `sha256sum` prints and `sha256sum -c`
/// checks: one `<64 hex digits>  <path>` line per file.
///
/// A path that holds a backslash, a line feed or a carriage return is written as GNU
/// `sha256sum` writes it: the line starts with a backslash, and the path's `\`, line feed and
/// carriage return are written `\\`, `\n` and `\r` (coreutils 9.1 prints and reads this form).
///
/// ```swift
/// let manifest = try Manifest.make(for: ["llama/"])   // every file of the model, shards and index too
/// print(manifest.text, terminator: "")
/// ```
public struct Manifest: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var sha256: String
        public var path: String

        /// An entry: `sha256` in lowercase hex, `path` as `sha256sum -c` opens it.
        public init(sha256: String, path: String) {
            self.sha256 = sha256
            self.path = path
        }

        /// The entry's line, as `sha256sum` prints it: `<hex>  <path>\n`, or for a path that
        /// holds a backslash, line feed or carriage return, `\<hex>  <escaped path>\n`.
        var line: String {
            let special: (Unicode.Scalar) -> Bool = { $0 == "\\" || $0 == "\n" || $0 == "\r" }
            guard path.unicodeScalars.contains(where: special) else { return "\(sha256)  \(path)\n" }
            var escaped = ""
            for scalar in path.unicodeScalars {
                switch scalar {
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return "\\\(sha256)  \(escaped)\n"
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// The manifest's lines, each ending in a newline; paths that need it escaped as
    /// `sha256sum` escapes them, so that every path reads back as it was.
    ///
    /// - Complexity: O(*n*) in the length of the paths.
    public var text: String { entries.map(\.line).joined() }

    /// Hashes the files of `paths`, on all cores. A directory contributes every regular file
    /// below it (hidden ones excepted), an index file contributes itself and its shards, any
    /// other file itself. Paths are printed as they would be given to `sha256sum`.
    public static func make(for paths: [String]) throws -> Manifest {
        var files: [String] = []
        for path in paths { files += try self.files(of: path) }
        var seen = Set<String>()
        let unique = files.filter { seen.insert($0).inserted }
        let sizes = unique.map(fileSize)
        let digests = try ParallelMap.run(count: unique.count, cost: { sizes[$0] }) { try SHA256Digest.file(at: unique[$0]) }
        return Manifest(entries: zip(digests, unique).map { Entry(sha256: $0, path: $1) })
    }

    /// Parses `sha256sum` output: `<hex>  <path>` or `<hex> *<path>` lines; blank lines skipped;
    /// a line may end in `\r\n`. A line that starts with a backslash has an escaped path
    /// (`\\`, `\n`, `\r`), as GNU `sha256sum` writes a name that holds one of those characters.
    ///
    /// Lines are split and read on UTF-8 bytes, as `sha256sum` reads them: not on Characters,
    /// for which `\r\n` is one character (a CRLF manifest read as one line) and a combining mark
    /// joins the space before it.
    ///
    /// - Throws: `invalidData` naming the line that is neither, or whose escaped path holds
    ///   another backslash sequence.
    /// - Complexity: O(*n*) in the length of `text`.
    public static func parse(_ text: String, file: String) throws -> Manifest {
        var entries: [Entry] = []
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (number, whole) in lines.enumerated() {
            var line = whole[...]
            while line.last == UInt8(ascii: "\r") { line.removeLast() }
            guard !line.isEmpty else { continue }
            let escaped = line.first == UInt8(ascii: "\\")
            let bytes = Array(escaped ? line.dropFirst() : line)
            guard bytes.count > 66, bytes[64] == UInt8(ascii: " "), bytes[65] == UInt8(ascii: " ") || bytes[65] == UInt8(ascii: "*"),
                  bytes[0..<64].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }) else {
                throw WeightsError(.invalidData, "line \(number + 1) is not '<sha256>  <path>'", file: file)
            }
            let path = escaped ? unescape(bytes[66...]) : Array(bytes[66...])
            guard let path else {
                throw WeightsError(.invalidData, "line \(number + 1): the escaped path holds a backslash that is not \\\\, \\n or \\r",
                                   file: file)
            }
            entries.append(Entry(sha256: String(decoding: bytes[0..<64], as: UTF8.self).lowercased(),
                                 path: String(decoding: path, as: UTF8.self)))
        }
        return Manifest(entries: entries)
    }

    /// The bytes of an escaped path with `\\`, `\n` and `\r` undone, or `nil` for any other
    /// backslash sequence (which `sha256sum -c` also refuses).
    static func unescape(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var path: [UInt8] = []
        path.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "\\") else { path.append(byte); continue }
            switch iterator.next() {
            case UInt8(ascii: "\\"): path.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "n"): path.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "r"): path.append(UInt8(ascii: "\r"))
            default: return nil
            }
        }
        return path
    }

    static func files(of path: String) throws -> [String] {
        if Checkpoint.isDirectory(path) {
            return try walk(path.hasSuffix("/") ? String(path.dropLast()) : path)
        }
        if path.hasSuffix(".index.json") {
            let directory = AtomicFile.directory(of: path)
            let index = try WeightsError.tagging(file: path) {
                // Sound: the mapping is held by the call and read only inside the closure.
                unsafe try ByteStorage.map(path: path).withUnsafeBytes { unsafe try ShardIndex.decode($0) }
            }
            let prefix = path.contains("/") ? directory + "/" : ""
            return [path] + index.shardFiles.map { prefix + $0 }
        }
        guard Checkpoint.fileExists(path) else {
            throw WeightsError(.io, "no such file or directory", file: path)
        }
        return [path]
    }

    /// Regular files below `directory`, sorted, hidden entries skipped.
    static func walk(_ directory: String) throws -> [String] {
        // Sound: the stream is closed once, on return; each entry readdir returns is read
        // before the next call, and d_name, a fixed array, is read up to its NUL inside it.
        guard let handle = unsafe opendir(directory) else { throw WeightsError.system("cannot list", file: directory) }
        defer { unsafe closedir(handle) }
        var names: [String] = []
        while let entry = unsafe readdir(handle) {
            let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { unsafe String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        var files: [String] = []
        for name in names.sorted(by: utf8Precedes) {
            let path = directory + "/" + name
            if Checkpoint.isDirectory(path) { files += try walk(path) } else { files.append(path) }
        }
        return files
    }

    static func fileSize(_ path: String) -> Int {
        var status = stat()
        // Sound: stat writes one `stat`, which `status` is.
        return unsafe stat(path, &status) == 0 ? Int(status.st_size) : 0
    }
}
