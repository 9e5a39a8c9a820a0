import WeightsCore
/// One check made by ``Verification``: what was checked, and the error it found, if any.
///
/// ```swift
/// for finding in try Verification.verify("model.safetensors", expectations: .init(sha256: expected)) {
///     print(finding)                         // model.safetensors: FAILED (SHA-256 is 9f86…, expected 53aa…)
///     finding.error?.code == .digestMismatch // true
/// }
/// ```
public struct VerificationFinding: Sendable, Hashable, CustomStringConvertible {
    /// The file or tensor checked, as a person would name it.
    public var subject: String
    /// `nil` when the check passed; otherwise what is wrong, with its code (`digestMismatch`
    /// for a wrong digest, the reader's code for a file that does not open, and so on).
    public var error: WeightsError?

    public init(subject: String, error: WeightsError? = nil) {
        self.subject = subject
        self.error = error
    }

    /// A failed check of `subject`: `code` and `reason`, about the file `subject` names.
    package init(subject: String, file: String, _ code: WeightsError.Code, _ reason: String) {
        self.init(subject: subject, error: WeightsError(code, reason, file: file))
    }

    /// A check of `subject` that failed with whatever `error` is (a `WeightsError` as it is;
    /// anything else as an `io` error).
    package init(subject: String, failure: any Error) {
        self.init(subject: subject, error: failure as? WeightsError ?? WeightsError(.io, "\(failure)"))
    }

    public var passed: Bool { error == nil }

    /// What is wrong, for people: the error's reason (and byte offset), with its file too when
    /// the subject does not name it. `nil` when the check passed.
    public var problem: String? {
        guard let error else { return nil }
        guard let file = error.file, !subject.contains(file) else {
            return error.offset.map { "\(error.reason) (at byte offset \($0))" } ?? error.reason
        }
        return error.description
    }

    /// `"<subject>: OK"` or `"<subject>: FAILED (<problem>)"`, as `sha256sum -c` words it.
    public var description: String { problem.map { "\(subject): FAILED (\($0))" } ?? "\(subject): OK" }
}

/// A source that can check its own integrity beyond its tensors' bytes: a sharded
/// checkpoint's index against its shards, a compressed container's chunk checksums.
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
    /// - Parameters:
    ///   - path: A file, a model directory or a shard index.
    ///   - expectations: The digests and manifest entries the caller expects, if any.
    ///   - formats: Formats beyond the core's to recognize, as in
    ///     `Checkpoint.open(_:formats:mapping:)`.
    /// - Throws: only when a manifest can't be read; every mismatch is a finding.
    public static func verify(
        _ path: String, expectations: Expectations, formats: [any CheckpointFormat.Type] = []
    ) throws -> [VerificationFinding] {
        var findings: [VerificationFinding] = []
        if let expected = expectations.sha256 {
            findings.append(checkFile(path, expected: expected))
        }
        if let manifestPath = expectations.manifestPath {
            findings += try checkManifest(manifestPath)
        }
        let source: any TensorSource
        do { source = try Checkpoint.open(path, formats: formats) } catch {
            // Plain files checked by digest alone need not be weights.
            if expectations.contentDigest == nil, !findings.isEmpty { return findings }
            return findings + [VerificationFinding(subject: path, failure: error)]
        }
        if let checkable = source as? IntegrityCheckable { findings += checkable.integrityFindings() }
        let embedded = EmbeddedDigests.tensorDigests(in: source.metadata)
        guard expectations.contentDigest != nil || !embedded.isEmpty else { return findings }
        let digests: [String]
        do { digests = try TensorDigests.compute(for: source).map(\.sha256) } catch {
            return findings + [VerificationFinding(subject: path, failure: error)]
        }
        findings += checkEmbedded(source, digests: digests, recorded: embedded)
        if let expected = expectations.contentDigest {
            let actual = ContentDigest.compute(source, digests: digests)
            findings.append(actual == expected.lowercased()
                ? VerificationFinding(subject: "\(path) content digest")
                : VerificationFinding(subject: "\(path) content digest", file: path, .digestMismatch,
                                      "content digest is \(actual), expected \(expected)"))
        }
        return findings
    }

    static func checkFile(_ path: String, expected: String) -> VerificationFinding {
        do {
            let actual = try SHA256Digest.file(at: path)
            guard actual == expected.lowercased() else {
                return VerificationFinding(subject: path, file: path, .digestMismatch, "SHA-256 is \(actual), expected \(expected)")
            }
            return VerificationFinding(subject: path)
        } catch {
            return VerificationFinding(subject: path, failure: error)
        }
    }

    static func checkManifest(_ manifestPath: String) throws -> [VerificationFinding] {
        // Sound: the mapping is held by the call and copied into the String inside the closure.
        let text = unsafe try ByteStorage.map(path: manifestPath).withUnsafeBytes { unsafe String(decoding: $0, as: UTF8.self) }
        let manifest = try Manifest.parse(text, file: manifestPath)
        guard !manifest.entries.isEmpty else {
            return [VerificationFinding(subject: manifestPath, file: manifestPath, .invalidData, "the manifest lists no files")]
        }
        let findings = try ParallelMap.run(count: manifest.entries.count, cost: { Manifest.fileSize(manifest.entries[$0].path) }) {
            checkFile(manifest.entries[$0].path, expected: manifest.entries[$0].sha256)
        }
        return findings
    }

    static func checkEmbedded(_ source: any TensorSource, digests: [String], recorded: [String: String]) -> [VerificationFinding] {
        guard !recorded.isEmpty else { return [] }
        var findings: [VerificationFinding] = []
        for (info, actual) in zip(source.tensors, digests) {
            guard let expected = recorded.first(utf8: info.name) else {
                findings.append(VerificationFinding(subject: "tensor '\(info.name)'",
                    error: WeightsError(.invalidData, "no embedded digest", tensor: info.name)))
                continue
            }
            findings.append(VerificationFinding(subject: "tensor '\(info.name)'", error: actual == expected ? nil
                : WeightsError(.digestMismatch, "SHA-256 is \(actual), embedded digest says \(expected)", tensor: info.name)))
        }
        let names = Set(source.tensors.map { UTF8Key($0.name) })
        for name in recorded.keys where !names.contains(UTF8Key(name)) {
            findings.append(VerificationFinding(subject: "tensor '\(name)'",
                error: WeightsError(.invalidData, "has an embedded digest but is not in the file", tensor: name)))
        }
        if let content = source.metadata?[EmbeddedDigests.contentKey] {
            let actual = ContentDigest.compute(source, digests: digests)
            findings.append(VerificationFinding(subject: "\(source.path) embedded content digest", error: actual == content ? nil
                : WeightsError(.digestMismatch, "content digest is \(actual), embedded \(content)", file: source.path)))
        }
        return findings
    }
}
