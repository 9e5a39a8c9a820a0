import WeightsCore

/// Facts about the processor.
package enum Processor {
    /// The cores online, at least 1 (the count the `Weights` module uses too).
    package static var availableCores: Int { ParallelChunks.availableCores }
}
