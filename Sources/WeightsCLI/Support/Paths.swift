import Weights

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return path[..<slash].isEmpty ? "/" : String(path[..<slash])
}

/// Opens a checkpoint, making sure any error names the path the user gave.
func openSource(_ path: String) throws -> any TensorSource {
    try WeightsError.tagging(file: path) { try Checkpoint.open(path, formats: Checkpoint.allFormats) }
}
