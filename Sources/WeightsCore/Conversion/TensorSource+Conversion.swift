extension TensorSource {
    /// The source with every floating tensor converted to `target`, as a source of its own
    /// that converts each tensor as a writer streams it (see ``TensorConverter``).
    ///
    /// ```swift
    /// let half = try Checkpoint.open("model.safetensors").converted(to: .float(.f16))
    /// try half.write(to: "model-f16.safetensors")
    /// print(half.report.overflowCount)
    /// ```
    ///
    /// - Parameters:
    ///   - target: The precision or scheme every floating tensor is converted to.
    ///   - measuringAccuracy: also compare every converted value with its source, for
    ///     the ``ConvertedTensorSource/report``.
    /// - Throws: the planning errors of ``TensorConverter/init(source:target:)``.
    public func converted(to target: ConversionTarget, measuringAccuracy: Bool = false) throws -> ConvertedTensorSource {
        try TensorConverter(source: self, target: target).convertedSource(measuringAccuracy: measuringAccuracy)
    }
}
