import WeightsCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where models live on this machine.
public enum ModelDirectory {
    /// The model `weights embed` uses when given none.
    public static let defaultModelName = "all-MiniLM-L6-v2"

    /// `$WEIGHTS_MODEL_DIR` when set, else `${WEIGHTS_MODELS:-$HOME/.cache/weights/models}/all-MiniLM-L6-v2`:
    /// where `scripts/setup` installs the default model.
    public static var `default`: String {
        if let directory = environment("WEIGHTS_MODEL_DIR") { return directory }
        let models = environment("WEIGHTS_MODELS") ?? ((environment("HOME") ?? ".") + "/.cache/weights/models")
        return models + "/" + defaultModelName
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }
}

/// Facts about the processor.
public enum Processor {
    /// The cores online, at least 1 (the count the `Weights` module uses too).
    public static var availableCores: Int { ParallelChunks.availableCores }
}
