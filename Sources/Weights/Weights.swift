// The umbrella module: `import Weights` brings in every library module of the package but the
// engine, so code written against the single module of earlier versions keeps compiling.
// A package that needs only the formats depends on the `WeightsCore` product instead and
// pulls in neither libzstd nor swift-crypto.
@_exported import WeightsCore
@_exported import WeightsIntegrity
@_exported import WeightsCompression
