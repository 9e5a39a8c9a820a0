/// The kind of file a compressed container holds, and gives back byte for byte.
public enum CompressedSourceFormat: UInt8, Sendable, Hashable {
    /// A safetensors file (format versions 1 and 2).
    case safetensors = 0
    /// A GGUF file (format version 2): its header and metadata are kept verbatim, and each
    /// tensor's blocks with the padding that follows them.
    case gguf = 1
}
