/// One check made by ``Verification``: what was checked, and what is wrong with it, if anything.
public struct VerificationFinding: Sendable, Hashable, CustomStringConvertible {
    /// The file or tensor checked, as a person would name it.
    public var subject: String
    /// `nil` when the check passed; otherwise what is wrong.
    public var problem: String?

    public init(subject: String, problem: String? = nil) {
        self.subject = subject
        self.problem = problem
    }

    public var passed: Bool { problem == nil }

    /// `"<subject>: OK"` or `"<subject>: FAILED (<problem>)"`, as `sha256sum -c` words it.
    public var description: String { problem.map { "\(subject): FAILED (\($0))" } ?? "\(subject): OK" }
}

/// A source that can check its own integrity beyond its tensors' bytes (a compressed
/// container's chunk checksums, say).
public protocol IntegrityCheckable {
    /// Every internal check, each named by the file or tensor it concerns.
    func integrityFindings() -> [VerificationFinding]
}

/// Checks that weights are exactly what they should be.
///
/// ```swift
/// let findings = try Verification.verify("model.safetensors",
///     expectations: .init(sha256: "53aa5117…d9db"))
/// findings.allSatisfy(\.passed)
/// ```
public enum Verification {
    /// What the caller expects; the structural checks run whatever is given.
    public struct Expectations: Sendable {
        /// The file's SHA-256.
        public var sha256: String?
        /// A `sha256sum`-style manifest file to check, entry by entry.
        public var manifestPath: String?
        /// The content digest (see ``ContentDigest``).
        public var contentDigest: String?

        public init(sha256: String? = nil, manifestPath: String? = nil, contentDigest: String? = nil) {
            self.sha256 = sha256
            self.manifestPath = manifestPath
            self.contentDigest = contentDigest
        }
    }

    /// Runs every check that applies to `path`:
    /// - the file digest, the manifest entries and the content digest, when expected;
    /// - for a sharded checkpoint, that index and shards agree and `total_size` is right;
    /// - digests embedded in the metadata, when present;
    /// - a source's own integrity checks (compressed containers).
    ///
    /// - Throws: only when a manifest can't be read; every mismatch is a finding.
    public static func verify(_ path: String, expectations: Expectations) throws -> [VerificationFinding] {
        var findings: [VerificationFinding] = []
        if let expected = expectations.sha256 {
            findings.append(checkFile(path, expected: expected))
        }
        if let manifestPath = expectations.manifestPath {
            findings += try checkManifest(manifestPath)
        }
        let source: any TensorSource
        do { source = try Checkpoint.open(path) } catch {
            // Plain files checked by digest alone need not be weights.
            if expectations.contentDigest == nil, !findings.isEmpty { return findings }
            return findings + [VerificationFinding(subject: path, problem: "\(error)")]
        }
        findings += checkStructure(source)
        if let checkable = source as? IntegrityCheckable { findings += checkable.integrityFindings() }
        let embedded = EmbeddedDigests.tensorDigests(in: source.metadata)
        guard expectations.contentDigest != nil || !embedded.isEmpty else { return findings }
        let digests: [String]
        do { digests = try TensorDigests.compute(for: source).map(\.sha256) } catch {
            return findings + [VerificationFinding(subject: path, problem: "\(error)")]
        }
        findings += checkEmbedded(source, digests: digests, recorded: embedded)
        if let expected = expectations.contentDigest {
            let actual = ContentDigest.compute(source.tensors, digests: digests)
            findings.append(VerificationFinding(subject: "\(path) content digest",
                problem: actual == expected.lowercased() ? nil : "content digest is \(actual), expected \(expected)"))
        }
        return findings
    }

    static func checkFile(_ path: String, expected: String) -> VerificationFinding {
        do {
            let actual = try SHA256Digest.file(at: path)
            return VerificationFinding(subject: path, problem: actual == expected.lowercased() ? nil : "SHA-256 is \(actual), expected \(expected)")
        } catch {
            return VerificationFinding(subject: path, problem: "\(error)")
        }
    }

    static func checkManifest(_ manifestPath: String) throws -> [VerificationFinding] {
        let bytes = try ByteStorage.map(path: manifestPath)
        let text = withExtendedLifetime(bytes) { String(decoding: bytes.bytes, as: UTF8.self) }
        let manifest = try Manifest.parse(text, file: manifestPath)
        guard !manifest.entries.isEmpty else {
            return [VerificationFinding(subject: manifestPath, problem: "the manifest lists no files")]
        }
        let findings = try ParallelMap.run(count: manifest.entries.count, cost: { Manifest.fileSize(manifest.entries[$0].path) }) {
            checkFile(manifest.entries[$0].path, expected: manifest.entries[$0].sha256)
        }
        return findings
    }

    static func checkStructure(_ source: any TensorSource) -> [VerificationFinding] {
        guard let sharded = source as? ShardedCheckpoint else { return [] }
        let actual = sharded.tensors.reduce(0) { $0 + $1.byteCount }
        let subject = "\(sharded.path) total_size"
        guard let declared = sharded.index.totalSize else {
            return [VerificationFinding(subject: subject, problem: "the index declares no total_size")]
        }
        return [VerificationFinding(subject: subject,
            problem: declared == actual ? nil : "index declares \(declared) bytes, the shards hold \(actual)")]
    }

    static func checkEmbedded(_ source: any TensorSource, digests: [String], recorded: [String: String]) -> [VerificationFinding] {
        guard !recorded.isEmpty else { return [] }
        var findings: [VerificationFinding] = []
        for (info, actual) in zip(source.tensors, digests) {
            guard let expected = recorded.first(utf8: info.name) else {
                findings.append(VerificationFinding(subject: "tensor '\(info.name)'", problem: "no embedded digest"))
                continue
            }
            findings.append(VerificationFinding(subject: "tensor '\(info.name)'",
                problem: actual == expected ? nil : "SHA-256 is \(actual), embedded digest says \(expected)"))
        }
        let names = Set(source.tensors.map { UTF8Key($0.name) })
        for name in recorded.keys where !names.contains(UTF8Key(name)) {
            findings.append(VerificationFinding(subject: "tensor '\(name)'", problem: "has an embedded digest but is not in the file"))
        }
        if let content = source.metadata?[EmbeddedDigests.contentKey] {
            let actual = ContentDigest.compute(source.tensors, digests: digests)
            findings.append(VerificationFinding(subject: "\(source.path) embedded content digest",
                problem: actual == content ? nil : "content digest is \(actual), embedded \(content)"))
        }
        return findings
    }
}
