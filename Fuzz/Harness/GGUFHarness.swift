import Weights
import WeightsEngine

extension FuzzHarness {
    // MARK: gguf

    /// The most elements a harness dequantizes per tensor: an input declares a shape of any size
    /// that its bytes back, and the fuzzer gives each input a time limit.
    static let ggufElementBudget = 1 << 20

    /// A GGUF file from memory: the header, every metadata value and array element, the tensor
    /// placement promises (aligned, in bounds, in order), every tensor dequantized and read as a
    /// `Tensor` through ``GGUFTensorSource``, then the tokenizer and the decoder built from the
    /// metadata as `weights generate` builds them, a short text tokenized and decoded, and, for a
    /// model small enough, two positions run through the forward pass.
    static func gguf(_ input: UnsafeRawBufferPointer) throws {
        let path = "fuzz.gguf"
        let file = try rejecting("open") { unsafe try GGUFFile(bytes: input, path: path) }
        try expect(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0,
                   "alignment \(file.alignment) is not a power of two")
        // A file without tensors may end before its (padded) data section begins.
        try expect(file.dataOffset % file.alignment == 0 && (file.dataOffset <= file.fileSize || file.tensors.isEmpty),
                   "the data section begins at \(file.dataOffset), in a file of \(file.fileSize)")

        for (key, value) in file.metadata {
            _ = value.description
            if let array = value.array { _ = try attempt("read array '\(key)'") { try walk(array) } }
        }

        var names = Set<String>()
        for info in file.tensors {
            try expect(names.insert(info.name).inserted, "tensor '\(info.name)' is listed twice")
            try expect(info.offset % file.alignment == 0, "tensor '\(info.name)' is not aligned")
            try expect(info.offset + info.byteCount <= file.fileSize - file.dataOffset,
                       "tensor '\(info.name)' runs past the end of the file")
            try expect(file.tensorInfo(named: info.name) == info, "lookup of '\(info.name)' finds another entry")
            let tensor = file.tensor(info)
            try expect(tensor.byteCount == info.byteCount, "tensor '\(info.name)' has \(tensor.byteCount) bytes")
            guard info.type.canDequantize, info.elementCount <= ggufElementBudget else { continue }
            if let values = try attempt("dequantize '\(info.name)'", { try tensor.dequantized() }) {
                try expect(values.count == info.elementCount,
                           "tensor '\(info.name)' dequantizes to \(values.count) values, not \(info.elementCount)")
            }
        }

        let source = GGUFTensorSource(file)
        for info in source.tensors where info.byteCount <= 4 * ggufElementBudget {
            guard let tensor = try attempt("tensor '\(info.name)'", { try source.tensor(named: info.name) }) else { continue }
            try expect(tensor.dtype == info.dtype && tensor.shape == info.shape,
                       "tensor '\(info.name)' reads as \(tensor.dtype) \(tensor.shape), listed \(info.dtype) \(info.shape)")
            // Floats of a floating tensor; an integer one refuses, naming the file like any error.
            _ = try attempt("floats of '\(info.name)'") { try WeightsError.tagging(file: path) { try tensor.floats() } }
        }

        if let tokenizer = try attempt("tokenizer", { try SentencePieceTokenizer(gguf: file) }) {
            let ids = tokenizer.encode("Hello <start_of_turn>wörld  🙂\n", addSpecial: true)
            try expect(ids.allSatisfy { $0 >= 0 && $0 < tokenizer.vocabulary.count },
                       "the tokenizer gives ids outside its vocabulary of \(tokenizer.vocabulary.count)")
            _ = tokenizer.decode(ids, special: true)
        }

        guard let decoder = try attempt("decoder", { try TransformerDecoder(gguf: file, threads: 1) }) else { return }
        let configuration = decoder.configuration
        guard configuration.vocabularySize * configuration.hiddenSize <= ggufElementBudget,
              configuration.layerCount <= 8 else { return }
        var cache = decoder.makeCache(capacity: 4)
        for position in 0..<2 {
            guard let logits = try attempt("forward at \(position)", {
                try WeightsError.tagging(file: path) { try decoder.forward(position % configuration.vocabularySize, cache: &cache) }
            }) else { return }
            try expect(logits.count == configuration.vocabularySize,
                       "the forward pass gives \(logits.count) logits for a vocabulary of \(configuration.vocabularySize)")
        }
    }

    /// Every element of `array`, nested arrays included.
    private static func walk(_ array: GGUFArray) throws {
        try array.forEach { element in
            if let nested = element.array { try walk(nested) }
        }
    }
}
