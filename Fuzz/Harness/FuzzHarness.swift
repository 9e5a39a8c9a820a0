import WeightsPlatform
import Weights
import WeightsEngine

/// What each fuzz target does with one input, shared by the libFuzzer executables
/// (`Fuzz/<target>/`, built by `scripts/fuzz`) and by the test suite, which replays the inputs
/// kept in `Fixtures/fuzz/<target>/`.
///
/// A harness returns normally when the input is accepted and every promise about it held, and
/// throws the library's ``WeightsError`` when the input is rejected. Anything else is a finding:
/// a crash or sanitizer report, or a ``FuzzViolation`` (an error that is not a `WeightsError`,
/// an error that names no file, an accepted input that breaks a promise such as "what the
/// writer writes, the reader reads back").
public enum FuzzHarness {
    /// The targets, by the names `scripts/fuzz` and `Fixtures/fuzz/` use.
    public static let targets = ["safetensors", "shard-index", "compressed", "manifest", "model-directory", "gguf"]

    /// Runs target `name` on `input`.
    ///
    /// - Throws: ``WeightsError`` when the input is rejected as it should be; ``FuzzViolation``
    ///   for a finding.
    public static func run(_ name: String, _ input: UnsafeRawBufferPointer) throws {
        switch name {
        case "safetensors": unsafe try safetensors(input)
        case "shard-index": unsafe try shardIndex(input)
        case "compressed": unsafe try compressed(input)
        case "manifest": unsafe try manifest(input)
        case "model-directory": unsafe try modelDirectory(input)
        case "gguf": unsafe try gguf(input)
        default: throw FuzzViolation("no fuzz target named '\(name)'")
        }
    }

    /// Runs `body` and sorts what it throws: a `WeightsError` that names a file is a clean
    /// rejection (rethrown as is); anything else is a violation.
    static func rejecting<R>(_ what: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as WeightsError {
            guard error.file != nil else { throw FuzzViolation("\(what): the error names no file: \(error)") }
            throw error
        } catch let violation as FuzzViolation {
            throw violation
        } catch {
            throw FuzzViolation("\(what): an error that is not a WeightsError: \(type(of: error)): \(error)")
        }
    }

    /// Like ``rejecting(_:_:)``, but a clean rejection returns `nil`, so that later steps still run.
    static func attempt<R>(_ what: String, _ body: () throws -> R) throws -> R? {
        do { return try rejecting(what, body) } catch is WeightsError { return nil }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw FuzzViolation(message()) }
    }
}

/// A broken promise found by a harness (see ``FuzzHarness``).
public struct FuzzViolation: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

// MARK: Scratch files

/// One directory per process for harnesses whose parser takes a path: in /dev/shm when it is
/// there (no disk writes at fuzzing speed), else $TMPDIR or /tmp. Made on first use, reused for
/// every input, removed at exit.
enum Scratch {
    nonisolated(unsafe) private static var made: String?

    static var directory: String {
        if let made = unsafe made { return made }
        let base: String
        if unsafe access("/dev/shm", W_OK) == 0 {
            base = "/dev/shm"
        } else if let tmp = unsafe getenv("TMPDIR"), unsafe tmp.pointee != 0 {
            base = unsafe String(cString: tmp)
        } else {
            base = "/tmp"
        }
        let path = "\(base)/weights-fuzz-\(getpid())"
        unsafe mkdir(path, 0o700)
        unsafe made = path
        atexit { Scratch.remove() }
        return path
    }

    /// `bytes` written to `name` in the scratch directory (subdirectories made as needed).
    @discardableResult
    static func write(_ bytes: UnsafeRawBufferPointer, to name: String) throws -> String {
        let path = directory + "/" + name
        var prefix = directory
        for component in name.split(separator: "/").dropLast() {
            prefix += "/" + component
            unsafe mkdir(prefix, 0o700)
        }
        guard unsafe writeFile(path, bytes) else { throw FuzzViolation("cannot write the scratch file \(path)") }
        return path
    }

    @discardableResult
    static func write(_ bytes: [UInt8], to name: String) throws -> String {
        unsafe try bytes.withUnsafeBytes { unsafe try write($0, to: name) }
    }

    static func remove() {
        guard let made = unsafe made else { return }
        removeTree(made)
    }

    private static func removeTree(_ path: String) {
        if let handle = unsafe opendir(path) {
            while let entry = unsafe readdir(handle) {
                let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { unsafe String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                removeTree(path + "/" + name)
            }
            unsafe closedir(handle)
            unsafe rmdir(path)
        } else {
            unsafe unlink(path)
        }
    }
}

/// Writes `bytes` to a new or truncated file at `path`.
private func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
    let fd = unsafe open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = unsafe write(fd, bytes.baseAddress! + done, bytes.count - done)
        guard n > 0 else { return false }
        done += n
    }
    return true
}

/// The repository's `Fixtures/` folder, found from this source file.
enum Fixtures {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/Fixtures"
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        let storage = try ByteStorage.map(path: root + "/" + name)
        return withExtendedLifetime(storage) { unsafe Array(storage.bytes) }
    }
}

// MARK: libFuzzer glue

/// `LLVMFuzzerTestOneInput`'s body: 0 for an input accepted or cleanly rejected; a violation
/// is printed and aborts, so that libFuzzer records the input as a crash.
public func fuzzOne(_ target: String, _ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        unsafe try FuzzHarness.run(target, UnsafeRawBufferPointer(start: data, count: size))
    } catch is WeightsError {
    } catch {
        // fatalError, not a print: libFuzzer then saves the input and reports a crash.
        fatalError("fuzz violation in '\(target)': \(error)")
    }
    return 0
}

extension FuzzHarness {
    /// Seeds that are made rather than copied from `Fixtures/`: containers compressed from the
    /// valid safetensors fixtures, in small chunks so that tensors span several. Written to
    /// `directory`; returns how many.
    public static func writeCompressedSeeds(to directory: String) throws -> Int {
        let valid = Fixtures.root + "/safetensors/valid"
        var written = 0
        for name in ["dtype_F32.safetensors", "dtype_BF16.safetensors", "dtype_I64.safetensors", "dtype_BOOL.safetensors",
                     "empty_with_meta.safetensors", "hand_metadata_multi.safetensors", "hand_all_dtypes.safetensors",
                     "model_bert_tiny.safetensors"] {
            let source = try SafetensorsFile(path: valid + "/" + name)
            let options = CompressionOptions(level: 1, chunkSize: CompressedFormat.chunkSizes.lowerBound, threads: 1)
            try CompressedWriter.compress(source, to: directory + "/" + name.replacingSuffix(".safetensors", with: ".wzst"),
                                          options: options)
            written += 1
        }
        return written
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
