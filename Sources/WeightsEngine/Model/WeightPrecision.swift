/// The number format an encoder keeps its weight matrices in. Arithmetic is always `Float`.
///
/// - `f32`: as in the file when it is F32, mapped and not copied.
/// - `f16`: each weight rounded to the nearest `Float16` (ties to even), as
///   `weights convert --dtype f16` writes it.
/// - `int8`: per-row symmetric 8-bit, as `weights convert --dtype int8` writes it: each row
///   holds `round(x / scale)` with `scale = max|row| / 127`. (A compressed-tensors 8-bit
///   `pack-quantized` checkpoint also runs as `int8`.)
/// - `int4`: compressed-tensors `pack-quantized` symmetric 4-bit with one scale per group of
///   a row, as `weights convert --dtype int4` writes it (group 128 when quantized at load);
///   the linear layers only: embedding tables keep their format. Meant for large models: on
///   all-MiniLM-L6-v2 it loses much (minimum cosine 0.922 to sentence-transformers in groups
///   of 128, 0.939 in groups of 32; FP8 0.9976; BENCHMARKS.md).
/// - `f8E4M3`: compressed-tensors `float-quantized` F8_E4M3 with one scale per row, as
///   `weights convert --dtype f8_e4m3` writes it; the linear layers only. FP8 checkpoints with
///   per-tensor or 128 × 128 block scales (DeepSeek-V3's layout) also run as `f8E4M3`.
///
/// INT4 and FP8 weights stay as stored and are widened, a block at a time, while the product
/// packs them (Spec/quantized-layouts.md).
public enum WeightPrecision: String, Sendable, Hashable, CaseIterable {
    case f32, f16, int8, int4
    case f8E4M3 = "f8_e4m3"
}
