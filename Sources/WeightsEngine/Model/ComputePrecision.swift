/// The arithmetic an encoder's linear layers run in.
///
/// - `f32`: `Float` products, whatever format the weights are kept in (``WeightPrecision``):
///   INT8 weights are widened as they are read ("weight-only" INT8).
/// - `int8`: integer products (Spec/int8-compute.md). The linear layers' weights are INT8
///   per row (a file's INT8 matrices as stored, float ones quantized at load as
///   ``WeightPrecision/int8`` does; the embedding tables, only looked up, keep the weight
///   precision asked for); each linear layer's input is quantized per token
///   to INT8 as it enters, the product accumulates INT8 × INT8 in INT32, and the two scales
///   and the bias are applied as the sums are written. Attention, LayerNorm, GELU and pooling
///   stay in `Float`. Embeddings stay within cosine 0.993 of sentence-transformers' on the
///   reference sentences (the test suite checks it).
public enum ComputePrecision: String, Sendable, Hashable, CaseIterable {
    case f32, int8
}
