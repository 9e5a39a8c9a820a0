/// A source that presents its tensors in another form than the one it stores them in, such as
/// a GGUF file, whose block formats read as F32 decoded when read.
///
/// Digests cover what a file holds, so tools that hash a source (`weights hash --tensors`,
/// `weights digest`, `weights verify --digest`) hash a conforming source's stored bytes and
/// name each tensor's stored type: a GGUF file and the safetensors file it dequantizes to then
/// have different digests, as their bytes differ, while its plain tensors (F32, F16, …) keep
/// the digests their bytes would have in a safetensors file.
///
/// ```swift
/// let source = try Checkpoint.open("model.gguf") as! any StoredTensorSource
/// source.storedTypeNames[0]                                        // "Q8_0"
/// try source.withStoredBytes(ofTensorNamed: "token_embd.weight") { $0.count }   // 178,257,920
/// ```
public protocol StoredTensorSource: TensorSource {
    /// The stored type of each tensor, in ``TensorSource/tensors`` order: the dtype code for a
    /// tensor stored as presented, else the format's own name (GGUF's `Q4_K`, say).
    var storedTypeNames: [String] { get }

    /// Calls `body` with the bytes the file stores for the tensor named `name`, valid only
    /// during the call.
    ///
    /// - Throws: `tensorNotFound`, and whatever `body` throws.
    func withStoredBytes<R>(ofTensorNamed name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}
