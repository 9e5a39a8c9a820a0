// The umbrella module: `import Weights` brings in every library module of the package but the
// engine, so code written against the single module of earlier versions keeps compiling.
// A package that needs only the formats depends on the `WeightsCore` product instead and
// pulls in neither libzstd nor swift-crypto.
@_exported import WeightsCore
@_exported import WeightsIntegrity
@_exported import WeightsCompression

extension Checkpoint {
    /// Every format of the package beyond the core's: pass it to `Checkpoint/open(_:formats:)`
    /// to open any file the `weights` command opens.
    public static var allFormats: [any CheckpointFormat.Type] { [CompressedFile.self] }
}
