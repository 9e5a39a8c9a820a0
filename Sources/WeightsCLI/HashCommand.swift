import ArgumentParser
import Weights

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 of a file, or of each tensor's raw bytes.",
        discussion: """
            Without --tensors, prints "<sha256>  PATH" as sha256sum does: for a file from the \
            model hub this is the digest the hub publishes. With --tensors, prints \
            "<sha256>  <name>" for every tensor, in data order, hashing tensors on all cores.
            """
    )

    @Argument(help: "The file to hash (with --tensors: any weights path).")
    var path: String

    @Flag(help: "Hash each tensor's raw bytes instead of the file.")
    var tensors = false

    @Option(help: "With --tensors: how many tensors to hash at once (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if tensors {
            let source = try openSource(path)
            let digests = try WeightsError.tagging(file: path) { try TensorDigests.compute(for: source, threads: threads) }
            print(digests.map { "\($0.sha256)  \($0.name)\n" }.joined(), terminator: "")
        } else {
            print("\(try SHA256Digest.file(at: path))  \(path)")
        }
    }
}

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print the content digest: one SHA-256 for the tensors, whatever the file layout.",
        discussion: """
            The SHA-256 of a canonical listing of every tensor's name, dtype, shape and raw-byte \
            SHA-256, sorted by name (Spec/digests.md). It is the same for one file, a sharded \
            set, a compressed container or another tensor order, and changes with any byte, \
            name, dtype or shape. Metadata is not part of it.
            """
    )

    @Argument(help: "A .safetensors file, an index.json, a model directory, or a compressed container.")
    var path: String

    func run() throws {
        let source = try openSource(path)
        print("\(try WeightsError.tagging(file: path) { try ContentDigest.compute(for: source) })  \(path)")
    }
}

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print sha256sum lines for every file of a model, shards and index included.",
        discussion: """
            A directory contributes every file below it, an index.json itself and its shards. \
            The output can be checked with `sha256sum -c` or `weights verify --manifest`.
            """
    )

    @Argument(help: "Files, index.json files or model directories.")
    var paths: [String]

    func run() throws {
        print(try Manifest.make(for: paths).text, terminator: "")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that weights are exactly what they should be.",
        discussion: """
            Checks what is given: the file's SHA-256 (--sha256), every entry of a manifest \
            (--manifest), the content digest (--digest). Always checks what the file itself \
            allows: that a sharded set's index and shards agree and total_size is right, digests \
            embedded by `convert --embed-digests`, and a compressed container's checksums and \
            tensor digests. Prints one line per check; exits 0 when all pass, 1 otherwise.
            """
    )

    @Argument(help: "A file, an index.json or a model directory.")
    var path: String

    @Option(help: "The expected SHA-256 of the file.")
    var sha256: String?

    @Option(help: "A sha256sum-style manifest whose every entry must match.")
    var manifest: String?

    @Option(help: "The expected content digest (see `weights digest`).")
    var digest: String?

    func validate() throws {
        for (name, value) in [("--sha256", sha256), ("--digest", digest)] {
            if let value, value.count != 64 || !value.allSatisfy(\.isHexDigit) {
                throw ValidationError("\(name) takes 64 hex digits")
            }
        }
    }

    func run() throws {
        let expectations = Verification.Expectations(sha256: sha256, manifestPath: manifest, contentDigest: digest)
        let findings = try Verification.verify(path, expectations: expectations, formats: Checkpoint.allFormats)
        for finding in findings { print(finding) }
        let failed = findings.filter { !$0.passed }.count
        if findings.isEmpty {
            print("\(path): nothing to check (give --sha256, --manifest or --digest)")
        } else {
            print(failed == 0 ? "verified: \(findings.count) checks passed" : "FAILED: \(failed) of \(findings.count) checks")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
