import ArgumentParser
import Weights
import WeightsEngine

import WeightsPlatform

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a language model from its GGUF file.",
        discussion: """
            The prompt is PROMPT, or all of standard input. Text is printed as it is generated. \
            Special tokens written in the prompt (<start_of_turn>, …) are read as themselves. \
            The default model is the one scripts/setup installs \
            (${WEIGHTS_MODELS:-~/.cache/weights/models}/gemma-3-270m/gemma-3-270m-Q4_K_M.gguf). \
            With --temperature 0 the most likely token is taken at every step. --json prints one \
            object: prompt_tokens, tokens, text, timings (prompt_tokens_per_second, \
            generated_tokens_per_second, first_token_seconds from the start of the process) \
            and, with --top-logits K, top_logits: the K largest logits after the prompt as \
            [[id, value], …]. --logits-out FILE writes every logit after the prompt as \
            little-endian float32.
            """
    )

    @Option(help: "The GGUF file.") var model: String?
    @Argument(help: "The prompt (default: standard input).") var prompt: String?
    @Option(help: "Tokens to generate at most.") var maxTokens = 64
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(help: "Draw among this many most likely tokens (0: all).") var topK = 40
    @Option(help: "Draw among the most likely tokens whose probabilities reach this.") var topP: Float = 0.95
    @Option(help: "Seed of the draws (default: a new one each run).") var seed: UInt64?
    @Option(help: "Cores to use (default: all).") var threads: Int?
    @Flag(help: "Keep going past the end-of-sequence token.") var ignoreEos = false
    @Flag(help: "binary32 activations (weights widened in registers) instead of 8-bit ones: slower, closer to a float32 run.")
    var exact = false
    @Flag(help: "Print one JSON object instead of streaming text.") var json = false
    @Option(help: "With --json: include the K largest logits after the prompt.") var topLogits: Int?
    @Option(help: "Write every logit after the prompt to FILE (little-endian float32).") var logitsOut: String?
    @Flag(help: "Print timings on standard error.") var verbose = false

    func validate() throws {
        if maxTokens < 0 { throw ValidationError("--max-tokens must be 0 or more") }
        if temperature < 0 || !temperature.isFinite { throw ValidationError("--temperature must be 0 or more") }
        if topK < 0 { throw ValidationError("--top-k must be 0 or more") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let topLogits, topLogits < 1 { throw ValidationError("--top-logits must be at least 1") }
        if topLogits != nil, !json { throw ValidationError("--top-logits needs --json") }
    }

    func run() throws {
        let started = ContinuousClock.now
        let path = model ?? LanguageModel.defaultPath
        let languageModel = try WeightsError.tagging(file: path) {
            try LanguageModel(path: path, threads: threads, arithmetic: exact ? .exact : .quantizedActivations)
        }
        let text = prompt ?? Self.standardInput()
        let options = LanguageModel.Options(maximumTokens: maxTokens, temperature: temperature, topK: topK, topP: topP,
                                            seed: seed ?? UInt64.random(in: 0...UInt64.max), ignoreEndOfSequence: ignoreEos)
        var firstToken: Duration?
        let result = try languageModel.generate(text, options: options) { piece in
            if firstToken == nil { firstToken = ContinuousClock.now - started }
            if !json {
                print(piece.text, terminator: "")
                fflush(nil)  // all streams: print goes through stdout's buffer
            }
            return true
        }
        if let logitsOut { try Self.writeLogits(result.promptLogits, to: logitsOut) }
        let promptRate = Double(result.promptTokens.count) / max(result.promptSeconds, 1e-9)
        let generationRate = Double(result.tokens.count) / max(result.generationSeconds, 1e-9)
        let first = (firstToken ?? (ContinuousClock.now - started)).seconds
        if json {
            var members: [(String, JSONValue)] = [
                ("prompt_tokens", .array(result.promptTokens.map(JSONValue.int))),
                ("tokens", .array(result.tokens.map(JSONValue.int))),
                ("text", .string(result.text)),
                ("timings", .object([
                    ("prompt_tokens_per_second", .double(promptRate)),
                    ("generated_tokens_per_second", .double(generationRate)),
                    ("first_token_seconds", .double(first)),
                ])),
            ]
            if let topLogits {
                let logits = result.promptLogits
                let top = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(topLogits)
                members.append(("top_logits", .array(top.map { .array([.int($0), .float(logits[$0])]) })))
            }
            print(JSONValue.object(members).serialized())
        } else {
            print()
        }
        if verbose {
            Terminal.printError("prompt: \(result.promptTokens.count) tokens, \(Self.rate(promptRate)) tokens/s; "
                + "generated: \(result.tokens.count) tokens, \(Self.rate(generationRate)) tokens/s; "
                + "first token after \(formatSeconds(first)); kernels: \(LanguageModel.kernels)")
        }
    }

    private static func rate(_ value: Double) -> String { String((value * 10).rounded() / 10) }

    static func standardInput() -> String {
        var lines: [String] = []
        while let line = readLine(strippingNewline: false) { lines.append(line) }
        return lines.joined()
    }

    static func writeLogits(_ logits: [Float], to path: String) throws {
        let file = try AtomicFile(path: path)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(logits.count * 4)
        for value in logits { unsafe withUnsafeBytes(of: value.bitPattern.littleEndian) { unsafe bytes.append(contentsOf: $0) } }  // Sound: copied inside the closure.
        try file.write(bytes)
        try file.commit()
    }
}
