import WeightsCore
import WeightsPlatform

/// A sentence-transformers model directory: the one place that reads its configuration
/// files, each once, and hands every component its settings.
///
/// The layout, all-MiniLM-L6-v2's:
///
/// | file | read by | gives |
/// |---|---|---|
/// | `sentence_bert_config.json` | `init(path:)` | `maximumSequenceLength` |
/// | `modules.json` | `modules()` | the encoder's and the pooling's directories, normalization |
/// | `config.json` (in the encoder's directory) | `encoderConfiguration(_:)` | the `BertConfiguration` |
/// | `1_Pooling/config.json` | `pooling(_:)` | the ``Pooling`` mode |
/// | `tokenizer.json`, or `vocab.txt` with `tokenizer_config.json` and `special_tokens_map.json` | `tokenizerConfiguration()` | the tokenizer's settings |
///
/// All are optional but the encoder's `config.json` and, for a tokenizer, `tokenizer.json` or
/// `vocab.txt`. JSON is read with WeightsCore's `JSONScanner` (through `JSONField`), and
/// errors are `WeightsError`s that name the file and the key.
///
/// ```swift
/// ModelDirectory.default                                   // where scripts/setup installs the model
/// // In the module: one directory, each of its files read once.
/// let directory = try ModelDirectory(path: ModelDirectory.default)
/// let model = try EmbeddingModel(directory)               // modules, config.json, pooling
/// let tokenizer = try WordPieceTokenizer(directory)       // tokenizer.json
/// ```
public struct ModelDirectory: Sendable {
    /// The model `weights embed` uses when given none.
    public static let defaultModelName = "all-MiniLM-L6-v2"

    /// `$WEIGHTS_MODEL_DIR` when set, else `${WEIGHTS_MODELS:-$HOME/.cache/weights/models}/all-MiniLM-L6-v2`:
    /// where `scripts/setup` installs the default model.
    public static var `default`: String {
        if let directory = environment("WEIGHTS_MODEL_DIR") { return directory }
        return modelsRoot + "/" + defaultModelName
    }

    /// `${WEIGHTS_MODELS:-$HOME/.cache/weights/models}`: where `scripts/setup` installs the
    /// default models, each in a directory of its own.
    static var modelsRoot: String {
        environment("WEIGHTS_MODELS") ?? ((environment("HOME") ?? ".") + "/.cache/weights/models")
    }

    /// The modules of the pipeline (`modules.json`).
    struct Modules: Sendable {
        /// The directory of the encoder's `config.json` and weights: the model directory, or
        /// a subdirectory of it in older models (`0_Transformer`).
        var encoderPath: String
        /// The `Pooling` module's directory; nil without one (then pooling is by the mean).
        var poolingPath: String?
        /// Whether a `Normalize` module follows the pooling.
        var normalizes: Bool
    }

    /// The directory.
    let path: String
    /// `max_seq_length` of `sentence_bert_config.json`: the most tokens a sequence may have,
    /// special tokens included; nil without the file or the key. Any whole number: each
    /// component checks it for what it needs.
    let maximumSequenceLength: Int?

    /// The path of `sentence_bert_config.json`, for errors about ``maximumSequenceLength``.
    var sentenceConfigurationPath: String { path + "/sentence_bert_config.json" }

    /// Reads `sentence_bert_config.json`, which both the model and the tokenizer use.
    ///
    /// - Throws: `invalidArgument` naming the file when it is not JSON, not an object, or its
    ///   `max_seq_length` is not a whole number.
    init(path: String) throws {
        self.path = path
        guard let file = try JSONField.contents(ifPresentAt: path + "/sentence_bert_config.json") else {
            maximumSequenceLength = nil
            return
        }
        let field = try file.asObject()["max_seq_length"]
        if let length = try field.double() {
            guard let whole = Int(exactly: length) else {
                throw field.invalid("max_seq_length \(length) is not a whole number")
            }
            maximumSequenceLength = whole
        } else {
            maximumSequenceLength = nil
        }
    }

    // MARK: The components' settings

    /// The modules listed in `modules.json`; without the file, a plain BERT checkpoint's:
    /// the encoder in the directory itself, mean pooling, no normalization.
    ///
    /// - Throws: `unsupportedFormat` naming the file for a module other than Transformer,
    ///   Pooling and Normalize; `invalidArgument` for a malformed file.
    func modules() throws -> Modules {
        var modules = Modules(encoderPath: path, poolingPath: nil, normalizes: false)
        guard let file = try JSONField.contents(ifPresentAt: path + "/modules.json") else { return modules }
        guard let entries = try file.array() else { throw file.mismatch("an array") }
        for entry in entries {
            let type = try entry["type"].requiredString()
            let directory = try entry["path"].requiredString()
            switch type.split(separator: ".").last {
            case "Transformer": modules.encoderPath = directory.isEmpty ? path : path + "/" + directory
            case "Pooling": modules.poolingPath = path + "/" + directory
            case "Normalize": modules.normalizes = true
            default:
                throw WeightsError(.unsupportedFormat,
                    "module '\(type)' is not supported (Transformer, Pooling, Normalize)", file: file.file)
            }
        }
        return modules
    }

    /// The encoder's shape, from the `config.json` in `modules`' encoder directory.
    ///
    /// - Throws: the errors of ``BertConfiguration/init(contentsOf:)``.
    func encoderConfiguration(_ modules: Modules) throws -> BertConfiguration {
        try BertConfiguration(contentsOf: modules.encoderPath + "/config.json")
    }

    /// The pooling mode, from the `config.json` in `modules`' pooling directory; the mean
    /// without a pooling module.
    ///
    /// - Throws: the errors of ``Pooling/init(_:)``.
    func pooling(_ modules: Modules) throws -> Pooling {
        guard let directory = modules.poolingPath else { return .mean }
        return try Pooling(JSONField(contentsOf: directory + "/config.json"))
    }

    /// The tokenizer's settings: from `tokenizer.json`, or, when there is none, from
    /// `vocab.txt`, lowercased as `do_lower_case` of `tokenizer_config.json` says (true when
    /// absent), with the special tokens `special_tokens_map.json` names (BERT's when absent).
    ///
    /// - Throws: the errors of ``TokenizerConfiguration``; `io` naming `tokenizer.json` when
    ///   neither tokenizer file exists.
    func tokenizerConfiguration() throws -> TokenizerConfiguration {
        let tokenizerJSON = path + "/tokenizer.json"
        let vocabularyText = path + "/vocab.txt"
        if Self.fileExists(tokenizerJSON) || !Self.fileExists(vocabularyText) {
            return try TokenizerConfiguration(tokenizerJSON: tokenizerJSON)
        }
        let settings = try JSONField.contents(ifPresentAt: path + "/tokenizer_config.json")?.asObject()
        let lowercase = try settings?["do_lower_case"].bool() ?? true
        let names = try JSONField.contents(ifPresentAt: path + "/special_tokens_map.json")
            .map(TokenizerConfiguration.SpecialTokens.init) ?? TokenizerConfiguration.SpecialTokens()
        return try TokenizerConfiguration(vocabularyText: vocabularyText, lowercase: lowercase, specialTokens: names)
    }

    // MARK: Files

    /// Whether a file or directory exists at `path`.
    static func fileExists(_ path: String) -> Bool {
        var status = stat()
        return unsafe stat(path, &status) == 0  // Sound: `path` is a C string and `status` a whole stat for the call.
    }

    /// Whether a directory exists at `path`.
    static func directoryExists(_ path: String) -> Bool {
        var status = stat()
        // Sound: as in `fileExists`.
        return unsafe stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    private static func environment(_ name: String) -> String? {
        // Sound: getenv gives NULL or a NUL-terminated string, copied at once; the package never calls setenv.
        guard let value = unsafe getenv(name), unsafe value.pointee != 0 else { return nil }
        return unsafe String(cString: value)
    }
}
