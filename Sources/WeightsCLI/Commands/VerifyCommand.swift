import ArgumentParser
import Weights

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
