import Weights

extension WeightMatrix {
    /// Quantizes `tensor` with the precision issue's per-row scheme.
    static func quantize(_ tensor: Tensor) throws -> (values: Tensor, scales: Tensor) {
        throw WeightsError(.unsupportedFormat, "INT8 is not available yet", tensor: tensor.name)
    }

    static func checkQuantizedPair(values: TensorInfo, scales: TensorInfo) throws {
        throw WeightsError(.unsupportedFormat, "INT8 is not available yet", tensor: values.name)
    }
}
