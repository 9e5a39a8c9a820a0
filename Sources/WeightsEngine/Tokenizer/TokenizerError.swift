import Foundation

/// Why a ``WordPieceTokenizer`` could not be built.
///
/// Every case names the file it is about, so a message such as
/// `tokenizer.json: the vocabulary has no entry for "[UNK]"` can be shown to
/// the user as is (``description`` formats it that way).
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound(URL)
    /// The file exists but could not be read (permissions, I/O error, not UTF-8).
    case unreadable(URL, reason: String)
    /// The file is not valid JSON, or its JSON does not have the expected shape.
    case invalidJSON(URL, reason: String)
    /// The file is valid but asks for something this tokenizer does not implement,
    /// for example a `BPE` model or a `Metaspace` pre-tokenizer.
    case unsupported(URL, feature: String)
    /// A token the tokenizer cannot work without (the unknown token, or a
    /// special token of the post-processor template) is not in the vocabulary.
    case missingToken(URL, token: String)
    /// The vocabulary is empty or has an unusable entry (a negative id, an empty token).
    case invalidVocabulary(URL, reason: String)

    /// The file the error is about.
    public var file: URL {
        switch self {
        case .fileNotFound(let url), .unreadable(let url, _), .invalidJSON(let url, _),
             .unsupported(let url, _), .missingToken(let url, _), .invalidVocabulary(let url, _):
            return url
        }
    }

    public var description: String {
        let path = file.path
        switch self {
        case .fileNotFound:
            return "\(path): no such file"
        case .unreadable(_, let reason):
            return "\(path): cannot read the file: \(reason)"
        case .invalidJSON(_, let reason):
            return "\(path): not a valid tokenizer file: \(reason)"
        case .unsupported(_, let feature):
            return "\(path): unsupported tokenizer configuration: \(feature)"
        case .missingToken(_, let token):
            return "\(path): the vocabulary has no entry for \"\(token)\""
        case .invalidVocabulary(_, let reason):
            return "\(path): invalid vocabulary: \(reason)"
        }
    }
}
