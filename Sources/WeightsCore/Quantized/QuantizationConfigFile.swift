/// A model's `config.json` with the `quantization_config` of its weights: how a checkpoint
/// that `weights convert --dtype int4|f8_e4m3` wrote tells vLLM's and transformers' loaders
/// that its Linear weights are in compressed-tensors' layouts.
///
/// The file is read with ``JSONScanner`` (members in order, numbers as written), the one member
/// set or removed, and the object written back indented as transformers writes it (two spaces,
/// a newline at the end), through an ``AtomicFile``: a reader sees the old file or the new
/// one. Every other member keeps its place and its value.
///
/// ```swift
/// try QuantizationConfigFile.update(from: "model/config.json", to: "int4/config.json",
///                                   quantizationConfig: HubQuantizer.configJSON(.int4(groupSize: 128), ignore: ["lm_head"]))
/// ```
package enum QuantizationConfigFile {
    /// The member that holds the configuration, in `config.json` as in a file's metadata.
    package static let key = HubQuantizer.configMetadataKey

    /// `config` with its ``key`` member set to `quantization`, or removed when that is `nil`.
    /// A member already there is replaced in its place; a new one goes where it sorts when
    /// the keys are sorted (as transformers writes them), else last.
    ///
    /// - Throws: `invalidData` when `config` is not an object.
    package static func updating(_ config: JSONValue, with quantization: JSONValue?) throws -> JSONValue {
        guard case .object(var members) = config else {
            throw WeightsError(.invalidData, "config.json is not a JSON object")
        }
        if let index = members.firstIndex(where: { $0.0 == key }) {
            if let quantization { members[index].1 = quantization } else { members.remove(at: index) }
        } else if let quantization {
            let keys = members.map(\.0)
            let sorted = zip(keys, keys.dropFirst()).allSatisfy { utf8Precedes($0, $1) }
            let index = sorted ? (keys.firstIndex { utf8Precedes(key, $0) } ?? keys.count) : keys.count
            members.insert((key, quantization), at: index)
        }
        return .object(members)
    }

    /// Reads the `config.json` at `source`, sets its ``key`` member to `quantizationConfig`
    /// (JSON text; `nil` removes the member), and writes the result to `destination`, which
    /// may be `source`, atomically. Returns false, writing nothing, when `destination` is
    /// `source` and the member already holds that value (or is absent and `nil` is asked).
    ///
    /// - Throws: `io` when a file cannot be read or written; `invalidHeaderDeserialization`
    ///   with the byte offset for text that is not JSON, and `invalidData` for JSON that is
    ///   not an object, naming the file.
    /// - Complexity: O(*n*) in the file's size.
    @discardableResult
    package static func update(from source: String, to destination: String, quantizationConfig: String?) throws -> Bool {
        let storage = try ByteStorage.read(path: source)
        let config = try WeightsError.tagging(file: source) {
            try unsafe storage.withUnsafeBytes { unsafe try JSONValue.parse($0, unit: "byte") }  // Sound: parsed inside the closure, which keeps the storage alive.
        }
        let quantization = try quantizationConfig.map { text in
            unsafe try Array(text.utf8).withUnsafeBytes { unsafe try JSONValue.parse($0, unit: "byte") }  // Sound: parsed inside the closure.
        }
        let updated = try WeightsError.tagging(file: source) { try updating(config, with: quantization) }
        if destination == source, updated == config { return false }
        let file = try AtomicFile(path: destination)
        try WeightsError.tagging(file: destination) {
            try file.write(Array((updated.indented() + "\n").utf8))
            try file.commit()
        }
        return true
    }
}
