import ArgumentParser
import Weights
import WeightsEngine

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Rank texts by meaning: most similar to QUERY first.",
        discussion: """
            Embeds QUERY and each TEXT (with no TEXT, each line of standard input) and prints \
            "<cosine similarity>  <text>", highest first.
            """
    )

    @OptionGroup var model: ModelOptions

    @Option(help: "Print only the best N.")
    var top: Int?

    @Argument(help: "The text to compare the others with.")
    var query: String

    @Argument(help: "Texts to rank (default: one per line of standard input).")
    var texts: [String] = []

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let embedder = try model.load()
        let candidates = Array(TextInput(arguments: texts).batches(of: 1024).joined())
        let ranked = try embedder.rank(query, among: candidates)
        for (index, similarity) in ranked.prefix(top ?? ranked.count) {
            print("\(formatted(similarity))  \(candidates[index])")
        }
    }

    /// The similarity with four decimals, without Foundation's formatter.
    private func formatted(_ value: Float) -> String {
        let scaled = Int((Double(value) * 10_000).rounded())
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        let fraction = String(magnitude % 10_000)
        return "\(sign)\(magnitude / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }
}
