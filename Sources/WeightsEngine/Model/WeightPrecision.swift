/// The number format an encoder keeps its weight matrices in. Arithmetic is always `Float`.
///
/// - `f32`: as in the file when it is F32, mapped and not copied.
/// - `f16`: each weight rounded to the nearest `Float16` (ties to even), as
///   `weights convert --dtype f16` writes it.
/// - `int8`: per-row symmetric 8-bit, as `weights convert --dtype int8` writes it: each row
///   holds `round(x / scale)` with `scale = max|row| / 127`.
public enum WeightPrecision: String, Sendable, Hashable, CaseIterable {
    case f32, f16, int8
}
