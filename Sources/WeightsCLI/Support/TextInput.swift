import Weights
import WeightsEngine

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
