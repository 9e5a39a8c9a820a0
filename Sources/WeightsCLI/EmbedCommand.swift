import ArgumentParser
import Weights
import WeightsEngine

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print sentence embeddings, one vector per text.",
        discussion: """
            Each TEXT is one input; with no TEXT, each line of standard input is one. Vectors \
            come out in input order: one line of space-separated numbers per input, or with \
            --json a JSON array holding one array of numbers per input. The default model is \
            the one scripts/setup installs ($WEIGHTS_MODEL_DIR, else \
            ${WEIGHTS_MODELS:-~/.cache/weights/models}/all-MiniLM-L6-v2).
            """
    )

    @OptionGroup var model: ModelOptions

    @Flag(help: "Print a JSON array of arrays instead of one line per vector.")
    var json = false

    @Argument(help: "Texts to embed (default: one per line of standard input).")
    var texts: [String] = []

    func run() throws {
        let embedder = try model.load()
        var output = VectorPrinter(json: json)
        for batch in TextInput(arguments: texts).batches(of: 64) {
            for vector in try embedder.embed(batch) { output.print(vector) }
        }
        output.finish()
    }
}

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "The model directory (sentence-transformers layout).")
    var model: String?

    @Option(help: "Convert the weights as they load: f32, f16 or int8, as `weights convert --dtype` writes them. A file already in F16 or INT8 runs as it is.",
            transform: { text in
                guard let precision = WeightPrecision(rawValue: text.lowercased()) else {
                    throw ValidationError("unknown dtype '\(text)': expected f32, f16 or int8")
                }
                return precision
            })
    var dtype: WeightPrecision?

    @Option(help: "Cores to use (default: all).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Loads the model.
    func load() throws -> SentenceEmbedder {
        try SentenceEmbedder(modelDirectory: model ?? ModelDirectory.default, precision: dtype, threads: threads)
    }
}

/// Texts from the arguments, or one per line of standard input.
struct TextInput {
    let arguments: [String]

    /// The texts in groups of at most `size`, read lazily so that standard input streams.
    func batches(of size: Int) -> AnySequence<[String]> {
        if !arguments.isEmpty {
            return AnySequence(stride(from: 0, to: arguments.count, by: size).lazy.map {
                Array(arguments[$0..<min($0 + size, arguments.count)])
            })
        }
        return AnySequence {
            AnyIterator {
                var batch: [String] = []
                while batch.count < size, let line = readLine(strippingNewline: true) { batch.append(line) }
                return batch.isEmpty ? nil : batch
            }
        }
    }
}

/// Prints vectors as lines of numbers, or as one JSON array, as they come.
struct VectorPrinter {
    let json: Bool
    private var count = 0

    init(json: Bool) { self.json = json }

    mutating func print(_ vector: [Float]) {
        let numbers = vector.map { "\($0)" }
        if json {
            Swift.print(count == 0 ? "[" : ",", terminator: "")
            Swift.print("[" + numbers.joined(separator: ",") + "]", terminator: "\n")
        } else {
            Swift.print(numbers.joined(separator: " "))
        }
        count += 1
    }

    func finish() {
        if json { Swift.print(count == 0 ? "[]" : "]") }
    }
}
